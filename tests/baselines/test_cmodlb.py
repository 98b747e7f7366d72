import numpy as np
import pytest
import torch

from pregan.models.interfaces import Method
from pregan.models.recovery.baselines.cmodlb import (
    CMODLBDataError,
    CMODLBMethod,
    CMODLBNotFittedError,
    CMODLBPolicy,
)
from pregan.models.recovery.baselines.cmodlb_predictor import latest_windows, next_interval_pairs

TRAINER = {
    "_target_": "lightning.pytorch.Trainer",
    "accelerator": "cpu",
    "devices": 1,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


class LastValue(torch.nn.Module):
    """A perfect persistence predictor, so the clustering logic is tested on its own."""

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return window[:, -1, :]  # (B, W, 3) -> (B, 3)


def _history(t: int, n_hosts: int, hot: list[int]) -> tuple[np.ndarray, np.ndarray]:
    cpu = np.full((t, n_hosts), 0.2)
    other = np.full((t, n_hosts, 3), 0.2)
    cpu[:, hot] = 0.9
    other[:, hot, :2] = 0.8
    return cpu, other


def test_pairs_and_windows_shapes():
    metrics = np.arange(5 * 2 * 4, dtype=np.float32).reshape(5, 2, 4)
    dims = np.array([0, 1, 2])
    x, y = next_interval_pairs(metrics, 3, dims)
    assert x.shape == (4, 3, 3) and y.shape == (4, 3)
    np.testing.assert_array_equal(x[1], metrics[0:3, 1, :3])  # window 0, host 1
    np.testing.assert_array_equal(y[1], metrics[3, 1, :3])
    w = latest_windows(metrics[:1], 3, dims)  # one interval, left-padded
    assert w.shape == (2, 3, 3)
    np.testing.assert_array_equal(w[0], np.repeat(metrics[0, 0, None, :3], 3, axis=0))


def test_flags_the_higher_cluster_and_migrates(obs_factory):
    cpu, other = _history(4, 8, hot=[2])
    placement = np.array([0, 1, 2, 2, 3, 4, 5, 6, 7, -1])
    mips, ram = np.full(10, 400.0), np.array([100.0, 100.0, 700.0, 300.0] + [100.0] * 6)
    obs = obs_factory(cpu, placement, mips, ram, other_history=other)
    policy = CMODLBPolicy(LastValue(), window=3, seed=0)
    decision = policy.decide(obs, placement.copy())
    np.testing.assert_array_equal(np.flatnonzero(decision.host_flags), [2])
    np.testing.assert_array_equal(np.flatnonzero(decision.placement != placement), [3])
    np.testing.assert_allclose(decision.dim_scores[2], [0.9, 0.8, 0.8, -1.0], rtol=1e-6)
    assert decision.fault_class is None
    assert np.argmax(decision.host_scores) == 2


def test_no_flags_when_centres_are_close(obs_factory):
    # 8 hosts need a separation of 0.2; a 0.05 CPU bump is clustered but ignored.
    cpu, other = _history(4, 8, hot=[])
    cpu[:, 2] = 0.25
    placement = np.arange(8)
    obs = obs_factory(cpu, placement, np.full(8, 400.0), np.full(8, 100.0), other_history=other)
    decision = CMODLBPolicy(LastValue(), window=3).decide(obs, placement.copy())
    assert not decision.host_flags.any()
    np.testing.assert_array_equal(decision.placement, placement)


def test_fit_arrays_trains_a_policy(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.9, size=(1, 6, 4))
    train = [
        np.clip(base + rng.normal(0, 0.02, (30, 6, 4)), 0, 1).astype(np.float32) for _ in range(2)
    ]
    val = [np.clip(base + rng.normal(0, 0.02, (20, 6, 4)), 0, 1).astype(np.float32)]
    method = CMODLBMethod(max_epochs=8, batch_size=64, lr=1e-2)
    assert isinstance(method, Method)
    with pytest.raises(CMODLBNotFittedError):
        method.policy()
    metrics = method.fit_arrays(train, val, TRAINER, output_dir=tmp_path, seed=0)
    assert set(metrics) == {"train/loss", "val/loss"}
    assert metrics["val/loss"] < 0.01  # learned persistence of a stable series
    assert method.artifacts()["checkpoints"].is_file()
    pred = method.policy().predict(val[0][:5])
    np.testing.assert_allclose(pred, val[0][4, :, :3], atol=0.15)


def test_fit_is_seeded(tmp_path):
    rng = np.random.default_rng(1)
    train = [rng.uniform(0, 1, (12, 3, 4)).astype(np.float32)]
    outs = []
    for _ in range(2):
        method = CMODLBMethod(max_epochs=1)
        method.fit_arrays(train, train, TRAINER, seed=3)
        outs.append(method.policy().predict(train[0]))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_bad_training_data_names_episode():
    method = CMODLBMethod()
    bad = np.zeros((10, 4, 4), dtype=np.float32)
    bad[3, 1, 0] = np.nan
    with pytest.raises(CMODLBDataError, match="train episode 1"):
        method.fit_arrays([np.zeros((10, 4, 4)), bad], [np.zeros((10, 4, 4))], TRAINER)
    with pytest.raises(CMODLBDataError, match=r"\(T, H, D>2\)"):
        method.fit_arrays([np.zeros((10, 4))], [np.zeros((10, 4, 4))], TRAINER)
