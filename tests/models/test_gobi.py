"""GOBI: surrogate training, gradient placement, one-hot rounding and feasibility repair."""

from __future__ import annotations

import numpy as np
import pytest

from pregan.models.recovery.gobi import (
    GobiCheckpointError,
    GOBIScheduler,
    load_surrogate,
    repair,
    save_surrogate,
    train_surrogate,
)
from pregan.simulation.interfaces import ClusterSpec, Observation
from pregan.simulation.placement import one_hot

H = C = 4


def _obs(placement: np.ndarray, up: np.ndarray | None = None) -> Observation:
    spec = ClusterSpec(
        n_hosts=H,
        n_slots=C,
        host_profile=np.zeros(H, np.int8),
        profile_names=("rpi4b-4gb",),
        host_ips=np.full(H, 4029.0),
        host_ram_mb=np.full(H, 4295.0),
        host_disk_mb=np.full(H, 32212.0),
        interval_s=300.0,
    )
    return Observation(
        t=1,
        spec=spec,
        host_metrics=np.full((1, H, 4), 0.3, np.float32),
        host_up=np.ones(H, bool) if up is None else up,
        placement=placement,
        active=np.ones(C, bool),
        needs_placement=placement < 0,
        container_mips=np.full(C, 1500.0),
        container_ram_mb=np.full(C, 1000.0),
        container_disk_mb=np.full(C, 2.0),
        host_free_mips=np.zeros(H),
        host_free_ram_mb=np.zeros(H),
        host_free_disk_mb=np.zeros(H),
    )


@pytest.fixture(scope="module")
def surrogate():
    """A surrogate fitted to 'sum of squared host loads' (balanced placements are better)."""
    rng = np.random.default_rng(0)
    n = 800
    idx = rng.integers(0, H, size=(n, C))
    places = one_hot(idx, H)  # (n, C, H)
    cont = np.full((n, C), 1500.0 / 4029.0, np.float32)
    load = np.einsum("nch,nc->nh", places, cont)
    y = (load**2).sum(axis=1).astype(np.float32)
    return train_surrogate(
        (np.full((n, H), 0.3, np.float32), cont, places, y), H, C, 12, 200, 1e-2, 0
    )


def test_gobi_places_feasibly_and_improves_objective(surrogate) -> None:
    gobi = GOBIScheduler(module=surrogate)
    start = np.array([0, 0, 1, 1])
    out = gobi.place(_obs(start))
    assert out.shape == (C,) and out.dtype == np.int64
    assert ((out >= 0) & (out < H)).all()
    assert (np.bincount(out, minlength=H) <= 2).all()  # 2 x 1500 MIPS fit a 4029-MIPS host
    first, last = gobi.last_objective
    assert last < first
    assert gobi.last_iters <= 200


def test_gobi_avoids_down_hosts_and_places_new_containers(surrogate) -> None:
    gobi = GOBIScheduler(module=surrogate)
    up = np.array([True, True, True, False])
    out = gobi.place(_obs(np.array([-1, -1, 3, 0]), up=up))
    assert (out >= 0).all() and (out != 3).all()


def test_repair_takes_next_best_feasible_host() -> None:
    logits = np.array([[5.0, 1.0, 0.0], [4.0, 2.0, 0.0]])
    cap = np.array([[1.0], [1.0], [1.0]])
    out = repair(logits, np.ones(2, bool), np.ones((2, 1)), cap, np.ones(3, bool))
    np.testing.assert_array_equal(out, [0, 1])


def test_surrogate_checkpoint_roundtrip_and_host_mismatch(surrogate, tmp_path) -> None:
    path = tmp_path / "gobi.ckpt"
    save_surrogate(surrogate, path)
    assert load_surrogate(path, H).hparams.n_hosts == H
    with pytest.raises(GobiCheckpointError, match="n_hosts"):
        load_surrogate(path, 16)
    path.write_text("garbage")
    with pytest.raises(GobiCheckpointError, match="not a readable"):
        load_surrogate(path, H)


def test_hand_derived_gradient_matches_autograd() -> None:
    import torch

    from pregan.models.components.surrogate import PlacementSurrogate

    torch.manual_seed(0)
    net = PlacementSurrogate(H, C, hidden=8).double()
    rng = np.random.default_rng(0)
    hc, ct, p = rng.random(H), rng.random(C), rng.random((C, H))
    y, grad = net.placement_grad(hc, ct, p)  # dense: through the per-host loads and counts
    pt = torch.from_numpy(p).requires_grad_(True)
    yt = net(torch.from_numpy(hc)[None], torch.from_numpy(ct)[None], pt[None])[0]
    yt.backward()
    assert y == pytest.approx(float(yt.detach()), rel=1e-9)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-7, atol=1e-10)
