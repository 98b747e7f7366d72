"""Windowing of episodes: edge padding, labels of the last interval, train-only statistics,
the containers and demand channels, and train/serve parity (`live_inputs` on the real
simulator equals the training windows of the recorded episode)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pregan.data.windows import (
    WindowDataError,
    WindowDataModule,
    episode_windows,
    live_inputs,
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


def test_live_inputs_refuse_an_empty_history():
    obs = SimpleNamespace(
        host_metrics=np.zeros((0, 3, 4)), placement_history=None, host_demand=None
    )
    with pytest.raises(WindowDataError, match="history"):
        live_inputs(obs, 3, containers=False, demand=False)
    obs.host_metrics = np.zeros((2, 3, 4))
    with pytest.raises(WindowDataError, match="no placement history"):
        live_inputs(obs, 3, containers=True, demand=False)
    with pytest.raises(WindowDataError, match="no demand history"):
        live_inputs(obs, 3, containers=False, demand=True)


def test_train_serve_parity_on_the_real_simulator():
    """Every channel a policy feeds the classifier at the start of interval t equals the
    training window ending at t - 1 of the recorded episode (metrics, containers, demand),
    with completions, crash evictions and faults happening along the way."""
    from omegaconf import OmegaConf

    from pregan.simulation.least_full import LeastFullScheduler
    from pregan.simulation.simulator import Simulator

    conf = Path(__file__).resolve().parents[2] / "conf"
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(conf / "simulation/default.yaml"),
            "faults": OmegaConf.load(conf / "faults/default.yaml"),
            "workload": OmegaConf.load(conf / "workload/synthetic.yaml"),
        }
    )
    cfg.simulation.n_hosts, cfg.simulation.n_intervals = 6, 40
    crash = {"host": 1, "kind": "node_crash", "onset": 12, "duration": 3, "intensity": 1.0}
    cfg.faults.scripted = [crash]
    sim = Simulator.from_config(cfg, 3)
    sched = LeastFullScheduler()
    live = []
    while not sim.done:
        obs = sim.observe()
        if obs.t >= 1:
            live.append(live_inputs(obs, 4))
        sim.step(sched.place(obs))
    rec = sim.record()
    w = episode_windows(rec, 4, "rec")
    evicted = False
    for t, (window, containers, demand) in enumerate(live, start=1):
        np.testing.assert_array_equal(window, w.windows[t - 1], err_msg=f"metrics at t={t}")
        np.testing.assert_array_equal(containers, w.containers[t - 1], err_msg=f"t={t}")
        np.testing.assert_array_equal(demand, w.demand[t - 1], err_msg=f"demand at t={t}")
        evicted |= bool(rec.qos[t - 1, 3] > 0)  # completions happened
    assert evicted and (rec.fault_class == 5).any()


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
    assert episode_windows(_episode(), 3, "ep").demand is None
    with pytest.raises(WindowDataError, match="host_demand has shape"):
        episode_windows(ep | {"host_demand": ep["host_demand"][:5]}, 3, "ep")


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
