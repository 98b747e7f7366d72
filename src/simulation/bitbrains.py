"""Reader for the Bitbrains GWA-T-12 VM traces, converted to the units the simulator uses.

A file holds one VM: a header row, then one row per 300 s sample, 11 fields separated by
";" plus a tab. The unit conversions and the CPU filter are the original PreGAN/COSCO ones
(a Pentium III gives 2054 MIPS at 1200 MHz), so that a container here demands what it
demanded there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pregan.simulation.workload_bank import SERIES_FIELDS, WorkloadBank, WorkloadError

COLUMNS: tuple[str, ...] = (
    "Timestamp [ms]",
    "CPU cores",
    "CPU capacity provisioned [MHZ]",
    "CPU usage [MHZ]",
    "CPU usage [%]",
    "Memory capacity provisioned [KB]",
    "Memory usage [KB]",
    "Disk read throughput [KB/s]",
    "Disk write throughput [KB/s]",
    "Network received throughput [KB/s]",
    "Network transmitted throughput [KB/s]",
)
"""The 11 columns of a GWA-T-12 file, in order."""

MIPS_PER_MHZ = 2054.0 / 1200.0

CONVERSIONS: dict[str, tuple[str, float]] = {
    "cpu_mips": ("CPU usage [MHZ]", MIPS_PER_MHZ),
    "ram_mb": ("Memory usage [KB]", 1.0 / 4000.0),
    "disk_read_mbps": ("Disk read throughput [KB/s]", 1.0 / 4000.0),
    "disk_write_mbps": ("Disk write throughput [KB/s]", 1.0 / 12000.0),
    "net_rx_mbps": ("Network received throughput [KB/s]", 1.0 / 1000.0),
    "net_tx_mbps": ("Network transmitted throughput [KB/s]", 1.0 / 1000.0),
    "cpu_cap_mips": ("CPU capacity provisioned [MHZ]", MIPS_PER_MHZ),
}
"""Simulator series -> (source column, factor). Every other column is checked, not used."""

FILTER_INDEX = 10
"""The filter looks at the 11th sample, as the original did."""


@dataclass(frozen=True)
class BitbrainsTrace:
    """One VM in simulator units; every array is float64 of the file's length R."""

    path: Path
    series: dict[str, np.ndarray]  # name in CONVERSIONS -> (R,)

    @property
    def n_samples(self) -> int:
        return int(self.series["cpu_mips"].shape[0])


def read_trace(path: Path | str) -> BitbrainsTrace:
    """Read and validate one GWA-T-12 file; raise WorkloadError naming file, column and line."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep=";", skipinitialspace=True)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise WorkloadError(f"{path}: cannot be read as a GWA-T-12 CSV ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise WorkloadError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}. Expected the "
            "GWA-T-12 header with fields separated by ';' plus a tab"
        )
    if len(frame) <= FILTER_INDEX:
        raise WorkloadError(
            f"{path}: {len(frame)} data rows, need at least {FILTER_INDEX + 1} (the filter reads "
            f"sample {FILTER_INDEX + 1})"
        )
    series = {
        name: _numeric_column(frame, path, col) * factor
        for name, (col, factor) in CONVERSIONS.items()
    }
    return BitbrainsTrace(path=path, series=series)


def _numeric_column(frame: pd.DataFrame, path: Path, column: str) -> np.ndarray:
    """Parse one column as finite, non-negative floats; name the first bad line (header = line 1)."""
    raw = frame[column]
    if not pd.api.types.is_numeric_dtype(raw):  # some field failed to parse: find it
        raw = raw.astype("string").str.strip()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)  # (R,)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        text = "" if pd.isna(raw.iloc[row]) else str(raw.iloc[row])
        kind = "empty or NaN" if text.lower() in ("", "nan") else "not a finite non-negative number"
        raise WorkloadError(f"{path}: column {column!r}, line {row + 2}: value {text!r} is {kind}")
    return values


def list_trace_files(root: Path | str) -> list[Path]:
    """The *.csv files of a folder in numeric-then-name order (1.csv, 2.csv, ..., 10.csv)."""
    root = Path(root)
    if not root.is_dir():
        raise WorkloadError(f"{root}: Bitbrains folder does not exist")
    files = sorted(
        root.glob("*.csv"),
        key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.name),
    )
    if not files:
        raise WorkloadError(f"{root}: no *.csv trace files in the Bitbrains folder")
    return files


def split_windows(trace: BitbrainsTrace, length: int, windows: bool) -> list[dict[str, np.ndarray]]:
    """Cut a trace into series of exactly `length` samples.

    windows=False: one series per file, its first `length` samples (the original replays a
    file from its start); a shorter file is tiled (repeated from its start) up to `length`.
    windows=True: every whole, non-overlapping window of `length` samples is its own series
    (a file shorter than `length` gives one tiled series). This turns a handful of files into
    enough filtered traces to measure, at the cost of starting traces mid-file.
    """
    r = trace.n_samples
    if r < length:
        reps = -(-length // r)
        return [{k: np.tile(v, reps)[:length] for k, v in trace.series.items()}]
    n_win = r // length if windows else 1
    return [
        {k: v[w * length : (w + 1) * length] for k, v in trace.series.items()} for w in range(n_win)
    ]


def filtered_series(
    root: Path | str,
    length: int,
    cpu_min_mips: float = 500.0,
    cpu_max_mips: float = 3000.0,
    windows: bool = False,
) -> list[dict[str, np.ndarray]]:
    """All series of `length` samples whose 11th CPU sample lies in [cpu_min_mips, cpu_max_mips]."""
    if length <= FILTER_INDEX:
        raise WorkloadError(f"{root}: length must exceed {FILTER_INDEX}, got {length}")
    if not cpu_min_mips <= cpu_max_mips:
        raise WorkloadError(f"{root}: filter bounds inverted: [{cpu_min_mips}, {cpu_max_mips}]")
    kept = [
        s
        for path in list_trace_files(root)
        for s in split_windows(read_trace(path), length, windows)
        if cpu_min_mips <= s["cpu_mips"][FILTER_INDEX] <= cpu_max_mips
    ]
    if not kept:
        raise WorkloadError(
            f"{root}: no trace has its sample {FILTER_INDEX + 1} CPU demand within "
            f"[{cpu_min_mips}, {cpu_max_mips}] MIPS"
        )
    return kept


def load_bitbrains(
    root: Path | str,
    length: int,
    cpu_min_mips: float = 500.0,
    cpu_max_mips: float = 3000.0,
    windows: bool = False,
) -> WorkloadBank:
    """Read a GWA-T-12 folder into a WorkloadBank of (N, length) float32 traces.

    Traces of different lengths are made equal by truncating to `length` samples or, for a
    shorter file, tiling it from its start (see `split_windows`). A trace's cpu_max_mips is
    the largest provisioned capacity within its series, and never below its own peak demand
    (some files record a capacity of 0 while using CPU).
    """
    kept = filtered_series(root, length, cpu_min_mips, cpu_max_mips, windows)
    stacked = {k: np.stack([s[k] for s in kept]).astype(np.float32) for k in CONVERSIONS}  # (N, L)
    cap = np.maximum(stacked["cpu_cap_mips"].max(axis=1), stacked["cpu_mips"].max(axis=1))  # (N,)
    return WorkloadBank(
        **{k: stacked[k] for k in SERIES_FIELDS},
        cpu_max_mips=cap,
        source=f"bitbrains:{root}",
    )
