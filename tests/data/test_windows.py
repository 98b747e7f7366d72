"""Windowing of episodes: edge padding, labels of the last interval, train-only statistics,
the containers channel and its online twin (PlacementHistory)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pregan.data.windows import (
    PlacementHistory,
    WindowDataError,
    WindowDataModule,
    container_share,
    episode_windows,
    last_demand_window,
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
    x, faulty, cls, rc, _, _ = next(iter(dm.test_dataloader()))
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


def _placed(ep: dict[str, np.ndarray], n_slots: int = 6) -> dict[str, np.ndarray]:
    """The episode with a placement: slot c on host (c + t) % 3 at interval t, slots >= 4 empty
    until interval 3."""
    t = ep["host_metrics"].shape[0]
    placement = (np.arange(n_slots)[None] + np.arange(t)[:, None]) % 3  # (T, C)
    placement[:3, 4:] = -1
    demand = np.arange(t * 3, dtype=np.float32).reshape(t, 3) / 10  # (T, H)
    return ep | {"placement": placement.astype(np.int16), "host_demand": demand}


def test_containers_channel_counts_containers_per_host_relative_to_an_even_spread():
    ep = _placed(_episode())
    w = episode_windows(ep, 3, "ep")
    assert w.containers.shape == (6, 3, 3) and w.containers.dtype == np.float32
    counts = np.stack([(ep["placement"] == h).sum(1) for h in range(3)], 1)  # (T, H)
    np.testing.assert_allclose(w.containers[:, -1], counts * 3 / 6)
    np.testing.assert_array_equal(w.containers[0], np.repeat(w.containers[0, -1:], 3, 0))
    np.testing.assert_array_equal(w.containers[5], counts[3:6] * 0.5)
    assert episode_windows(_episode(), 3, "ep").containers is None


def test_demand_channel_windows_host_demand_like_the_containers_channel():
    ep = _placed(_episode())
    w = episode_windows(ep, 3, "ep")
    assert w.demand.shape == (6, 3, 3) and w.demand.dtype == np.float32
    np.testing.assert_array_equal(w.demand, ep["host_demand"][window_indices(6, 3)])
    for t in range(1, 7):  # what a policy sees at the start of t: host_demand[:t]
        np.testing.assert_array_equal(last_demand_window(ep["host_demand"][:t], 3), w.demand[t - 1])
    assert episode_windows(_episode(), 3, "ep").demand is None
    with pytest.raises(WindowDataError, match="host_demand has shape"):
        episode_windows(ep | {"host_demand": ep["host_demand"][:5]}, 3, "ep")
    with pytest.raises(WindowDataError, match="no demand history"):
        last_demand_window(None, 3)


def test_placement_history_rebuilds_the_training_channel_interval_for_interval():
    ep = _placed(_episode())
    w = episode_windows(ep, 3, "ep")
    history = PlacementHistory(n_hosts=3)
    history.record(0, np.full(6, -1))  # nothing executed yet
    for t in range(1, 7):  # at the start of t the policy sees the placement of t - 1
        history.record(t, ep["placement"][t - 1])
        np.testing.assert_array_equal(history.window(3), w.containers[t - 1])
    history.record(2, ep["placement"][1])  # the same interval again replaces, forgets later
    np.testing.assert_array_equal(history.window(3), w.containers[1])
    with pytest.raises(WindowDataError, match="every interval"):
        history.record(4, ep["placement"][3])


def test_placement_history_from_mid_episode_pads_with_its_first_placement():
    ep = _placed(_episode())
    history = PlacementHistory(n_hosts=3)
    history.record(4, ep["placement"][3])
    first = container_share(ep["placement"][3], 3)
    np.testing.assert_array_equal(history.window(3), np.stack([first] * 3))
    with pytest.raises(WindowDataError, match="no interval"):
        PlacementHistory(3).window(3)


def test_batches_carry_the_containers_channel():
    dm = WindowDataModule([_placed(_episode())], [_placed(_episode())], window=3, batch_size=6)
    dm.setup()
    assert dm.has_placement
    batch = next(iter(dm.val_dataloader()))
    assert dm.has_demand
    assert len(batch) == 6 and batch[4].shape == batch[5].shape == (6, 3, 3)
    np.testing.assert_array_equal(batch[4].numpy(), dm.splits["val"].containers)
    np.testing.assert_array_equal(batch[5].numpy(), dm.splits["val"].demand)
    plain = WindowDataModule([_episode()], [_episode()], window=3)
    plain.setup()
    assert not plain.has_placement and not plain.has_demand
    assert torch.all(plain._dataset("train").tensors[4] == 0)
    assert torch.all(plain._dataset("train").tensors[5] == 0)


@pytest.mark.parametrize(
    ("placement", "match"),
    [
        (np.zeros((5, 6), dtype=np.int16), r"placement has shape \(5, 6\)"),
        (np.full((6, 6), 3, dtype=np.int16), r"must be in \[-1, 3\)"),
    ],
)
def test_malformed_placement_is_named(placement, match):
    with pytest.raises(WindowDataError, match=f"ep: .*{match}"):
        episode_windows(_episode() | {"placement": placement}, 3, "ep")


def test_placement_must_be_in_every_episode_of_a_split_or_none():
    dm = WindowDataModule([_placed(_episode()), _episode()], [_episode()], window=3)
    with pytest.raises(WindowDataError, match="train episode 1: no placement"):
        dm.setup()
