"""SMD reader: round trip on a tiny machine, each bad input's error, smoke on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pregan.data.generic import TraceFormatError
from pregan.data.smd import SmdLayoutError, list_machines, load_cases, load_machine

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SMD = REPO_ROOT.parent / "shared" / "data" / "smd"


def _write_machine(
    root: Path,
    name: str = "m-1",
    train_rows: int = 6,
    test: str | None = None,
    labels: str | None = None,
    segments: str | None = "2-3:1,3\n7-8:2\n",
) -> None:
    for sub in ("train", "test", "test_label", "interpretation_label"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"0.{i},0.5,0.1" for i in range(train_rows))
    (root / "train" / f"{name}.txt").write_text(rows + "\n")
    test = test or "\n".join(f"0.{i},0.5,0.2" for i in range(8)) + "\n"
    (root / "test" / f"{name}.txt").write_text(test)
    (root / "test_label" / f"{name}.txt").write_text(labels or "0\n0\n1\n1\n0\n0\n0\n1\n")
    if segments is not None:
        (root / "interpretation_label" / f"{name}.txt").write_text(segments)


def test_round_trip_and_overlap_matching(tmp_path: Path) -> None:
    _write_machine(tmp_path)
    assert list_machines(tmp_path) == ["m-1"]
    case = load_machine(tmp_path, "m-1")
    assert case.train.shape == (6, 3) and case.test.shape == (8, 3)
    assert case.train.dtype == np.float32
    np.testing.assert_array_equal(case.labels, [0, 0, 1, 1, 0, 0, 0, 1])
    # run rows 2..3 overlaps segment 2-3 (0-based 1..2) -> dims 0, 2; run row 7 -> dim 1
    expected = np.zeros((8, 3), dtype=bool)
    expected[2:4, [0, 2]] = True
    expected[7, 1] = True
    np.testing.assert_array_equal(case.root_cause, expected)
    assert [c.name for c in load_cases(str(tmp_path))] == ["m-1"]


def test_machine_without_segments_has_no_root_cause(tmp_path: Path) -> None:
    _write_machine(tmp_path, segments=None)
    assert load_machine(tmp_path, "m-1").root_cause is None


def test_empty_root_names_layout(tmp_path: Path) -> None:
    with pytest.raises(SmdLayoutError, match="train/<machine>.txt"):
        list_machines(tmp_path)


def test_column_mismatch(tmp_path: Path) -> None:
    _write_machine(tmp_path, test="0.1,0.2\n" * 8)
    with pytest.raises(
        TraceFormatError, match=r"test/m-1.txt: 2 columns, but the train file has 3"
    ):
        load_machine(tmp_path, "m-1")


def test_label_length(tmp_path: Path) -> None:
    _write_machine(tmp_path, labels="0\n1\n")
    with pytest.raises(TraceFormatError, match=r"test_label/m-1.txt: 2 labels.*8 rows"):
        load_machine(tmp_path, "m-1")


def test_bad_label_value_names_line(tmp_path: Path) -> None:
    _write_machine(tmp_path, labels="0\n0\n2\n1\n0\n0\n0\n1\n")
    with pytest.raises(TraceFormatError, match=r"test_label/m-1.txt: line 3"):
        load_machine(tmp_path, "m-1")


def test_segment_beyond_end(tmp_path: Path) -> None:
    _write_machine(tmp_path, segments="2-3:1\n7-9:2\n")
    with pytest.raises(
        TraceFormatError, match=r"interpretation_label/m-1.txt: line 2: rows 7-9 outside 1..8"
    ):
        load_machine(tmp_path, "m-1")


def test_segment_dim_out_of_range(tmp_path: Path) -> None:
    _write_machine(tmp_path, segments="2-3:4\n")
    with pytest.raises(TraceFormatError, match=r"line 1: dims \[4\] outside 1..3"):
        load_machine(tmp_path, "m-1")


def test_malformed_segment_line(tmp_path: Path) -> None:
    _write_machine(tmp_path, segments="2-3:1\n5:2\n")
    with pytest.raises(TraceFormatError, match=r"line 2: malformed segment '5:2'"):
        load_machine(tmp_path, "m-1")


def test_nan_row_names_line(tmp_path: Path) -> None:
    rows = [f"0.{i},0.5,0.2" for i in range(8)]
    rows[4] = "0.4,nan,0.2"
    _write_machine(tmp_path, test="\n".join(rows) + "\n")
    with pytest.raises(TraceFormatError, match=r"test/m-1.txt: line 5, column 2"):
        load_machine(tmp_path, "m-1")


def test_short_row_names_line(tmp_path: Path) -> None:
    rows = [f"0.{i},0.5,0.2" for i in range(8)]
    rows[6] = "0.4,0.5"
    _write_machine(tmp_path, test="\n".join(rows) + "\n")
    with pytest.raises(TraceFormatError, match=r"test/m-1.txt: line 7, column 3: missing"):
        load_machine(tmp_path, "m-1")


def test_missing_test_file_names_layout(tmp_path: Path) -> None:
    _write_machine(tmp_path)
    (tmp_path / "test" / "m-1.txt").unlink()
    with pytest.raises(SmdLayoutError, match="test/m-1.txt: file missing"):
        load_machine(tmp_path, "m-1")


def test_smoke_on_shared_machine() -> None:
    if not (SHARED_SMD / "train").is_dir():
        pytest.skip(f"shared SMD data absent at {SHARED_SMD}")
    name = list_machines(SHARED_SMD)[0]
    case = load_machine(SHARED_SMD, name)
    assert case.train.shape[1] == case.test.shape[1] == 38
    assert case.labels.shape == (case.test.shape[0],)
    assert case.labels.any()
    # every labelled root cause sits on a labelled point
    assert not (case.root_cause.any(axis=1) & ~case.labels).any()
    assert 0.0 <= case.test[:500].min() and case.test[:500].max() <= 1.0 + 1e-6
