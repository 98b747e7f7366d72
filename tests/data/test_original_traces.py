"""Original PreGAN trace reader: interleaved layout, derived percentile labels, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pregan.data.generic import TraceFormatError
from pregan.data.original_traces import load_cases, load_original_trace, percentile_labels

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_TRACE = REPO_ROOT.parent / "shared" / "data" / "pregan-traces" / "simulator"


def _write(folder: Path, t: int = 5, h: int = 2, c: int = 2, prefix: str = "") -> np.ndarray:
    ts = np.arange(t * 3 * h, dtype=np.float64).reshape(t, 3 * h)
    sched = np.zeros((t, c, h))
    sched[:, :, 0] = 1
    np.save(folder / f"{prefix}time_series.npy", ts)
    np.save(folder / f"{prefix}schedule_series.npy", sched)
    return ts


def test_interleaved_columns_become_host_by_resource(tmp_path: Path) -> None:
    ts = _write(tmp_path)
    trace = load_original_trace(tmp_path)
    assert trace.metrics.shape == (5, 2, 3) and trace.schedule.shape == (5, 2, 2)
    # host 1's ram is column 3 * 1 + 1
    np.testing.assert_array_equal(trace.metrics[:, 1, 1], ts[:, 4].astype(np.float32))


def test_percentile_labels_are_marked_derived() -> None:
    m = np.ones((50, 1, 3), dtype=np.float32)
    m[10, 0, 1] = 9.0  # a ram spike
    labels = percentile_labels(m, 98.0)
    assert labels.derived is True
    assert labels.faulty[:, 0].sum() == 1 and labels.faulty[10, 0]
    assert labels.fault_class[10, 0] == 2  # ram
    np.testing.assert_array_equal(labels.root_cause[10, 0], [False, True, False])


def test_schedule_shape_mismatch(tmp_path: Path) -> None:
    _write(tmp_path)
    np.save(tmp_path / "schedule_series.npy", np.zeros((4, 2, 2)))
    with pytest.raises(TraceFormatError, match=r"schedule_series.npy: expected shape \(T=5"):
        load_original_trace(tmp_path)


def test_columns_not_multiple_of_three(tmp_path: Path) -> None:
    _write(tmp_path)
    np.save(tmp_path / "time_series.npy", np.zeros((5, 7)))
    with pytest.raises(TraceFormatError, match=r"time_series.npy: expected shape \(T, 3H\)"):
        load_original_trace(tmp_path)


def test_nan_row(tmp_path: Path) -> None:
    ts = _write(tmp_path)
    ts[3, 2] = np.nan
    np.save(tmp_path / "time_series.npy", ts)
    with pytest.raises(TraceFormatError, match="row 3 contains NaN"):
        load_original_trace(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="time_series.npy: file missing"):
        load_original_trace(tmp_path)


def test_prefixed_traces_each_give_their_hosts(tmp_path: Path) -> None:
    """The original's history folder names its files simulator_<id>_time_series.npy."""
    _write(tmp_path, t=9, h=2, prefix="simulator_aaa_")
    _write(tmp_path, t=9, h=3, prefix="simulator_bbb_")
    names = [c.name for c in load_cases(str(tmp_path))]
    assert names == [f"simulator_aaa/host-{h}" for h in range(2)] + [
        f"simulator_bbb/host-{h}" for h in range(3)
    ]
    (tmp_path / "simulator_bbb_schedule_series.npy").unlink()
    with pytest.raises(TraceFormatError, match="simulator_bbb_schedule_series.npy: file missing"):
        load_cases(str(tmp_path))


def test_folder_without_trace(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="no trace found; expected time_series.npy"):
        load_cases(str(tmp_path))


def test_shared_trace_cases() -> None:
    if not (SHARED_TRACE / "time_series.npy").is_file():
        pytest.skip(f"shared PreGAN traces absent at {SHARED_TRACE}")
    cases = load_cases(str(SHARED_TRACE))
    assert len(cases) == 16
    assert all(c.labels_derived and c.train.shape[1] == 3 for c in cases)
    assert cases[0].test.shape[0] + cases[0].train.shape[0] == 201
