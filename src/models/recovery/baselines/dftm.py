"""DFTM: PCFT's prediction with a migration budget and first-fit targets (PREGAN.md §4).

At most `max_fraction` of the hosts (at least one) act per interval, the highest predicted
first; each sheds its minimum-migration-time container to the lowest-indexed feasible host.
"""

from __future__ import annotations

from pregan.models.recovery.baselines.loess_policy import LoessMigrationPolicy
from pregan.models.recovery.baselines.method import PolicyMethod
from pregan.simulation.placement import first_fit


class DFTMMethod(PolicyMethod):
    """DFTM as a `Method` (no training)."""

    def __init__(
        self,
        name: str = "dftm",
        window: int = 10,
        span: float = 0.6,
        headroom: float = 1.2,
        warmup_threshold: float = 0.7,
        max_fraction: float = 0.04,
    ) -> None:
        super().__init__(
            LoessMigrationPolicy(
                window,
                span,
                headroom,
                warmup_threshold,
                max_fraction=max_fraction,
                target=first_fit,
                name=name,
            )
        )
