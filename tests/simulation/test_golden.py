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

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sim_4hosts_seed7.json"


def summarise(rec) -> dict:
    return {
        "qos_sum": {c: float(np.nansum(rec.qos[:, i])) for i, c in enumerate(QOS_COLUMNS)},
        "metrics_mean": [float(x) for x in rec.host_metrics.mean(axis=(0, 1))],
        "metrics_first_rows": rec.host_metrics[:3].round(6).tolist(),
        "placement": rec.placement.tolist(),
        "fault_class": rec.fault_class.tolist(),
    }


def test_golden_episode(sim_factory) -> None:
    sim = sim_factory(7, n_hosts=4, n_intervals=30, arrival_scale=1.0)
    sched = LeastFullScheduler()
    while not sim.done:
        sim.step(sched.place(sim.observe()))
    got = summarise(sim.record())
    if os.environ.get("PREGAN_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["placement"] == want["placement"]
    assert got["fault_class"] == want["fault_class"]
    for c in QOS_COLUMNS:
        assert np.isclose(got["qos_sum"][c], want["qos_sum"][c], rtol=1e-6), c
    np.testing.assert_allclose(got["metrics_mean"], want["metrics_mean"], rtol=1e-5)
    np.testing.assert_allclose(got["metrics_first_rows"], want["metrics_first_rows"], atol=2e-6)
