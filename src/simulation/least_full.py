"""The default scheduler: keep what runs, put each newcomer on the least-loaded host."""

from __future__ import annotations

import numpy as np

from pregan.simulation.batch import ClusterView
from pregan.simulation.interfaces import Observation


class LeastFullScheduler:
    """Deterministic least-full placement.

    Placed containers stay; each unplaced one (new, or evicted by a crash) goes, in slot
    order, to the up host with the most free MIPS among those where its base MIPS, RAM and
    disk fit, or waits when none does. This is `placement.relocate` with `most_free_mips`
    from the observed free capacity, written over a batch of clusters so that a vector
    environment schedules all of them at once; a single observation is a batch of one.
    """

    name = "least_full"

    def place(self, obs: Observation) -> np.ndarray:
        """(C,) placement of one cluster."""
        return self.place_batch(ClusterView.of(obs))[0]

    def place_batch(self, view: ClusterView) -> np.ndarray:
        """(B, C) int64 placements of B clusters, row b exactly `place` of row b."""
        placement = np.where(view.active, view.placement, -1).astype(np.int64)  # (B, C)
        free = np.stack(
            [view.host_free_mips, view.host_free_ram_mb, view.host_free_disk_mb], axis=-1
        ).astype(np.float64)  # (B, H, 3)
        demand = np.stack(
            [view.container_mips, view.container_ram_mb, view.container_disk_mb], axis=-1
        ).astype(np.float64)  # (B, C, 3)
        up = np.asarray(view.host_up, dtype=bool)  # (B, H)
        needs = np.asarray(view.needs_placement, dtype=bool)  # (B, C)
        order = np.cumsum(needs, axis=1) - 1  # (B, C) rank of a waiting slot in its cluster
        for k in range(int(needs.sum(axis=1).max(initial=0))):
            # The k-th waiting slot of every cluster that has one: slot order within a
            # cluster, as the single-cluster rule goes, all clusters at once.
            rows, c = np.nonzero(needs & (order == k))  # (R,) each, one slot per cluster
            d = demand[rows, c]  # (R, 3)
            f = free[rows]  # (R, H, 3)
            feasible = up[rows] & (f[..., 0] >= d[:, None, 0])  # (R, H)
            feasible &= (f[..., 1] >= d[:, None, 1]) & (f[..., 2] >= d[:, None, 2])
            dst = np.where(feasible, f[..., 0], -np.inf).argmax(axis=1)  # (R,)
            ok = feasible.any(axis=1)
            rows, dst = rows[ok], dst[ok]
            free[rows, dst] -= d[ok]
            placement[rows, c[ok]] = dst
        return placement
