"""Generic CSV/Parquet reader: round trips and each bad input's error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pregan.data.generic import TraceFormatError, read_generic


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.DataFrame({"timestamp": [1, 2, 3], "cpu": [0.1, 0.2, 0.3], "ram": [1.0, 1.0, 2.0]})
    test = pd.DataFrame(
        {
            "timestamp": [4, 5, 6, 7],
            "cpu": [0.1, 0.9, 0.8, 0.2],
            "ram": [1.0, 1.0, 3.0, 1.0],
            "label": [0, 1, 1, 0],
            "root_cause": ["", "cpu", "cpu;ram", ""],
        }
    )
    return train, test


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    train, test = _frames()
    for name, df in (("train", train), ("test", test)):
        path = tmp_path / f"{name}{suffix}"
        df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    s = read_generic(tmp_path / f"train{suffix}", tmp_path / f"test{suffix}")
    assert s.dim_names == ("cpu", "ram")
    assert s.train.shape == (3, 2) and s.test.dtype == np.float32
    np.testing.assert_array_equal(s.labels, [0, 1, 1, 0])
    np.testing.assert_array_equal(s.root_cause, [[0, 0], [1, 0], [1, 1], [0, 0]])


def test_optional_columns_absent(tmp_path: Path) -> None:
    train, test = _frames()
    train.to_csv(tmp_path / "a.csv", index=False)
    test.drop(columns=["label", "root_cause"]).to_csv(tmp_path / "b.csv", index=False)
    s = read_generic(tmp_path / "a.csv", tmp_path / "b.csv")
    assert s.labels is None and s.root_cause is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.assign(label=[0, 2, 1, 0]), r"column 'label', data row 2: expected 0 or 1"),
        (lambda d: d.assign(root_cause=["", "gpu", "", ""]), r"data row 2: unknown metric 'gpu'"),
        (
            lambda d: d.assign(timestamp=[4, 6, 5, 7]),
            r"data row 3: timestamps not strictly increasing",
        ),
        (lambda d: d.assign(cpu=[0.1, "x", 0.2, 0.3]), r"column 'cpu', data row 2: value 'x'"),
    ],
)
def test_bad_test_file(tmp_path: Path, edit, message: str) -> None:
    train, test = _frames()
    train.to_csv(tmp_path / "a.csv", index=False)
    edit(test).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(TraceFormatError, match=message):
        read_generic(tmp_path / "a.csv", tmp_path / "b.csv")


def test_train_missing_metric(tmp_path: Path) -> None:
    train, test = _frames()
    train.drop(columns=["ram"]).to_csv(tmp_path / "a.csv", index=False)
    test.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(TraceFormatError, match=r"a.csv: metric columns \['ram'\]"):
        read_generic(tmp_path / "a.csv", tmp_path / "b.csv")


def test_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(TraceFormatError, match="expected a .csv or .parquet"):
        read_generic(tmp_path / "a.txt", tmp_path / "a.txt")


def test_label_runs_lives_in_data_and_data_does_not_import_evaluation() -> None:
    """Imports point one way: loaders get `label_runs` from data, never from evaluation."""
    import subprocess
    import sys

    from pregan.data.generic import label_runs

    np.testing.assert_array_equal(label_runs(np.array([0, 1, 1, 0, 1])), [[1, 3], [4, 5]])
    code = (
        "import sys, pregan.data.smd, pregan.data.synthetic_anomalies; "
        "bad = [m for m in sys.modules if m.startswith('pregan.evaluation')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
