"""Reader for the traces shipped with the original PreGAN code (COSCO simulator output).

Format of a trace folder (the file names may share a prefix, as in the original's history
folder: `simulator_<id>_time_series.npy` beside `simulator_<id>_schedule_series.npy`; a folder
may hold several such traces):
- `time_series.npy`: float (T, 3H), rows are scheduling intervals, columns are H hosts x
  [cpu, ram, disk] interleaved per host (cpu_0, ram_0, disk_0, cpu_1, ...). CPU in % of host
  capacity, RAM and disk in MB summed over the host's containers.
- `schedule_series.npy`: float (T, C, H), one-hot placement of container slot c on host h.

No fault labels ship with these traces. `percentile_labels` reproduces the original's rule
(a host is faulty when any of its columns exceeds that column's 98th percentile over the
whole trace; the class is the resource that exceeds its percentile the most, in units of
the column's range, since the original's raw units differ). Those labels are
DERIVED from the very metrics a detector reads, hence circular: they are returned in
`DerivedLabels`, flagged `derived=True`, and are for comparison with the original only,
never ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pregan.data.generic import LabelledSeries, TraceFormatError

ORIGINAL_RESOURCES: tuple[str, ...] = ("cpu", "ram", "disk")


@dataclass(frozen=True)
class OriginalTrace:
    """A trace of the original simulator, reshaped per host."""

    metrics: np.ndarray  # (T, H, 3) float32, [cpu %, ram MB, disk MB]
    schedule: np.ndarray  # (T, C, H) float32 one-hot placement
    source: Path


@dataclass(frozen=True)
class DerivedLabels:
    """The original's percentile labels. Derived from the metrics: NOT ground truth."""

    faulty: np.ndarray  # (T, H) bool
    fault_class: np.ndarray  # (T, H) int8, 1..3 = cpu, ram, disk; 0 when not faulty
    root_cause: np.ndarray  # (T, H, 3) bool, the class's resource on faulty points
    percentile: float
    derived: bool = True


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise TraceFormatError(
            f"{path}: file missing; expected time_series.npy and schedule_series.npy"
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise TraceFormatError(f"{path}: not a readable .npy array: {err}") from err
    if not np.issubdtype(arr.dtype, np.number):
        raise TraceFormatError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1) if arr.ndim >= 2 else None
    if bad is not None and bad.any():
        raise TraceFormatError(
            f"{path}: row {int(np.flatnonzero(bad)[0])} contains NaN or infinite values"
        )
    return arr


TIME_SERIES, SCHEDULE_SERIES = "time_series.npy", "schedule_series.npy"


def find_traces(root: str | Path) -> list[str]:
    """File-name prefixes of the traces in `root` ('' for plain `time_series.npy`), sorted."""
    root = Path(root)
    prefixes = sorted(p.name[: -len(TIME_SERIES)] for p in root.glob(f"*{TIME_SERIES}"))
    if not prefixes:
        raise TraceFormatError(
            f"{root}: no trace found; expected {TIME_SERIES} and {SCHEDULE_SERIES}, or the two "
            f"with a common prefix (e.g. simulator_<id>_{TIME_SERIES})"
        )
    return prefixes


def load_original_trace(folder: str | Path, prefix: str = "") -> OriginalTrace:
    """Read and validate `<prefix>time_series.npy` and `<prefix>schedule_series.npy`."""
    folder = Path(folder)
    ts_path, sched_path = folder / f"{prefix}{TIME_SERIES}", folder / f"{prefix}{SCHEDULE_SERIES}"
    ts = _load_npy(ts_path)
    if ts.ndim != 2 or ts.shape[1] % 3 or ts.shape[1] == 0:
        raise TraceFormatError(f"{ts_path}: expected shape (T, 3H), got {ts.shape}")
    t, h = ts.shape[0], ts.shape[1] // 3
    sched = _load_npy(sched_path)
    if sched.ndim != 3 or sched.shape[0] != t or sched.shape[2] != h:
        raise TraceFormatError(
            f"{sched_path}: expected shape (T={t}, C, H={h}) to match {ts_path.name}, got {sched.shape}"
        )
    metrics = ts.reshape(t, h, 3).astype(np.float32)  # (T, H, 3): interleaved per host
    return OriginalTrace(metrics, sched.astype(np.float32), folder)


def percentile_labels(metrics: np.ndarray, percentile: float = 98.0) -> DerivedLabels:
    """The original's circular labels on a (T, H, 3) trace; see the module docstring."""
    if metrics.ndim != 3 or metrics.shape[2] != 3:
        raise TraceFormatError(f"metrics: expected shape (T, H, 3), got {metrics.shape}")
    cut = np.percentile(metrics, percentile, axis=0)  # (H, 3) per host and resource column
    over = metrics > cut  # (T, H, 3)
    faulty = over.any(axis=2)  # (T, H)
    col_range = np.maximum(np.ptp(metrics, axis=0), 1e-12)  # (H, 3)
    excess = np.where(over, (metrics - cut) / col_range, -np.inf)  # (T, H, 3)
    cls = np.argmax(excess, axis=2)  # (T, H) resource exceeding its percentile the most
    fault_class = np.where(faulty, cls + 1, 0).astype(np.int8)
    root_cause = (np.arange(3) == cls[..., None]) & faulty[..., None]  # (T, H, 3)
    return DerivedLabels(faulty, fault_class, root_cause, percentile)


def load_cases(
    root: str, train_fraction: float = 0.5, percentile: float = 98.0
) -> list[LabelledSeries]:
    """The benchmark's entry (`conf/data/original.yaml`): one case per host of every trace.

    The first `train_fraction` of intervals (after the all-zero row 0) is train, the rest
    test, labelled by the DERIVED percentile rule computed on the test part alone. Cases are
    named `host-<h>`, prefixed by the trace's file prefix when the folder's names carry one.
    """
    cases: list[LabelledSeries] = []
    for prefix in find_traces(root):
        trace = load_original_trace(root, prefix)
        m = trace.metrics[1:]  # (T-1, H, 3): row 0 is the simulator's all-zero start
        cut = int(round(m.shape[0] * train_fraction))
        if not 0 < cut < m.shape[0]:
            raise TraceFormatError(
                f"{trace.source / (prefix + TIME_SERIES)}: train_fraction {train_fraction} "
                f"leaves an empty split of {m.shape[0]} rows"
            )
        labels = percentile_labels(m[cut:], percentile)
        tag = prefix.rstrip("_-.")
        cases += [
            LabelledSeries(
                name=f"{tag}/host-{h}" if tag else f"host-{h}",
                train=m[:cut, h],
                test=m[cut:, h],
                labels=labels.faulty[:, h],
                root_cause=labels.root_cause[:, h],
                dim_names=ORIGINAL_RESOURCES,
                labels_derived=True,
            )
            for h in range(m.shape[1])
        ]
    return cases
