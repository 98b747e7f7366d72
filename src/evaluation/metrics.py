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


def label_runs(labels: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Contiguous runs of positive labels as `(R, 2)` [start, end) rows; runs end at group changes."""
    lab = _as_bool("labels", labels)
    if lab.ndim != 1:
        raise MetricInputError(f"labels: expected shape (N,), got {lab.shape}")
    n = lab.shape[0]
    starts = lab.copy()
    starts[1:] &= ~lab[:-1]
    ends = lab.copy()
    ends[:-1] &= ~lab[1:]
    if groups is not None:
        g = np.asarray(groups)
        _check_points(lab, g, "groups")
        boundary = np.zeros(n, dtype=bool)
        boundary[1:] = g[1:] != g[:-1]  # first point of a new group
        starts |= lab & boundary
        ends[:-1] |= lab[:-1] & boundary[1:]
    return np.stack([np.flatnonzero(starts), np.flatnonzero(ends) + 1], axis=1)  # (R, 2)


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
