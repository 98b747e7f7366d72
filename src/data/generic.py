"""Any user's cluster metrics as a labelled multivariate series, from CSV or Parquet.

Also defines `LabelledSeries`, the one form every real-trace loader (SMD, the original's
traces, this reader) hands to the detection benchmark, so the benchmark needs no per-dataset
code.

File format (one file for train, one for test; CSV with a header row, or Parquet):
- a timestamp column (name from `timestamp_column`, default `timestamp`), strictly increasing;
  numbers or ISO dates, used only to check the order;
- one numeric column per metric, in any order: every column not named below is a metric;
- optional label column (default `label`): 0/1, 1 = anomalous row;
- optional root-cause column (default `root_cause`): metric names of the cause separated by
  `;` (e.g. `cpu;ram`), empty on normal rows.
The train file needs the same metric columns; its label and root-cause columns, if present,
are ignored, because detectors learn without labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class TraceFormatError(ValueError):
    """A trace file does not have the documented layout; the message names file and field."""


@dataclass
class LabelledSeries:
    """One entity (machine, host) to benchmark: train on `train`, score `test`."""

    name: str
    train: np.ndarray  # (T_train, D) float32
    test: np.ndarray  # (T_test, D) float32
    labels: np.ndarray | None  # (T_test,) bool, None when the data has no labels
    root_cause: np.ndarray | None  # (T_test, D) bool, causes on labelled points, None if unknown
    dim_names: tuple[str, ...]
    labels_derived: bool = False  # True when labels come from a rule on the data, not ground truth


def label_runs(labels: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Contiguous runs of positive labels as `(R, 2)` [start, end) rows; runs end at group changes.

    Lives with `LabelledSeries` because loaders (root causes by run overlap) and metrics
    (point adjustment, event-wise scores) both need it, and data must not import evaluation.
    `groups` (N,) keeps runs from joining across hosts or episodes laid end to end.
    """
    lab = np.asarray(labels)
    if lab.dtype != bool:
        if not np.issubdtype(lab.dtype, np.number) or not np.isin(lab, (0, 1)).all():
            raise ValueError(f"labels: expected booleans or 0/1, got dtype {lab.dtype}")
        lab = lab.astype(bool)
    if lab.ndim != 1:
        raise ValueError(f"labels: expected shape (N,), got {lab.shape}")
    n = lab.shape[0]
    starts = lab.copy()
    starts[1:] &= ~lab[:-1]
    ends = lab.copy()
    ends[:-1] &= ~lab[1:]
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != lab.shape:
            raise ValueError(f"groups: shape {g.shape} != labels shape {lab.shape}")
        boundary = np.zeros(n, dtype=bool)
        boundary[1:] = g[1:] != g[:-1]  # first point of a new group
        starts |= lab & boundary
        ends[:-1] |= lab[:-1] & boundary[1:]
    return np.stack([np.flatnonzero(starts), np.flatnonzero(ends) + 1], axis=1)  # (R, 2)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise TraceFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError) as err:
        raise TraceFormatError(f"{path}: cannot be read as {suffix[1:]}: {err}") from err
    raise TraceFormatError(f"{path}: expected a .csv or .parquet file, got suffix {suffix!r}")


def _metric_frame(
    df: pd.DataFrame, path: Path, metric_cols: list[str]
) -> np.ndarray:  # (T, D) float32
    values = np.empty((len(df), len(metric_cols)), dtype=np.float32)
    for j, col in enumerate(metric_cols):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TraceFormatError(
                f"{path}: column {col!r}, data row {row + 1}: value {df[col].iloc[row]!r} "
                "is missing or not a number"
            )
        values[:, j] = num.to_numpy(dtype=np.float32)
    return values


def _check_order(df: pd.DataFrame, path: Path, column: str) -> None:
    if column not in df.columns:
        raise TraceFormatError(
            f"{path}: timestamp column {column!r} missing; have {list(df.columns)}"
        )
    ts = df[column]
    parsed = pd.to_numeric(ts, errors="coerce")
    if parsed.isna().any():
        parsed = pd.to_datetime(ts, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise TraceFormatError(
            f"{path}: column {column!r}, data row {row + 1}: bad timestamp {ts.iloc[row]!r}"
        )
    steps = np.diff(parsed.to_numpy())
    if len(steps) and not (steps > steps.dtype.type(0)).all():
        row = int(np.flatnonzero(~(steps > steps.dtype.type(0)))[0]) + 2
        raise TraceFormatError(
            f"{path}: column {column!r}, data row {row}: timestamps not strictly increasing"
        )


def read_generic(
    train_path: str | Path,
    test_path: str | Path,
    name: str | None = None,
    timestamp_column: str = "timestamp",
    label_column: str = "label",
    root_cause_column: str = "root_cause",
) -> LabelledSeries:
    """Read a train and a test table in the format of the module docstring."""
    train_path, test_path = Path(train_path), Path(test_path)
    test_df = _read_table(test_path)
    train_df = _read_table(train_path)
    _check_order(test_df, test_path, timestamp_column)
    _check_order(train_df, train_path, timestamp_column)
    reserved = {timestamp_column, label_column, root_cause_column}
    metric_cols = [c for c in test_df.columns if c not in reserved]
    if not metric_cols:
        raise TraceFormatError(f"{test_path}: no metric columns besides {sorted(reserved)}")
    missing = [c for c in metric_cols if c not in train_df.columns]
    if missing:
        raise TraceFormatError(f"{train_path}: metric columns {missing} of {test_path} missing")
    test = _metric_frame(test_df, test_path, metric_cols)
    train = _metric_frame(train_df, train_path, metric_cols)

    labels = None
    if label_column in test_df.columns:
        raw = pd.to_numeric(test_df[label_column], errors="coerce").to_numpy()
        bad = ~np.isin(raw, (0, 1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TraceFormatError(
                f"{test_path}: column {label_column!r}, data row {row + 1}: expected 0 or 1, "
                f"got {test_df[label_column].iloc[row]!r}"
            )
        labels = raw.astype(bool)

    root_cause = None
    if root_cause_column in test_df.columns:
        index = {c: j for j, c in enumerate(metric_cols)}
        root_cause = np.zeros(test.shape, dtype=bool)
        for row, cell in enumerate(test_df[root_cause_column].tolist()):
            if (
                cell is None
                or (isinstance(cell, float) and np.isnan(cell))
                or str(cell).strip() == ""
            ):
                continue
            for dim in str(cell).split(";"):
                if dim.strip() not in index:
                    raise TraceFormatError(
                        f"{test_path}: column {root_cause_column!r}, data row {row + 1}: "
                        f"unknown metric {dim.strip()!r}; metrics are {metric_cols}"
                    )
                root_cause[row, index[dim.strip()]] = True
        if labels is not None:
            root_cause &= labels[:, None]
    return LabelledSeries(
        name=name or test_path.stem,
        train=train,
        test=test,
        labels=labels,
        root_cause=root_cause,
        dim_names=tuple(str(c) for c in metric_cols),
    )


def load_cases(
    train_path: str,
    test_path: str,
    name: str | None = None,
    timestamp_column: str = "timestamp",
    label_column: str = "label",
    root_cause_column: str = "root_cause",
) -> list[LabelledSeries]:
    """The benchmark's entry (`conf/data/generic.yaml`): one case from one pair of files."""
    return [
        read_generic(train_path, test_path, name, timestamp_column, label_column, root_cause_column)
    ]
