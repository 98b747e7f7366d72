"""PCFT: LOESS-predicted CPU overload, MMT containers, least-loaded targets (PREGAN.md §4).

Every host whose 1.2 x predicted CPU reaches 100 % sheds its minimum-migration-time container
to the least-loaded feasible host; before 10 intervals exist, hosts above 70 % CPU do.
"""

from __future__ import annotations

from pregan.models.recovery.baselines.loess_policy import LoessMigrationPolicy
from pregan.models.recovery.baselines.method import PolicyMethod
from pregan.simulation.placement import least_loaded


class PCFTMethod(PolicyMethod):
    """PCFT as a `Method` (no training)."""

    def __init__(
        self,
        name: str = "pcft",
        window: int = 10,
        span: float = 0.6,
        headroom: float = 1.2,
        warmup_threshold: float = 0.7,
    ) -> None:
        super().__init__(
            LoessMigrationPolicy(
                window, span, headroom, warmup_threshold, target=least_loaded, name=name
            )
        )
