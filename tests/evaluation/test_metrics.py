"""Metrics against small hand-computed cases, including the degenerate ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pregan.evaluation.metrics import (
    MetricInputError,
    affiliation,
    all_detection_metrics,
    best_threshold_f1,
    bootstrap_ci,
    classification_accuracy,
    detection_metrics,
    diagnosis_metrics,
    event_diagnosis,
    finite_mean,
    flatten_host_grid,
    hit_rate_at,
    label_runs,
    ndcg_at,
    pa_k_auc,
    pa_k_curve,
    point_adjust,
    point_adjusted_f1,
    range_auc,
    rank_dimensions,
    roc_auc,
    soft_labels,
    vus,
)


def test_point_wise_hand_case() -> None:
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    flags = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    # TP=1, FP=1, FN=4, TN=4
    m = detection_metrics(labels, flags)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.2)
    assert m["f1"] == pytest.approx(2 * 0.5 * 0.2 / 0.7)


def test_point_adjust_marks_whole_segment_only() -> None:
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    flags = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    adjusted = point_adjust(labels, flags)
    np.testing.assert_array_equal(adjusted, [0, 1, 1, 1, 0, 1, 0, 0, 0, 0])
    # TP=3, FP=1, FN=2 -> P=0.75, R=0.6
    assert point_adjusted_f1(labels, flags) == pytest.approx(2 * 0.75 * 0.6 / 1.35)


def test_no_positives_gives_zero_f1_and_no_auc() -> None:
    labels = np.zeros(5, dtype=bool)
    m = all_detection_metrics(labels, np.zeros(5, dtype=bool), scores=np.arange(5.0))
    assert m["accuracy"] == 1.0
    assert m["f1"] == 0.0 and m["f1_pa"] == 0.0
    assert m["roc_auc"] is None


def test_all_positives() -> None:
    labels = np.ones(4, dtype=bool)
    flags = np.array([1, 0, 0, 0], dtype=bool)
    m = all_detection_metrics(labels, flags, scores=np.arange(4.0))
    assert m["precision"] == 1.0 and m["recall"] == 0.25
    assert m["f1_pa"] == 1.0
    assert m["roc_auc"] is None


def test_best_threshold_f1_hand_case() -> None:
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.1, 0.5, 0.4, 0.4, 0.0, 0.2])
    m = best_threshold_f1(labels, scores)
    # point-wise: flags >= 0.4 give TP=3, FP=1, FN=2 -> 6/9; flags >= 0.2 give TP=5, FP=2 -> 10/12
    assert m["f1_best"] == pytest.approx(10 / 12)
    # adjusted: flags >= 0.4 detect both runs (TP=5) with FP=1 -> 10/11
    assert m["f1_pa_best"] == pytest.approx(10 / 11)
    assert best_threshold_f1(np.zeros(4, dtype=bool), np.arange(4.0))["f1_best"] is None


def test_best_threshold_f1_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(5, 60))
        labels = rng.random(n) < 0.3
        labels[0], labels[-1] = True, False  # both classes present
        scores = rng.integers(0, 8, n).astype(float)  # ties on purpose
        groups = np.repeat([0, 1], [n // 2, n - n // 2])  # runs never join across groups
        best = best_threshold_f1(labels, scores, groups)
        cuts = np.unique(scores)
        assert best["f1_best"] == pytest.approx(
            max(detection_metrics(labels, scores >= c)["f1"] for c in cuts)
        )
        assert best["f1_pa_best"] == pytest.approx(
            max(point_adjusted_f1(labels, scores >= c, groups) for c in cuts)
        )


def test_roc_auc_hand_case_and_nan() -> None:
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    with pytest.raises(MetricInputError, match="NaN"):
        roc_auc(labels, np.array([0.1, np.nan, 0.3, 0.4]))


def test_host_grid_runs_do_not_cross_hosts() -> None:
    # (T=3, H=2): host 0 faulty at t=2, host 1 faulty at t=0..1; only host 1 flagged at t=0.
    labels = np.array([[0, 1], [0, 1], [1, 0]])
    flags = np.array([[0, 1], [0, 0], [0, 0]])
    flat_l, groups = flatten_host_grid(labels)
    flat_f, _ = flatten_host_grid(flags)
    np.testing.assert_array_equal(flat_l, [0, 0, 1, 1, 1, 0])
    # without groups host 0's t=2 and host 1's t=0 would form one run
    np.testing.assert_array_equal(label_runs(flat_l, groups), [[2, 3], [3, 5]])
    np.testing.assert_array_equal(label_runs(flat_l), [[2, 5]])
    np.testing.assert_array_equal(point_adjust(flat_l, flat_f, groups), [0, 0, 0, 1, 1, 0])


def test_diagnosis_hand_case() -> None:
    scores = np.array([[0.9, 0.1, 0.5, 0.3]])
    truth = np.array([[1, 0, 0, 1]], dtype=bool)
    idcg2 = 1 + 1 / math.log2(3)
    assert hit_rate_at(scores, truth, 100) == pytest.approx(0.5)
    assert hit_rate_at(scores, truth, 150) == pytest.approx(1.0)
    assert ndcg_at(scores, truth, 100) == pytest.approx(1 / idcg2)
    assert ndcg_at(scores, truth, 150) == pytest.approx(1.5 / idcg2)


def test_diagnosis_ties_break_to_lower_index_and_skip_rows_without_cause() -> None:
    scores = np.full((3, 4), 0.5)
    truth = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(rank_dimensions(scores)[0], [0, 1, 2, 3])
    # row 0 misses (dim 0 ranks first), row 1 hits, row 2 has no cause and is skipped
    assert hit_rate_at(scores, truth, 100) == pytest.approx(0.5)
    assert hit_rate_at(scores, truth, 150) == pytest.approx(0.5)  # floor(1.5 * 1) = 1
    assert ndcg_at(scores, truth, 100) == pytest.approx(0.5)


def test_diagnosis_absent_without_root_causes_and_k_clipped() -> None:
    scores = np.array([[0.2, 0.1]])
    assert diagnosis_metrics(scores, np.zeros((1, 2), dtype=bool)) == {
        "hitrate@100": None,
        "ndcg@100": None,
        "hitrate@150": None,
        "ndcg@150": None,
    }
    full = np.ones((1, 2), dtype=bool)  # |G| = D: 150% asks for 3 dims of 2
    assert hit_rate_at(scores, full, 150) == 1.0
    assert ndcg_at(scores, full, 150) == pytest.approx(1.0)


def test_classification_accuracy_over_faulty_points_only() -> None:
    true = np.array([0, 1, 2, 2, 0])
    pred = np.array([3, 1, 2, 1, 0])
    assert classification_accuracy(true, pred) == pytest.approx(2 / 3)
    assert classification_accuracy(np.zeros(3), np.ones(3)) is None


def test_bad_inputs_raise_named_errors() -> None:
    with pytest.raises(MetricInputError, match="flags"):
        detection_metrics(np.zeros(3), np.zeros(4))
    with pytest.raises(MetricInputError, match="labels"):
        detection_metrics(np.array([0, 2, 1]), np.zeros(3))
    with pytest.raises(MetricInputError, match="dim_scores"):
        hit_rate_at(np.zeros(3), np.zeros(3))


def test_finite_mean_skips_absent() -> None:
    assert finite_mean([1.0, None, 3.0]) == 2.0
    assert finite_mean([None]) is None


def test_flatten_host_grids_keeps_episodes_and_hosts_apart() -> None:
    from pregan.evaluation import metrics as M

    # Two 2-interval episodes of 2 hosts; host 1 of episode 0 and host 0 of episode 1 are
    # faulty at the seam: as separate groups they are two runs, never one.
    a = np.array([[0, 0], [0, 1]], dtype=bool)
    b = np.array([[1, 0], [0, 0]], dtype=bool)
    flat, groups = M.flatten_host_grids([a, b])
    assert flat.tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    assert groups.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert len(M.label_runs(flat, groups)) == 2


# --- range-aware metrics, each on a case computed by hand --------------------------------------


def test_soft_labels_buffer_by_hand() -> None:
    lab = np.zeros(10, dtype=bool)
    lab[4:6] = True
    # buffer 4, half 2: rows 2, 3 before (distance 2, 1), row 6 after the last row 5 (distance 1)
    expected = [0, 0, np.sqrt(0.5), np.sqrt(0.75), 1, 1, np.sqrt(0.75), 0, 0, 0]
    np.testing.assert_allclose(soft_labels(lab, 4), expected)
    np.testing.assert_array_equal(soft_labels(lab, 1), lab.astype(float))  # half 0: no buffer


def test_range_auc_buffer_0_is_plain_roc_and_pr_by_hand() -> None:
    lab = np.array([0, 1, 1, 0], dtype=bool)
    sc = np.array([0.1, 0.9, 0.3, 0.5])
    # ranks: rows 1, 3, 2, 0. (FPR, TPR): (0, .5), (.5, .5), (.5, 1), (1, 1); precision
    # 1, 1/2, 2/3, 1/2 -> ROC 0.75 (3 of 4 pairs ordered), PR .5 x 1 + .5 x 2/3
    roc, pr = range_auc(lab, sc, buffer=0, n_thresholds=4)
    assert roc == pytest.approx(0.75)
    assert pr == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_vus_averages_the_buffer_sweep_by_hand() -> None:
    lab = np.array([0, 1, 1, 0], dtype=bool)
    sc = np.array([0.1, 0.9, 0.3, 0.5])
    # buffer 2 (half 1): w = [sqrt(.5), 1, 1, 0], P' = (2 + 2 + sqrt(.5)) / 2, N - P' = 4 - P'
    w0 = np.sqrt(0.5)
    p_new = (4 + w0) / 2
    neg = 4 - p_new
    # k = 1, 2, 3, 4 rows flagged (rows 1, 3, 2, 0): TP = 1, 1, 2, 2 + w0; recall capped at 1
    tpr = [1 / p_new, 1 / p_new, 2 / p_new, 1.0]
    fpr = [0.0, 1 / neg, 1 / neg, (4 - (2 + w0)) / neg]
    prec = [1.0, 0.5, 2 / 3, (2 + w0) / 4]
    xs, ys = [0.0, *fpr, 1.0], [0.0, *tpr, 1.0]
    roc2 = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(5))
    steps = [0.0, *tpr]
    pr2 = sum((steps[i + 1] - steps[i]) * prec[i] for i in range(4))
    assert range_auc(lab, sc, 2, 4) == pytest.approx((roc2, pr2))
    assert roc2 == pytest.approx(0.63734, abs=1e-4) and pr2 == pytest.approx(0.80982, abs=1e-4)
    # buffers 0 and 1 both give (0.75, 0.8333); the volume is the mean of the three
    out = vus(lab, sc, max_buffer=2, n_thresholds=4)
    assert out["vus_roc"] == pytest.approx((0.75 + 0.75 + roc2) / 3)
    assert out["vus_pr"] == pytest.approx((2 * (0.5 + 1 / 3) + pr2) / 3)


def test_vus_perfect_score_random_score_and_undefined() -> None:
    lab = np.zeros(2000, dtype=bool)
    lab[500:560] = lab[1500:1520] = True
    perfect = vus(lab, lab.astype(float), max_buffer=0)
    assert perfect == {"vus_roc": pytest.approx(1.0), "vus_pr": pytest.approx(1.0)}
    noise = vus(lab, np.random.default_rng(0).random(2000), max_buffer=0)
    assert noise["vus_pr"] < 0.15 and 0.35 < noise["vus_roc"] < 0.65  # labelled share is 4 %
    assert vus(np.zeros(5, dtype=bool), np.arange(5.0)) == {"vus_roc": None, "vus_pr": None}


def test_affiliation_single_event_by_hand() -> None:
    lab = np.zeros(20, dtype=bool)
    lab[5:8] = True
    assert affiliation(lab, lab) == {
        "affiliation_precision": 1.0,
        "affiliation_recall": 1.0,
        "affiliation_f1": 1.0,
    }
    flags = np.zeros(20, dtype=bool)
    flags[9] = True
    # zone = all 20 rows. Precision: row 9 is 2 rows from the event; 5 rows (4..8) are nearer
    # -> 1 - 5/20. Recall: rows 5, 6, 7 are 4, 3, 2 from the flag; 7, 5, 3 zone rows nearer.
    out = affiliation(lab, flags)
    assert out["affiliation_precision"] == pytest.approx(0.75)
    assert out["affiliation_recall"] == pytest.approx(np.mean([13 / 20, 15 / 20, 17 / 20]))
    assert out["affiliation_f1"] == pytest.approx(0.75)


def test_affiliation_zones_split_at_the_midpoint_by_hand() -> None:
    lab = np.zeros(10, dtype=bool)
    lab[1] = lab[7] = True  # zones [0, 5) (row 4 ties, goes to the earlier) and [5, 10)
    flags = np.zeros(10, dtype=bool)
    flags[2] = True
    out = affiliation(lab, flags)
    # zone 0: the flag is 1 row away, 1 of 5 rows is nearer -> precision .8, recall .8;
    # zone 1 has no flag: recall 0, no precision term.
    assert out["affiliation_precision"] == pytest.approx(0.8)
    assert out["affiliation_recall"] == pytest.approx(0.4)
    assert out["affiliation_f1"] == pytest.approx(2 * 0.8 * 0.4 / 1.2)
    none = affiliation(lab, np.zeros(10, dtype=bool))
    assert none["affiliation_precision"] is None and none["affiliation_recall"] == 0.0


def test_pa_k_curve_and_area_by_hand() -> None:
    lab = np.zeros(20, dtype=bool)
    lab[0:10] = True
    flags = np.zeros(20, dtype=bool)
    flags[[0, 1, 2, 15]] = True  # 30 % of the run, one false alarm
    curve = pa_k_curve(lab, flags)
    adjusted, pointwise = 20 / 21, 6 / 14  # 2TP / (2TP + FP + FN): 10/1/0 and 3/1/7
    for k in (0, 10, 20):
        assert curve[k] == pytest.approx(adjusted)
    for k in range(30, 101, 10):
        assert curve[k] == pytest.approx(pointwise)  # 30 % is not more than 30 %
    assert curve[0] == pytest.approx(point_adjusted_f1(lab, flags))
    assert curve[100] == pytest.approx(detection_metrics(lab, flags)["f1"])
    area = (2 * adjusted + (adjusted + pointwise) / 2 + 7 * pointwise) * 10 / 100
    assert pa_k_auc(curve) == pytest.approx(area)
    with pytest.raises(MetricInputError, match="K from 0 to 100"):
        pa_k_auc({0: 1.0, 50: 0.5})


def test_event_diagnosis_counts_each_segment_once_by_hand() -> None:
    lab = np.array([1, 1, 1, 0, 1], dtype=bool)
    truth = np.zeros((5, 3), dtype=bool)
    truth[0:3, 1] = True
    truth[4, 2] = True
    sc = np.array([[0, 1, 0], [0, 1, 0], [5, 0, 0], [0, 0, 0], [0, 0, 1]], dtype=float)
    # run A's mean scores [5/3, 2/3, 0] rank dim 0 first: a miss; run B ranks dim 2 first: a hit
    out = event_diagnosis(sc, truth, lab, percents=(100,))
    assert out["hitrate_event@100"] == pytest.approx(0.5)
    assert out["ndcg_event@100"] == pytest.approx(0.5)
    # per timestamp the long run counts three times: rows 0, 1 and 4 hit, row 2 misses
    assert hit_rate_at(sc, truth, 100) == pytest.approx(0.75)


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    assert bootstrap_ci([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3, 0.3))
    mean, lo, hi = bootstrap_ci([0.1, 0.5, 0.9, None])
    assert mean == pytest.approx(0.5) and 0.1 <= lo < 0.5 < hi <= 0.9
    assert bootstrap_ci([0.1, 0.5, 0.9]) == bootstrap_ci([0.1, 0.5, 0.9])
    assert bootstrap_ci([None]) == (None, None, None)
