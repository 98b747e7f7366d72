"""Windowing of episodes: edge padding, labels of the last interval, train-only statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pregan.data.windows import (
    WindowDataError,
    WindowDataModule,
    episode_windows,
    last_window,
    window_indices,
)


def _episode(t: int = 6, h: int = 3, d: int = 4, scale: float = 1.0) -> dict[str, np.ndarray]:
    metrics = (np.arange(t * h * d, dtype=np.float32).reshape(t, h, d) / (t * h * d)) * scale
    fclass = np.zeros((t, h), dtype=np.int8)
    fclass[4:, 1] = 2  # memory leak on host 1 from interval 4
    truth = np.zeros((t, h, d), dtype=bool)
    truth[4:, 1, 1] = True
    return {"host_metrics": metrics, "fault_class": fclass, "fault_truth": truth}


def test_window_indices_pad_with_the_first_interval():
    assert window_indices(4, 3).tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3]]


def test_windows_are_labelled_with_their_last_interval():
    ep = _episode()
    w = episode_windows(ep, 3, "ep")
    assert w.windows.shape == (6, 3, 3, 4) and w.windows.dtype == np.float32
    np.testing.assert_array_equal(w.windows[5], ep["host_metrics"][3:6])
    assert w.faulty[:, 1].tolist() == [0, 0, 0, 0, 1, 1]
    assert w.fault_class[4].tolist() == [0, 2, 0]
    assert w.root_cause[5, 1].tolist() == [0, 1, 0, 0]


def test_last_window_matches_training_windows():
    ep = _episode()
    w = episode_windows(ep, 3, "ep")
    for t in range(1, 7):
        np.testing.assert_array_equal(last_window(ep["host_metrics"][:t], 3), w.windows[t - 1])
    with pytest.raises(WindowDataError, match="history"):
        last_window(np.zeros((0, 3, 4)), 3)


def test_statistics_come_from_the_training_split_only():
    dm = WindowDataModule([_episode()], [_episode(scale=100.0)], window=3)
    dm.setup()
    rows = _episode()["host_metrics"]
    np.testing.assert_allclose(dm.feature_mean, rows.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(dm.feature_std, rows.std(axis=(0, 1)), rtol=1e-5)
    assert (dm.n_hosts, dm.n_features) == (3, 4)
    assert dm.faulty_fraction == pytest.approx(2 / 18)


def test_shuffling_is_seeded():
    eps = [_episode(t=40)]

    def order(seed: int) -> list[float]:
        dm = WindowDataModule(eps, eps, window=3, batch_size=8, seed=seed)
        dm.setup()
        return torch.cat([b[0][:, -1, 0, 0] for b in dm.train_dataloader()]).tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_batches_are_float32_with_integer_labels():
    dm = WindowDataModule([_episode()], [_episode()], [_episode()], window=3, batch_size=4)
    dm.setup()
    x, faulty, cls, rc = next(iter(dm.test_dataloader()))
    assert x.shape == (4, 3, 3, 4) and x.dtype == torch.float32
    assert faulty.dtype == cls.dtype == torch.int64 and rc.dtype == torch.float32


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"host_metrics": np.full((6, 3, 4), np.nan, dtype=np.float32)}, "NaN"),
        ({"fault_class": np.zeros((6, 2), dtype=np.int8)}, "fault_class has shape"),
        ({"fault_truth": np.zeros((6, 3, 3), dtype=bool)}, "fault_truth has shape"),
    ],
)
def test_malformed_episode_names_split_episode_and_field(bad, match):
    ep = _episode() | bad
    dm = WindowDataModule([_episode(), ep], [_episode()], window=3)
    with pytest.raises(WindowDataError, match=f"train episode 1: .*{match}"):
        dm.setup()


def test_host_count_must_agree_across_splits():
    dm = WindowDataModule([_episode()], [_episode(h=5)], window=3)
    with pytest.raises(WindowDataError, match=r"val: \(H, D\)"):
        dm.setup()


def test_missing_split_is_a_clear_error():
    dm = WindowDataModule([_episode()], [_episode()], window=3)
    dm.setup()
    with pytest.raises(WindowDataError, match="test: no episodes"):
        dm.test_dataloader()
