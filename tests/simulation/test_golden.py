"""A seeded 4-host episode must reproduce its committed output exactly.

Regenerate deliberately (after an intended model change) with
`PREGAN_UPDATE_GOLDEN=1 pytest tests/simulation/test_golden.py`, and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from pregan.simulation.interfaces import QOS_COLUMNS
from pregan.simulation.least_full import LeastFullScheduler

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sim_6hosts_seed7.json"


def summarise(rec) -> dict:
    return {
        "qos_sum": {c: float(np.nansum(rec.qos[:, i])) for i, c in enumerate(QOS_COLUMNS)},
        "metrics_mean": [float(x) for x in rec.host_metrics.mean(axis=(0, 1))],
        "metrics_first_rows": rec.host_metrics[:3].round(6).tolist(),
        "placement": rec.placement.tolist(),
        "fault_class": rec.fault_class.tolist(),
        "fault_truth": rec.fault_truth.sum(axis=(0, 1)).tolist(),
    }


def test_golden_episode(sim_factory) -> None:
    """Regenerated deliberately for the physical cluster (issue 13: units, 1 GbE migration of
    memory + image, load, multi-metric faults and truth, deadline accounting)."""
    # A busy small cluster (load 1.5, the default random faults plus one scripted fault of
    # each kind), where every 3rd interval one container is moved to the next host: queueing,
    # migrations over 1 GbE, swapping, every metric and every root-cause set in 30 intervals.
    kinds = ("cpu_overload", "memory_leak", "disk_contention", "network_saturation", "node_crash")
    scripted = [
        {"host": h, "kind": k, "onset": 4 + 5 * h, "duration": 6, "intensity": 0.9}
        for h, k in enumerate(kinds)
    ]
    scripted[1]["intensity"] = 1.4  # the leak ends in swap
    sim = sim_factory(7, faults={"scripted": scripted}, n_hosts=6, n_intervals=30, load=1.5)
    sched = LeastFullScheduler()
    while not sim.done:
        obs = sim.observe()
        placement = sched.place(obs)
        placed = np.flatnonzero(obs.active & (obs.placement >= 0))
        if sim.t % 3 == 2 and placed.size:
            c = placed[0]
            placement[c] = (obs.placement[c] + 1) % sim.spec.n_hosts
        sim.step(placement)
    got = summarise(sim.record())
    if os.environ.get("PREGAN_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["placement"] == want["placement"]
    assert got["fault_class"] == want["fault_class"]
    assert got["fault_truth"] == want["fault_truth"]
    for c in QOS_COLUMNS:
        assert np.isclose(got["qos_sum"][c], want["qos_sum"][c], rtol=1e-6), c
    np.testing.assert_allclose(got["metrics_mean"], want["metrics_mean"], rtol=1e-5)
    np.testing.assert_allclose(got["metrics_first_rows"], want["metrics_first_rows"], atol=2e-6)
