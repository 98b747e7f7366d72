"""Reader for the Server Machine Dataset (SMD) in its public layout.

Layout under a root folder, one file per machine in each sub-folder:
    train/<machine>.txt                 comma-separated floats, one row per minute
    test/<machine>.txt                  same columns as train
    test_label/<machine>.txt            one 0/1 per line, aligned with the test rows
    interpretation_label/<machine>.txt  one anomaly segment per line, `start-end:d1,d2,...`

Segments use 1-based rows and dims, inclusive (the published description), so a segment
covers 0-based rows start-1 .. end-1. The shipped files do not always line up with the label
runs (some are shifted by one row, some runs have no segment and vice versa), so root causes
are attached to label runs by overlap, never by index: each labelled point gets the union of
the dims of every segment that overlaps its run. Runs without a segment carry no root cause
and are skipped by the diagnosis metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pregan.data.generic import LabelledSeries, TraceFormatError, label_runs

LAYOUT = (
    "expected <root>/train/<machine>.txt, <root>/test/<machine>.txt, "
    "<root>/test_label/<machine>.txt and optionally <root>/interpretation_label/<machine>.txt"
)
_SEGMENT = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*:\s*(\d+(?:\s*,\s*\d+)*)\s*$")


class SmdLayoutError(TraceFormatError):
    """The root folder does not hold machines in the SMD layout."""


@dataclass(frozen=True)
class Segment:
    """A root-cause segment as 0-based half-open rows [start, end) and 0-based dims."""

    start: int
    end: int
    dims: tuple[int, ...]
    line: int  # 1-based line in its file, for messages


def list_machines(root: str | Path) -> list[str]:
    """Names of the machines under `root` (from train/*.txt), sorted."""
    root = Path(root)
    train_dir = root / "train"
    names = sorted(p.stem for p in train_dir.glob("*.txt")) if train_dir.is_dir() else []
    if not names:
        raise SmdLayoutError(f"{root}: no SMD machines found; {LAYOUT}")
    return names


def read_matrix(path: Path, n_cols: int | None = None) -> np.ndarray:
    """A comma-separated float file as (T, D) float32; errors name the file and 1-based line."""
    if not path.is_file():
        raise SmdLayoutError(f"{path}: file missing; {LAYOUT}")
    try:
        df = pd.read_csv(path, header=None, dtype=str, skip_blank_lines=False)
    except pd.errors.ParserError as err:  # rows longer than the first one
        raise TraceFormatError(f"{path}: inconsistent column count: {err}") from err
    except pd.errors.EmptyDataError as err:
        raise TraceFormatError(f"{path}: file is empty") from err
    values = df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)  # (T, D)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        cell = df.iat[row, col]
        what = (
            "missing (short row or blank line)"
            if pd.isna(cell)
            else f"{cell!r} is not a finite number"
        )
        raise TraceFormatError(f"{path}: line {row + 1}, column {col + 1}: {what}")
    if n_cols is not None and values.shape[1] != n_cols:
        raise TraceFormatError(
            f"{path}: {values.shape[1]} columns, but the train file has {n_cols}"
        )
    return values.astype(np.float32)


def read_labels(path: Path, n_rows: int) -> np.ndarray:
    """A 0/1-per-line label file as (T,) bool, checked against the test length."""
    if not path.is_file():
        raise SmdLayoutError(f"{path}: file missing; {LAYOUT}")
    lines = path.read_text().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    labels = np.zeros(len(lines), dtype=bool)
    for i, text in enumerate(lines):
        token = text.strip()
        if token not in ("0", "1", "0.0", "1.0"):
            raise TraceFormatError(f"{path}: line {i + 1}: expected 0 or 1, got {text!r}")
        labels[i] = token.startswith("1")
    if len(labels) != n_rows:
        raise TraceFormatError(f"{path}: {len(labels)} labels, but the test file has {n_rows} rows")
    return labels


def read_segments(path: Path, n_rows: int, n_dims: int) -> list[Segment]:
    """Parse `start-end:d1,d2,...` lines (1-based, inclusive), checking bounds."""
    segments = []
    for i, text in enumerate(path.read_text().splitlines()):
        if not text.strip():
            continue
        match = _SEGMENT.match(text)
        if match is None:
            raise TraceFormatError(
                f"{path}: line {i + 1}: malformed segment {text!r}, expected 'start-end:d1,d2,...'"
            )
        start, end = int(match[1]), int(match[2])
        dims = tuple(int(d) for d in match[3].split(","))
        if not 1 <= start <= end <= n_rows:
            raise TraceFormatError(
                f"{path}: line {i + 1}: rows {start}-{end} outside 1..{n_rows} of the test file"
            )
        bad = [d for d in dims if not 1 <= d <= n_dims]
        if bad:
            raise TraceFormatError(
                f"{path}: line {i + 1}: dims {bad} outside 1..{n_dims} of the test file"
            )
        segments.append(Segment(start - 1, end, tuple(sorted({d - 1 for d in dims})), i + 1))
    return segments


def root_cause_by_overlap(labels: np.ndarray, segments: list[Segment], n_dims: int) -> np.ndarray:
    """(T, D) bool: each label run gets the union of dims of the segments overlapping it."""
    cause = np.zeros((labels.shape[0], n_dims), dtype=bool)
    for start, end in label_runs(labels):
        for seg in segments:
            if seg.start < end and start < seg.end:
                cause[start:end, list(seg.dims)] = True
    return cause


def load_machine(root: str | Path, name: str) -> LabelledSeries:
    """One machine: train/test matrices, test labels and root causes matched by overlap."""
    root = Path(root)
    train = read_matrix(root / "train" / f"{name}.txt")
    test = read_matrix(root / "test" / f"{name}.txt", n_cols=train.shape[1])
    labels = read_labels(root / "test_label" / f"{name}.txt", test.shape[0])
    seg_path = root / "interpretation_label" / f"{name}.txt"
    root_cause = None
    if seg_path.is_file():
        segments = read_segments(seg_path, test.shape[0], test.shape[1])
        root_cause = root_cause_by_overlap(labels, segments, test.shape[1])
    return LabelledSeries(
        name=name,
        train=train,
        test=test,
        labels=labels,
        root_cause=root_cause,
        dim_names=tuple(f"dim{j + 1}" for j in range(train.shape[1])),
    )


def load_cases(root: str, machines: list[str] | None = None) -> list[LabelledSeries]:
    """The benchmark's entry (`conf/data/smd.yaml`): the given machines, or all under root."""
    names = list(machines) if machines else list_machines(root)
    return [load_machine(root, n) for n in names]
