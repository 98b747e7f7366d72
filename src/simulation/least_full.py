"""The default scheduler: keep what runs, put each newcomer on the least-loaded host."""

from __future__ import annotations

import numpy as np

from pregan.simulation.interfaces import Observation


class LeastFullScheduler:
    """Deterministic least-full placement.

    Placed containers stay; each unplaced one (new, or evicted by a crash) goes, in slot
    order, to the up host with the most free MIPS among those where its base MIPS, RAM and
    disk fit, or waits when none does. Only the few unplaced containers are looped over;
    the host choice is one vectorised argmax.
    """

    name = "least_full"

    def place(self, obs: Observation) -> np.ndarray:
        placement = np.where(obs.active, obs.placement, -1).astype(np.int64)  # (C,)
        free_mips = obs.host_free_mips.astype(np.float64)  # (H,)
        free_ram = obs.host_free_ram_mb.astype(np.float64)
        free_disk = obs.host_free_disk_mb.astype(np.float64)
        for c in np.flatnonzero(obs.needs_placement):
            fits = (
                obs.host_up
                & (free_mips >= obs.container_mips[c])
                & (free_ram >= obs.container_ram_mb[c])
                & (free_disk >= obs.container_disk_mb[c])
            )
            if not fits.any():
                continue
            h = int(np.argmax(np.where(fits, free_mips, -np.inf)))
            placement[c] = h
            free_mips[h] -= obs.container_mips[c]
            free_ram[h] -= obs.container_ram_mb[c]
            free_disk[h] -= obs.container_disk_mb[c]
        return placement
