"""The live backend: the simulator's interface over real pods, with real faults measured."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import open_dict

from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS

pytestmark = pytest.mark.testbed

# One short live episode: 4 hosts, 2-s intervals, one fault of each kind on its own host.
SCRIPT = [
    {"host": 0, "kind": "cpu_overload", "onset": 2, "duration": 3, "intensity": 0.9},
    {"host": 1, "kind": "memory_leak", "onset": 2, "duration": 3, "intensity": 0.8},
    {"host": 2, "kind": "disk_contention", "onset": 2, "duration": 3, "intensity": 0.9},
    {"host": 3, "kind": "network_saturation", "onset": 2, "duration": 3, "intensity": 0.9},
    {"host": 0, "kind": "node_crash", "onset": 6, "duration": 1, "intensity": 1.0},
]


@pytest.fixture
def live(make_cfg, tmp_path):
    from pregan.testbed.backend import TestbedBackend

    cfg = make_cfg(["backend=testbed", "simulation.interval_s=2.0", "simulation.n_intervals=8"],
                   tmp_path)  # fmt: skip
    with open_dict(cfg):
        cfg.faults.random = False
        cfg.faults.scripted = SCRIPT
        cfg.backend.prefix = "pgtest_be"
    backend = TestbedBackend.from_config(cfg, seed=200)
    yield backend
    backend.close()


def _col(backend, name):
    return backend.spec.metrics.index(name)


def test_a_live_episode_measures_each_injected_fault_in_its_own_metrics(live):
    from pregan.simulation.simulator import Simulator  # noqa: F401  (same interface)

    rows = []
    while not live.done:
        obs = live.observe()
        assert obs.host_metrics.shape == (live.t, 4, len(live.spec.metrics))
        proposal = np.where(obs.needs_placement, np.arange(obs.placement.size) % 4, -1)
        rows.append(live.step(np.where(obs.host_up[np.maximum(proposal, 0)], proposal, -1)))
    rec = live.record()
    assert np.asarray(rows).shape == (8, len(QOS_COLUMNS))
    assert rec.host_metrics.shape == (8, 4, len(live.spec.metrics))
    assert rec.fault_class[3].tolist() == [1, 2, 3, 4]  # FAULT_KINDS order, 1-based
    m = rec.host_metrics
    # Each stressor shows in its own metric, measured from the kernel, against fault-free t=1.
    assert m[3, 0, _col(live, "cpu")] > m[1, 0, _col(live, "cpu")] + 0.3
    assert m[4, 1, _col(live, "ram")] > m[1, 1, _col(live, "ram")] + 0.2
    disk = m[:, 2, _col(live, "disk_read")] + m[:, 2, _col(live, "disk_write")]
    assert disk[3] > disk[1] + 0.3
    assert m[3, 2, _col(live, "cpu_iowait")] > 0.1  # the throttled contender blocks: iowait
    assert m[3, 3, _col(live, "net_out")] > m[1, 3, _col(live, "net_out")] + 0.3
    # Ground truth in the simulator's format: the stressed metric is among those driven.
    assert rec.fault_truth[3, 0, _col(live, "cpu")]
    assert rec.fault_truth[4, 1, _col(live, "ram")]
    assert rec.fault_truth[3, 2, _col(live, "disk_write")]
    assert rec.fault_truth[3, 2, _col(live, "cpu_iowait")]
    assert rec.fault_truth[3, 3, _col(live, "net_out")]
    assert not rec.fault_truth[1].any()
    # The crash: host 0 reports nothing and is down in the heartbeat, its truth is all metrics.
    assert rec.fault_class[6, 0] == FAULT_KINDS.index("node_crash") + 1
    assert (m[6, 0] == 0).all() and rec.fault_truth[6, 0].all()
    assert (rec.placement[6] != 0).all()  # nothing runs on a crashed host


def test_cosimulation_starts_from_the_live_state(live):
    from pregan.simulation.cosim import FaultEstimate

    while live.t < 7:
        obs = live.observe()
        up = obs.host_up
        live.step(np.where(obs.needs_placement, int(np.flatnonzero(up)[-1]), -1))
    obs = live.observe()
    view = live.cosimulator(FaultEstimate.none(4))
    assert view.t == live.t
    # The snapshot holds the containers' measured progress, not a simulated one.
    np.testing.assert_array_equal(view._state.work_done, live._state.work_done)
    res = view.cosimulate(np.stack([obs.placement, np.where(obs.active, 1, -1)]), horizon=2)
    assert np.isfinite(res.energy_j).all() and np.isfinite(res.mean_response_s).all()
