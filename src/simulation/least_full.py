"""The default scheduler: keep what runs, put each newcomer on the least-loaded host."""

from __future__ import annotations

import numpy as np

from pregan.simulation.interfaces import Observation
from pregan.simulation.placement import Capacity, demand_matrix, most_free_mips, relocate


class LeastFullScheduler:
    """Deterministic least-full placement.

    Placed containers stay; each unplaced one (new, or evicted by a crash) goes, in slot
    order, to the up host with the most free MIPS among those where its base MIPS, RAM and
    disk fit, or waits when none does (`placement.relocate` with `most_free_mips`).
    """

    name = "least_full"

    def place(self, obs: Observation) -> np.ndarray:
        placement = np.where(obs.active, obs.placement, -1).astype(np.int64)  # (C,)
        state = Capacity.under_proposal(obs, placement)
        return relocate(
            placement,
            np.flatnonzero(obs.needs_placement),
            demand_matrix(obs),
            state,
            most_free_mips,
        )
