"""Invariants under random fault storms and random placements (Hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pregan.simulation.hosts import power_w
from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS

COL = {c: i for i, c in enumerate(QOS_COLUMNS)}
H, T = 4, 12

fault = st.fixed_dictionaries(
    {
        "host": st.integers(0, H - 1),
        "kind": st.sampled_from(FAULT_KINDS),
        "onset": st.integers(0, T - 1),
        "duration": st.integers(1, 6),
        "intensity": st.floats(0.1, 1.0),
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(storm=st.lists(fault, max_size=8), seed=st.integers(0, 1000), data=st.data())
def test_random_storms_and_placements_keep_invariants(sim_factory, storm, seed, data) -> None:
    sim = sim_factory(seed, faults={"random": False, "scripted": storm}, n_hosts=H, n_intervals=T)
    spec = sim.spec
    completed_total = 0
    while not sim.done:
        obs = sim.observe()
        prev = np.where(obs.active, obs.placement, -1)
        proposal = np.array(
            data.draw(
                st.lists(st.integers(-1, H - 1), min_size=spec.n_slots, max_size=spec.n_slots)
            )
        )
        t = sim.t
        row = sim.step(proposal)
        placed = sim.record().placement[t].astype(np.int64)
        # Empty slots never hold a host; crashed hosts never receive or keep containers.
        assert (placed[~obs.active] == -1).all()
        assert not np.isin(placed[placed >= 0], np.flatnonzero(~obs.host_up)).any()
        # A host that received a container fits every base demand now on it.
        for h in np.unique(placed[(placed >= 0) & (placed != prev)]):
            on = placed == h
            assert obs.container_mips[on].sum() <= spec.host_ips[h] + 1e-6
            assert obs.container_ram_mb[on].sum() <= spec.host_ram_mb[h] + 1e-6
            assert obs.container_disk_mb[on].sum() <= spec.host_disk_mb[h] + 1e-6
        # Energy lies between the up hosts' idle and full power.
        up = obs.host_up
        curves = sim._ctx.hosts.power_w
        lo = power_w(curves, np.zeros(H))[up].sum() * spec.interval_s
        hi = power_w(curves, np.ones(H))[up].sum() * spec.interval_s
        assert lo - 1e-6 <= row[COL["energy_j"]] <= hi + 1e-6
        # Migrations cost time.
        if row[COL["migrations"]] > 0:
            assert row[COL["mean_migration_s"]] > 0
        assert row[COL["active_containers"]] == (placed >= 0).sum()
        completed_total += int(row[COL["completed"]])
        # No container lost or duplicated: everything admitted is running, waiting or done.
        assert sim._admitted == completed_total + int(sim._state.active.sum())
    rec = sim.record()
    m = rec.host_metrics
    assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    crashed = rec.fault_class == FAULT_KINDS.index("node_crash") + 1
    assert (m[crashed] == 0).all()
