"""Detection, diagnosis and classification metrics shared by every method and dataset.

Definitions follow `shared/reference/PREGAN.md` §5, so simulated episodes, SMD machines and
the original's traces are scored by the same code:

- points are rows of a 1-D array `(N,)`; per-dimension scores and root-cause masks are
  `(N, D)`. A host grid `(T, H)` is flattened with `flatten_host_grid`, which also returns the
  `groups` array that keeps point adjustment from running across hosts;
- a metric that is undefined for the given input (ROC-AUC with one class present, diagnosis
  without any root-cause point, classification without faulty points) returns `None`, so that
  callers report it absent rather than as a misleading 0 or NaN.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from pregan.data.generic import label_runs


class MetricInputError(ValueError):
    """Arrays given to a metric have the wrong shape, dtype or content."""


DIAGNOSIS_PERCENTS: tuple[int, ...] = (100, 150)
"""The P of HitRate@P% and NDCG@P% that every report carries."""


def _as_bool(name: str, x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or not np.isin(arr, (0, 1)).all():
            raise MetricInputError(f"{name}: expected booleans or 0/1, got dtype {arr.dtype}")
        arr = arr.astype(bool)
    return arr


def _check_points(labels: np.ndarray, other: np.ndarray, other_name: str) -> None:
    if labels.ndim != 1:
        raise MetricInputError(f"labels: expected shape (N,), got {labels.shape}")
    if other.shape != labels.shape:
        raise MetricInputError(f"{other_name}: shape {other.shape} != labels shape {labels.shape}")


def flatten_host_grid(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a `(T, H, ...)` grid host-major, returning `(flat (H*T, ...), groups (H*T,))`.

    Host-major order puts each host's time series in one contiguous block, which is what point
    adjustment needs: a fault segment is a run along time on one host. Pass `groups` to
    `point_adjust` / `detection_metrics` so that runs never join across hosts.
    """
    arr = np.asarray(grid)
    if arr.ndim < 2:
        raise MetricInputError(f"grid: expected shape (T, H, ...), got {arr.shape}")
    t, h = arr.shape[:2]
    flat = np.swapaxes(arr, 0, 1).reshape(h * t, *arr.shape[2:])  # (H*T, ...)
    groups = np.repeat(np.arange(h), t)  # (H*T,)
    return flat, groups


def flatten_host_grids(grids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`flatten_host_grid` over several episodes: one group per episode and host."""
    flats, groups = [], []
    for i, grid in enumerate(grids):
        flat, group = flatten_host_grid(grid)
        flats.append(flat)
        groups.append(group + i * np.asarray(grid).shape[1])
    return np.concatenate(flats), np.concatenate(groups)


def point_adjust(
    labels: np.ndarray, flags: np.ndarray, groups: np.ndarray | None = None
) -> np.ndarray:
    """Flag a whole labelled run when any point in it is flagged; other points are unchanged."""
    lab = _as_bool("labels", labels)
    flg = _as_bool("flags", flags)
    _check_points(lab, flg, "flags")
    adjusted = flg.copy()
    runs = label_runs(lab, groups)
    if len(runs) == 0:
        return adjusted
    csum = np.concatenate([[0], np.cumsum(flg, dtype=np.int64)])
    hits = csum[runs[:, 1]] - csum[runs[:, 0]]  # (R,)
    for start, end in runs[hits > 0]:
        adjusted[start:end] = True
    return adjusted


def detection_metrics(labels: np.ndarray, flags: np.ndarray) -> dict[str, float]:
    """Point-wise accuracy, precision, recall and F1 (positive class = faulty).

    Precision is 0 when nothing is flagged, and recall 0 when nothing is faulty (scikit-learn's
    `zero_division=0`); with no positives at all and no flags, precision, recall and F1 are 0
    while accuracy is 1.
    """
    lab = _as_bool("labels", labels)
    flg = _as_bool("flags", flags)
    _check_points(lab, flg, "flags")
    if lab.size == 0:
        raise MetricInputError("labels: empty array, nothing to score")
    p, r, f, _ = precision_recall_fscore_support(
        lab, flg, average="binary", pos_label=True, zero_division=0, labels=[False, True]
    )
    return {
        "accuracy": float(np.mean(lab == flg)),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
    }


def point_adjusted_f1(
    labels: np.ndarray, flags: np.ndarray, groups: np.ndarray | None = None
) -> float:
    """F1 after `point_adjust`; report it beside the point-wise F1, never instead of it."""
    return detection_metrics(labels, point_adjust(labels, flags, groups))["f1"]


def _labels_and_scores(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N,) bool, scores (N,) float64), checked for shape and finiteness."""
    lab = _as_bool("labels", labels)
    sc = np.asarray(scores, dtype=np.float64)
    _check_points(lab, sc, "scores")
    if not np.isfinite(sc).all():
        raise MetricInputError("scores: contains NaN or infinite values")
    return lab, sc


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC of the scores; None when only one class is present (AUC is undefined then)."""
    lab, sc = _labels_and_scores(labels, scores)
    if lab.all() or not lab.any():
        return None
    return float(roc_auc_score(lab, sc))


def best_threshold_f1(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray | None = None
) -> dict[str, float | None]:
    """Test-label ORACLE: the highest point-wise and point-adjusted F1 of any static threshold.

    The ceiling of a score under one fixed threshold, never a result: the threshold is chosen
    on the labels being scored (a streaming threshold, which moves, may still pass it). Much
    of the literature reports SMD figures this way ("best F1"), so it is what makes a score
    comparable with them, and the gap to the label-free F1 shows how much a detector loses to
    its threshold rather than to its score. Flags are `scores >= s` for every distinct score s
    (exact, O(N log N)): a labelled run counts as detected, for the adjusted F1, once its
    highest score passes s. Keys `f1_best`, `f1_pa_best`; None when no point or every point
    is labelled.
    """
    lab, sc = _labels_and_scores(labels, scores)
    if lab.all() or not lab.any():
        return {"f1_best": None, "f1_pa_best": None}
    cand = np.unique(sc)  # (K,) ascending; flags = scores >= cand[k]
    n_pos = int(lab.sum())

    def at_least(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(K,) count (or weight) of `values` >= each candidate."""
        order = np.argsort(values, kind="stable")
        w = np.ones(values.size) if weights is None else weights[order].astype(np.float64)
        tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # (n+1,) weight from i on
        return tail[np.searchsorted(values[order], cand, side="left")]

    fp = at_least(sc[~lab])  # (K,)
    runs = label_runs(lab, groups)  # (R, 2)
    run_max = np.array([sc[a:b].max() for a, b in runs])  # (R,)
    tps = {"f1_best": at_least(sc[lab]), "f1_pa_best": at_least(run_max, runs[:, 1] - runs[:, 0])}
    # F1 = 2 TP / (2 TP + FP + FN) with FN = n_pos - TP.
    return {k: float(np.max(2 * tp / (tp + fp + n_pos))) for k, tp in tps.items()}


def rank_dimensions(dim_scores: np.ndarray) -> np.ndarray:
    """Dimension indices per row, highest score first; ties go to the lower dimension index.

    A stable sort on the negated scores gives that tie rule, so rankings are deterministic and
    a constant score vector ranks dimensions in their natural order (no credit from luck).
    """
    sc = np.asarray(dim_scores, dtype=np.float64)
    return np.argsort(-sc, axis=1, kind="stable")  # (N, D)


def _check_diagnosis(dim_scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sc = np.asarray(dim_scores, dtype=np.float64)
    tr = _as_bool("truth", truth)
    if sc.ndim != 2:
        raise MetricInputError(f"dim_scores: expected shape (N, D), got {sc.shape}")
    if tr.shape != sc.shape:
        raise MetricInputError(f"truth: shape {tr.shape} != dim_scores shape {sc.shape}")
    if not np.isfinite(sc).all():
        raise MetricInputError("dim_scores: contains NaN or infinite values")
    return sc, tr


def _diagnosis_parts(
    dim_scores: np.ndarray, truth: np.ndarray, percent: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Ranked relevance (M, D), cut-off k (M,) and |G| (M,) over rows with a root cause."""
    sc, tr = _check_diagnosis(dim_scores, truth)
    if percent <= 0:
        raise MetricInputError(f"percent: expected > 0, got {percent}")
    rows = tr.any(axis=1)
    if not rows.any():
        return None
    sc, tr = sc[rows], tr[rows]
    order = rank_dimensions(sc)  # (M, D)
    rel = np.take_along_axis(tr, order, axis=1)  # (M, D) relevance in ranked order
    g = tr.sum(axis=1)  # (M,)
    # floor(P% x |G|) in integer arithmetic for integral P, so 150% of 3 is exactly 4.
    k = np.floor(np.asarray(percent, dtype=np.float64) * g / 100.0 + 1e-9).astype(np.int64)
    k = np.minimum(k, sc.shape[1])
    return rel, k, g


def hit_rate_at(dim_scores: np.ndarray, truth: np.ndarray, percent: float = 100) -> float | None:
    """HitRate@P%: mean over root-cause rows of |top floor(P% |G|) dims ∩ G| / |G|.

    Rows whose root-cause set G is empty are skipped; None when no row has one.
    """
    parts = _diagnosis_parts(dim_scores, truth, percent)
    if parts is None:
        return None
    rel, k, g = parts
    in_top = np.arange(rel.shape[1])[None, :] < k[:, None]  # (M, D)
    return float(np.mean((rel & in_top).sum(axis=1) / g))


def ndcg_at(dim_scores: np.ndarray, truth: np.ndarray, percent: float = 100) -> float | None:
    """NDCG@P%: DCG of the ranking truncated at floor(P% |G|) over the ideal DCG at that depth.

    Relevance is 1 for dims in G; gain at rank i (0-based) is 1 / log2(i + 2). Rows without a
    root cause are skipped; None when no row has one.
    """
    parts = _diagnosis_parts(dim_scores, truth, percent)
    if parts is None:
        return None
    rel, k, g = parts
    d = rel.shape[1]
    ranks = np.arange(d)[None, :]  # (1, D)
    discount = 1.0 / np.log2(np.arange(d) + 2.0)  # (D,)
    dcg = ((rel & (ranks < k[:, None])) * discount).sum(axis=1)  # (M,)
    ideal = ((ranks < np.minimum(k, g)[:, None]) * discount).sum(axis=1)  # (M,)
    safe = np.where(ideal > 0, ideal, 1.0)
    return float(np.mean(np.where(ideal > 0, dcg / safe, 0.0)))


def diagnosis_metrics(
    dim_scores: np.ndarray, truth: np.ndarray, percents: tuple[int, ...] = DIAGNOSIS_PERCENTS
) -> dict[str, float | None]:
    """`hitrate@P` and `ndcg@P` for each P, over rows with a root cause (None if there are none)."""
    out: dict[str, float | None] = {}
    for p in percents:
        out[f"hitrate@{p}"] = hit_rate_at(dim_scores, truth, p)
        out[f"ndcg@{p}"] = ndcg_at(dim_scores, truth, p)
    return out


def classification_accuracy(true_class: np.ndarray, pred_class: np.ndarray) -> float | None:
    """Accuracy of the predicted class over truly faulty points (true class > 0); None if none."""
    tc = np.asarray(true_class)
    pc = np.asarray(pred_class)
    _check_points(tc, pc, "pred_class")
    faulty = tc > 0
    if not faulty.any():
        return None
    return float(np.mean(pc[faulty] == tc[faulty]))


def all_detection_metrics(
    labels: np.ndarray,
    flags: np.ndarray,
    scores: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Point-wise metrics, point-adjusted F1 (`f1_pa`) and, given scores, `roc_auc`."""
    out: dict[str, float | None] = dict(detection_metrics(labels, flags))
    out["f1_pa"] = point_adjusted_f1(labels, flags, groups)
    if scores is not None:
        out["roc_auc"] = roc_auc(labels, scores)
    return out


def finite_mean(values: list[float | None]) -> float | None:
    """Mean of the present values (None skipped); None when none is present."""
    present = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(present)) if present else None


# ---------------------------------------------------------------------------------------------
# Range-aware and threshold-free metrics (issue: measure detection as the field now does).
# Written from the papers' definitions; the maintained implementation (TSB-AD 1.5) pins
# numpy < 2 and cannot be installed beside this project's numpy 2.x.
# ---------------------------------------------------------------------------------------------

VUS_BUFFER: int = 100
"""Largest buffer of the VUS sweep, rows: TSB-AD's default sliding window (Liu & Paparrizos,
NeurIPS 2024) with which its SMD figures (PCA 0.364, TranAD 0.301 VUS-PR) were computed."""

VUS_THRESHOLDS: int = 250
"""Thresholds per range curve: the reference code's grid of score ranks (Paparrizos et al.)."""


def soft_labels(labels: np.ndarray, buffer: int) -> np.ndarray:
    """Range labels with a soft buffer (Paparrizos et al., VLDB 2022): (N,) float64 in [0, 1].

    Each labelled run [s, e) keeps weight 1; with h = buffer // 2, the rows s-h .. s-1 before
    it get sqrt(1 - (s - t) / buffer) and the rows after its last row l = e - 1 up to l+h-1
    get sqrt(1 - (t - l) / buffer) (the reference code's ranges); overlapping contributions
    add and are capped at 1.
    """
    lab = _as_bool("labels", labels)
    if buffer < 0:
        raise MetricInputError(f"buffer: expected >= 0, got {buffer}")
    out = lab.astype(np.float64)
    n = lab.size
    half = buffer // 2
    if half == 0:
        return out
    for start, end in label_runs(lab):
        last = end - 1
        after = np.arange(last + 1, min(last + half, n))
        out[after] += np.sqrt(1.0 - (after - last) / buffer)
        before = np.arange(max(start - half, 0), start)
        out[before] += np.sqrt(1.0 - (start - before) / buffer)
    return np.minimum(out, 1.0)


def _range_aucs(
    lab: np.ndarray, sc: np.ndarray, buffers: list[int], n_thresholds: int
) -> np.ndarray:
    """(len(buffers), 2) [range ROC-AUC, range PR-AUC] per buffer (see `range_auc`)."""
    n = lab.size
    order = np.argsort(-sc, kind="stable")  # (N,) highest first
    sorted_sc = sc[order]
    ranks = np.linspace(0, n - 1, n_thresholds).astype(np.int64)  # (K,)
    # flags at threshold sorted_sc[r]: every row whose score >= it, i.e. the first k rows
    k = np.searchsorted(-sorted_sc, -sorted_sc[ranks], side="right")  # (K,) flagged counts
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)  # rank of each row
    out = np.empty((len(buffers), 2))
    for i, buffer in enumerate(buffers):
        w = soft_labels(lab, buffer)  # (N,)
        p_new = (lab.sum() + w.sum()) / 2.0
        tp = np.concatenate([[0.0], np.cumsum(w[order])])[k]  # (K,)
        recall = np.minimum(tp / p_new, 1.0)
        runs = label_runs(w > 0)  # (R, 2) ranges of the soft label
        existence = (first_flagged(position, runs)[None, :] < k[:, None]).mean(axis=1)  # (K,)
        tpr = np.concatenate([[0.0], recall * existence, [1.0]])
        fpr = np.concatenate([[0.0], (k - tp) / (n - p_new), [1.0]])
        precision = tp / k
        out[i, 0] = np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2)
        out[i, 1] = np.sum((tpr[1:-1] - tpr[:-2]) * precision)
    return out


def first_flagged(position: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """(R,) the smallest score rank inside each run [start, end): when the run is first hit."""
    bounds = runs.ravel()  # start0, end0, start1, end1, ...
    if bounds[-1] == position.size:  # reduceat cannot take an index equal to the length
        return np.array([position[a:b].min() for a, b in runs])
    return np.minimum.reduceat(position, bounds)[::2]


def range_auc(
    labels: np.ndarray, scores: np.ndarray, buffer: int, n_thresholds: int = VUS_THRESHOLDS
) -> tuple[float, float]:
    """(range ROC-AUC, range PR-AUC) of the scores at one buffer (Paparrizos et al., VLDB 2022).

    Labels become soft range labels `soft_labels(labels, buffer)` = w (N,). At each threshold
    (the score at `n_thresholds` evenly spaced ranks, highest first; flags = score >= it):
    TP = sum of w over flagged rows, P' = (|labelled rows| + sum w) / 2, recall =
    min(TP / P', 1), existence = share of the soft label's ranges (runs of w > 0) with a
    flagged row, TPR = recall x existence, FPR = (|flagged| - TP) / (N - P'), precision =
    TP / |flagged|. ROC-AUC: trapezoids through (0, 0), the thresholds and (1, 1); PR-AUC:
    sum of (TPR_i - TPR_{i-1}) x precision_i from TPR_0 = 0. Ties count as flagged together.
    """
    lab, sc = _labels_and_scores(labels, scores)
    if not lab.any():
        raise MetricInputError("labels: no labelled row, range AUC is undefined")
    if buffer < 0:
        raise MetricInputError(f"buffer: expected >= 0, got {buffer}")
    roc, pr = _range_aucs(lab, sc, [buffer], n_thresholds)[0]
    return float(roc), float(pr)


def vus(
    labels: np.ndarray,
    scores: np.ndarray,
    max_buffer: int = VUS_BUFFER,
    n_thresholds: int = VUS_THRESHOLDS,
) -> dict[str, float | None]:
    """VUS-ROC and VUS-PR: `range_auc` averaged over buffers 0, 1, ..., `max_buffer`.

    The volume under the surface of Paparrizos et al. (VLDB 2022), normalised by the number of
    buffers so that it lies in [0, 1]. Threshold-free and label-length-aware: a detector that
    fires just before or after a labelled range still gets partial credit, and a random score
    gets about the labelled share as VUS-PR. None when no row or every row is labelled.
    """
    lab, sc = _labels_and_scores(labels, scores)
    if lab.all() or not lab.any():
        return {"vus_roc": None, "vus_pr": None}
    if max_buffer < 0:
        raise MetricInputError(f"max_buffer: expected >= 0, got {max_buffer}")
    pairs = _range_aucs(lab, sc, list(range(max_buffer + 1)), n_thresholds)
    return {"vus_roc": float(pairs[:, 0].mean()), "vus_pr": float(pairs[:, 1].mean())}


def _zones(runs: np.ndarray, n: int) -> np.ndarray:
    """(R, 2) [start, end) of each event's affiliation zone over rows 0..n-1.

    A row belongs to the event it is nearest to; the border between consecutive events lies
    at the midpoint of the gap (a tie goes to the earlier event).
    """
    zones = np.empty_like(runs)
    zones[0, 0], zones[-1, 1] = 0, n
    gaps_lo, gaps_hi = runs[:-1, 1] - 1, runs[1:, 0]  # last row of j, first row of j+1
    borders = (gaps_lo + gaps_hi) // 2 + 1  # first row of zone j+1
    zones[1:, 0] = borders
    zones[:-1, 1] = borders
    return zones


def affiliation(labels: np.ndarray, flags: np.ndarray) -> dict[str, float | None]:
    """Affiliation precision, recall and F1 (Huet, Navarro & Rossi, KDD 2022), on rows.

    The paper's integrals over time become sums over rows (row t = the interval [t, t+1)).
    Each labelled run j owns a zone Z_j (`_zones`). Inside it:
    - precision_j = mean over flagged rows x in Z_j of P_{U ~ Z_j}(dist(U, run_j) >= dist(x,
      run_j)): how much closer the alarm is to the event than a random row of the zone;
    - recall_j = mean over rows y of run_j of P_{U ~ Z_j}(|U - y| >= dist(y, flags in Z_j)),
      0 when the zone holds no flag.
    Precision is the mean over zones holding a flag, recall over all runs; dist is in rows,
    0 inside. A perfect detector scores 1 / 1; random flags score about 0.5 precision. None
    (every key) when nothing is labelled; precision and F1 None when nothing is flagged.
    """
    lab = _as_bool("labels", labels)
    flg = _as_bool("flags", flags)
    _check_points(lab, flg, "flags")
    runs = label_runs(lab)
    if len(runs) == 0:
        return {"affiliation_precision": None, "affiliation_recall": None, "affiliation_f1": None}
    zones = _zones(runs, lab.size)
    precisions, recalls = [], []
    for (s, e), (a, b) in zip(runs, zones, strict=True):
        rows = np.arange(a, b)  # (Z,)
        dist_event = np.maximum(np.maximum(s - rows, rows - (e - 1)), 0)  # (Z,)
        zone_flags = rows[flg[a:b]]  # (F,)
        if zone_flags.size == 0:
            recalls.append(0.0)
            continue
        sorted_dist = np.sort(dist_event)
        d_flag = dist_event[flg[a:b]]
        # share of zone rows at least as far from the event: 1 - share strictly nearer
        nearer = np.searchsorted(sorted_dist, d_flag, side="left")
        precisions.append(float(np.mean(1.0 - nearer / rows.size)))
        event_rows = np.arange(s, e)  # (E,)
        pos = np.searchsorted(zone_flags, event_rows)  # nearest flag on either side
        right = zone_flags[np.minimum(pos, zone_flags.size - 1)]
        left = zone_flags[np.maximum(pos - 1, 0)]
        d = np.minimum(np.abs(right - event_rows), np.abs(event_rows - left))  # (E,)
        # rows u of the zone with |u - y| < d: [max(a, y - d + 1), min(b - 1, y + d - 1)]
        lo = np.maximum(a, event_rows - d + 1)
        hi = np.minimum(b - 1, event_rows + d - 1)
        strictly_nearer = np.where(d > 0, np.maximum(hi - lo + 1, 0), 0)
        recalls.append(float(np.mean(1.0 - strictly_nearer / rows.size)))
    recall = float(np.mean(recalls))
    if not precisions:
        return {"affiliation_precision": None, "affiliation_recall": recall, "affiliation_f1": None}
    precision = float(np.mean(precisions))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "affiliation_precision": precision,
        "affiliation_recall": recall,
        "affiliation_f1": float(f1),
    }


PAK_GRID: tuple[int, ...] = tuple(range(0, 101, 10))
"""The K (%) of the PA%K curve: 0 is point adjustment, 100 the point-wise F1."""


def pa_k_curve(
    labels: np.ndarray,
    flags: np.ndarray,
    ks: tuple[int, ...] = PAK_GRID,
    groups: np.ndarray | None = None,
) -> dict[int, float]:
    """F1 under PA%K (Kim et al., AAAI 2022) for each K: {K: F1}.

    A labelled run is adjusted (flagged in full) only when MORE than K % of its rows are
    flagged; K = 0 is point adjustment, K = 100 leaves the flags as they are (point-wise F1).
    """
    lab = _as_bool("labels", labels)
    flg = _as_bool("flags", flags)
    _check_points(lab, flg, "flags")
    runs = label_runs(lab, groups)
    csum = np.concatenate([[0], np.cumsum(flg, dtype=np.int64)])
    share = (csum[runs[:, 1]] - csum[runs[:, 0]]) / np.maximum(runs[:, 1] - runs[:, 0], 1)
    out: dict[int, float] = {}
    for k in ks:
        if not 0 <= k <= 100:
            raise MetricInputError(f"PA%K: K must be in 0..100, got {k}")
        adjusted = flg.copy()
        for (a, b), frac in zip(runs, share, strict=True):
            if frac > k / 100.0:
                adjusted[a:b] = True
        out[k] = detection_metrics(lab, adjusted)["f1"]
    return out


def pa_k_auc(curve: dict[int, float]) -> float:
    """Area under the PA%K curve over K in [0, 100] (trapezoids), normalised to [0, 1]."""
    ks = np.array(sorted(curve), dtype=np.float64)
    if ks.size < 2 or ks[0] != 0 or ks[-1] != 100:
        raise MetricInputError(f"PA%K curve: needs K from 0 to 100, got {ks.tolist()}")
    f = np.array([curve[int(k)] for k in ks])
    return float(np.sum((ks[1:] - ks[:-1]) * (f[1:] + f[:-1]) / 2) / 100.0)


def event_diagnosis(
    dim_scores: np.ndarray,
    truth: np.ndarray,
    labels: np.ndarray,
    percents: tuple[int, ...] = DIAGNOSIS_PERCENTS,
) -> dict[str, float | None]:
    """Event-wise diagnosis: HitRate@P% and NDCG@P% once per labelled run (Garg et al., TNNLS 2021).

    Each run with a root cause counts once, whatever its length: its dims are ranked by their
    mean score over the run's rows, against the union of its rows' root causes. The
    per-timestamp `diagnosis_metrics` weigh a 1,000-row incident 1,000 times; this does not.
    Keys `hitrate_event@P`, `ndcg_event@P`; None when no run has a root cause.
    """
    sc, tr = _check_diagnosis(dim_scores, truth)
    lab = _as_bool("labels", labels)
    _check_points(lab, sc[:, 0], "dim_scores rows")
    runs = label_runs(lab)
    ev_scores = np.array([sc[a:b].mean(axis=0) for a, b in runs]).reshape(-1, sc.shape[1])
    ev_truth = np.array([tr[a:b].any(axis=0) for a, b in runs]).reshape(-1, sc.shape[1])
    out: dict[str, float | None] = {}
    for p in percents:
        out[f"hitrate_event@{p}"] = hit_rate_at(ev_scores, ev_truth, p)
        out[f"ndcg_event@{p}"] = ndcg_at(ev_scores, ev_truth, p)
    return out


def bootstrap_ci(
    values: list[float | None], level: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): percentile bootstrap CI of the mean over entities (machines).

    Resamples the present values with replacement `n_boot` times (seeded, so reports are
    reproducible); with seven machines the interval says how much the mean owes to which
    machines were drawn, not how noisy one machine's figure is. (None, None, None) if empty.
    """
    x = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if x.size == 0:
        return None, None, None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (n_boot, x.size))].mean(axis=1)  # (n_boot,)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(x.mean()), float(lo), float(hi)
