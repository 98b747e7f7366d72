"""Episode files: round trip, atomic writes, and errors that name the file and field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pregan.data.episodes import (
    EpisodeFormatError,
    EpisodeRecord,
    episode_name,
    load_episode,
    load_split,
    save_episode,
    write_manifest,
)
from pregan.simulation.interfaces import QOS_COLUMNS
from pregan.simulation.record import percentile_labels

NAMES = ("cpu", "ram", "disk", "net")  # a 4-metric episode (any subset of METRICS works)


def record(seed: int = 0, T: int = 6, H: int = 3, C: int = 3) -> EpisodeRecord:
    rng = np.random.default_rng(seed)
    qos = rng.uniform(0, 5, (T, len(QOS_COLUMNS))).astype(np.float32)
    qos[0, QOS_COLUMNS.index("mean_response_s")] = np.nan  # nothing finished: allowed
    klass = rng.integers(0, 6, (T, H)).astype(np.int8)
    return EpisodeRecord(
        host_metrics=rng.uniform(0, 1, (T, H, 4)).astype(np.float32),
        placement=rng.integers(-1, H, (T, C)).astype(np.int16),
        fault_truth=rng.random((T, H, 4)) < 0.2,
        fault_class=klass,
        qos=qos,
        host_profile=np.array([0, 0, 1], dtype=np.int8),
        host_demand=rng.uniform(0, 1.5, (T, H)).astype(np.float32),
        seed=seed,
        metrics=NAMES,
    )


def test_round_trip_leaves_no_temp_files(tmp_path: Path) -> None:
    rec = record()
    path = tmp_path / episode_name(0)
    save_episode(rec, path)
    back = load_episode(path)
    names = ("host_metrics", "placement", "fault_truth", "fault_class", "qos", "host_profile")
    for name in (*names, "host_demand"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rec, name))
        assert getattr(back, name).dtype == getattr(rec, name).dtype
    assert back.seed == 0 and back.metrics == NAMES
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"host_metrics": np.full((6, 3, 4), np.nan, dtype=np.float32)}, "host_metrics"),
        ({"host_metrics": np.full((6, 3, 4), 1.5, dtype=np.float32)}, "host_metrics"),
        ({"fault_class": np.full((6, 2), 1, dtype=np.int8)}, "fault_class"),
        ({"placement": np.full((6, 3), 7, dtype=np.int16)}, "placement"),
        ({"qos": np.full((6, len(QOS_COLUMNS)), -1, dtype=np.float32)}, "qos[energy_j]"),
        ({"host_demand": np.full((6, 3), np.inf, dtype=np.float32)}, "host_demand"),
        ({"host_demand": np.full((6, 3), -0.5, dtype=np.float32)}, "host_demand"),
        ({"host_demand": np.zeros((5, 3), dtype=np.float32)}, "host_demand"),
        ({"metrics": ("cpu", "ram", "disk", "gpu")}, "metrics"),
        ({"metrics": ("cpu", "ram", "disk")}, "host_metrics"),
    ],
)
def test_bad_records_name_file_and_field(tmp_path: Path, change: dict, field: str) -> None:
    path = tmp_path / "bad.npz"
    with pytest.raises(EpisodeFormatError) as err:
        save_episode(replace(record(), **change), path)
    assert str(path) in str(err.value) and f"'{field}'" in str(err.value)
    assert not any(tmp_path.iterdir())


def test_load_rejects_wrong_dtype_on_disk(tmp_path: Path) -> None:
    rec = record()
    path = tmp_path / "e.npz"
    arrays = {
        n: getattr(rec, n)
        for n in (
            "host_metrics",
            "placement",
            "fault_truth",
            "fault_class",
            "qos",
            "host_profile",
            "host_demand",
        )
    }
    arrays["host_metrics"] = arrays["host_metrics"].astype(np.float64)
    np.savez(path, seed=np.int64(0), metrics=np.array(NAMES), **arrays)
    with pytest.raises(EpisodeFormatError, match="'host_metrics' has dtype float64"):
        load_episode(path)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(EpisodeFormatError, match="junk.npz"):
        load_episode(tmp_path / "junk.npz")


def test_split_with_manifest(tmp_path: Path) -> None:
    for s in (3, 1):
        save_episode(record(s), tmp_path / episode_name(s))
    write_manifest(
        tmp_path,
        seeds=[3, 1],
        config={"simulation": {"n_hosts": 3}},
        profile_names=("a", "b"),
        metrics=NAMES,
    )
    recs = load_split(tmp_path)
    assert [r.seed for r in recs] == [3, 1]
    with pytest.raises(EpisodeFormatError, match="manifest missing"):
        load_split(tmp_path / "nowhere")


def test_percentile_labels_follow_the_original_rule() -> None:
    T, H = 100, 2
    m = np.full((T, H, 4), 0.3, dtype=np.float32)
    m[:, :, :] += np.linspace(0, 0.01, T)[:, None, None]  # distinct values, ties broken
    m[40, 0, 0] = 0.9  # CPU spike on host 0
    m[70, 1, 2] = 0.8  # disk spike on host 1
    m[70, 1, 3] = 0.99  # network is not one of the original's columns
    truth, klass = percentile_labels(m, NAMES, 98.0)
    assert klass[40, 0] == 1 and truth[40, 0, 0]
    assert klass[70, 1] == 3 and not truth[70, 1, 3]
    assert truth.shape == (T, H, 4) and klass.dtype == np.int8
    assert 0 < (klass > 0).mean() < 0.05


def test_episode_without_metric_names_is_refused(tmp_path: Path) -> None:
    rec = record()
    path = tmp_path / "old.npz"
    arrays = {n: getattr(rec, n) for n in ("host_metrics", "placement", "fault_truth",
                                           "fault_class", "qos", "host_profile", "host_demand")}  # fmt: skip
    np.savez(path, seed=np.int64(0), **arrays)  # format 2: no metric names
    with pytest.raises(EpisodeFormatError, match="'metrics'"):
        load_episode(path)
