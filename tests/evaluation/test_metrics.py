"""Metrics against small hand-computed cases, including the degenerate ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pregan.evaluation.metrics import (
    MetricInputError,
    all_detection_metrics,
    best_threshold_f1,
    classification_accuracy,
    detection_metrics,
    diagnosis_metrics,
    finite_mean,
    flatten_host_grid,
    hit_rate_at,
    label_runs,
    ndcg_at,
    point_adjust,
    point_adjusted_f1,
    rank_dimensions,
    roc_auc,
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
