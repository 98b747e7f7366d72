"""The GWA-T-12 reader: exact conversions and filter on real files, clear errors on bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pregan.simulation.bitbrains import COLUMNS, MIPS_PER_MHZ, load_bitbrains, read_trace
from pregan.simulation.workload_bank import WorkloadError

REPO_ROOT = Path(__file__).resolve().parents[2]
RND = REPO_ROOT.parent / "shared" / "data" / "bitbrains" / "rnd" / "2013-9"
needs_data = pytest.mark.skipif(not RND.is_dir(), reason=f"real Bitbrains traces absent at {RND}")

GOOD_ROW = [
    "1377986608",
    "2",
    "5851.9989",
    "239.93",
    "4.1",
    "8388608.0",
    "520092.8",
    "8.0",
    "24.0",
    "15.9",
    "22.1",
]


def write_csv(
    path: Path, rows: list[list[str]], header: tuple[str, ...] = COLUMNS, sep: str = ";\t"
) -> Path:
    path.write_text("\n".join(sep.join(r) for r in [list(header), *rows]) + "\n")
    return path


def raw_rows(path: Path) -> list[list[float]]:
    """The file parsed by hand, independently of pandas."""
    lines = path.read_text().splitlines()[1:]
    return [[float(x) for x in line.split(";\t")] for line in lines]


@needs_data
def test_conversions_exact_on_a_real_row() -> None:
    path = RND / "1.csv"
    row = raw_rows(path)[5]
    s = read_trace(path).series
    expected = {
        "cpu_mips": row[3] * 2054 / 1200,
        "cpu_cap_mips": row[2] * 2054 / 1200,
        "ram_mb": row[6] / 4000,
        "disk_read_mbps": row[7] / 4000,
        "disk_write_mbps": row[8] / 12000,
        "net_rx_mbps": row[9] / 1000,
        "net_tx_mbps": row[10] / 1000,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(s[name][5], value, rtol=1e-12, err_msg=name)


@needs_data
def test_filter_keeps_exactly_files_whose_11th_sample_is_in_range() -> None:
    c10 = {p: raw_rows(p)[10][3] * MIPS_PER_MHZ for p in RND.glob("*.csv")}
    expected = sorted(v for v in c10.values() if 500 <= v <= 3000)
    bank = load_bitbrains(RND, length=50)  # one trace per file, from its start
    assert 0 < bank.n_traces < len(c10)
    np.testing.assert_allclose(np.sort(bank.cpu_mips[:, 10]), expected, rtol=1e-6)
    assert bank.cpu_mips.dtype == np.float32 and bank.length == 50
    assert (bank.cpu_max_mips >= bank.cpu_mips.max(axis=1)).all()
    wide = load_bitbrains(RND, length=50, cpu_min_mips=0.0, cpu_max_mips=1e9)
    assert wide.n_traces == len(c10)


@needs_data
def test_windows_are_filtered_on_their_own_11th_sample() -> None:
    bank = load_bitbrains(RND, length=288, windows=True)
    assert bank.n_traces > 30
    assert ((bank.cpu_mips[:, 10] >= 500) & (bank.cpu_mips[:, 10] <= 3000)).all()


def test_short_file_is_tiled_to_length(tmp_path: Path) -> None:
    rows = [[str(i), *GOOD_ROW[1:3], str(600 + i), *GOOD_ROW[4:]] for i in range(12)]
    write_csv(tmp_path / "1.csv", rows)
    bank = load_bitbrains(tmp_path, length=30)
    demand = (600 + np.arange(30) % 12) * MIPS_PER_MHZ
    np.testing.assert_allclose(bank.cpu_mips[0], demand, rtol=1e-6)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda rows: (COLUMNS[:7] + COLUMNS[8:], [r[:7] + r[8:] for r in rows], ";\t"),
            "missing column",
        ),
        (lambda rows: (COLUMNS, rows, ","), "missing column"),
        (lambda rows: (COLUMNS, _set(rows, 13, 6, "NaN"), ";\t"), "'Memory usage [KB]', line 15"),
        (lambda rows: (COLUMNS, _set(rows, 13, 3, ""), ";\t"), "'CPU usage [MHZ]', line 15"),
        (
            lambda rows: (COLUMNS, _set(rows, 4, 9, "abc"), ";\t"),
            "'Network received throughput [KB/s]', line 6",
        ),
        (
            lambda rows: (COLUMNS, _set(rows, 2, 8, "-3"), ";\t"),
            "'Disk write throughput [KB/s]', line 4",
        ),
        (lambda rows: (COLUMNS, rows[:5], ";\t"), "need at least 11"),
    ],
    ids=[
        "missing_column",
        "wrong_separator",
        "nan",
        "empty",
        "non_numeric",
        "negative",
        "too_few_rows",
    ],
)
def test_bad_file_gives_one_clear_error(tmp_path: Path, mutate, message: str) -> None:
    header, rows, sep = mutate([list(GOOD_ROW) for _ in range(20)])
    path = write_csv(tmp_path / "7.csv", rows, header, sep)
    with pytest.raises(WorkloadError, match=re.escape(str(path))) as err:
        load_bitbrains(tmp_path, length=20)
    assert message in str(err.value)


def _set(rows: list[list[str]], i: int, j: int, value: str) -> list[list[str]]:
    rows[i][j] = value
    return rows


def test_empty_missing_or_all_filtered_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="no \\*.csv"):
        load_bitbrains(tmp_path, length=20)
    with pytest.raises(WorkloadError, match="does not exist"):
        load_bitbrains(tmp_path / "nope", length=20)
    write_csv(tmp_path / "1.csv", [list(GOOD_ROW) for _ in range(20)])  # 239.93 MHz = 411 MIPS
    with pytest.raises(WorkloadError, match="no trace has its sample 11"):
        load_bitbrains(tmp_path, length=20)
    assert load_bitbrains(tmp_path, length=20, cpu_min_mips=400).n_traces == 1
