"""The container demand traces a simulation replays, as one block of arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SERIES_FIELDS: tuple[str, ...] = (
    "cpu_mips",
    "ram_mb",
    "disk_read_mbps",
    "disk_write_mbps",
    "net_rx_mbps",
    "net_tx_mbps",
)


class WorkloadError(ValueError):
    """A workload source or bank is malformed; the message names the source and field."""


@dataclass(frozen=True)
class WorkloadBank:
    """N demand traces of L samples (one per scheduling interval), float32.

    A container that arrives replays one row from its first sample onwards; the simulator
    wraps around past L. Keeping all traces in arrays (instead of re-reading files per
    container, as the original did) is what makes a simulated interval cost microseconds.
    """

    cpu_mips: np.ndarray  # (N, L) base CPU demand
    ram_mb: np.ndarray  # (N, L) resident memory
    disk_read_mbps: np.ndarray  # (N, L)
    disk_write_mbps: np.ndarray  # (N, L)
    net_rx_mbps: np.ndarray  # (N, L)
    net_tx_mbps: np.ndarray  # (N, L)
    cpu_max_mips: np.ndarray  # (N,) provisioned maximum a container may burst to
    source: str  # where the traces came from, for error messages and manifests

    def __post_init__(self) -> None:
        shape = self.cpu_mips.shape
        if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
            raise WorkloadError(f"{self.source}: cpu_mips must be (N>0, L>0), got {shape}")
        for name in SERIES_FIELDS:
            arr = getattr(self, name)
            if arr.shape != shape:
                raise WorkloadError(
                    f"{self.source}: {name} has shape {arr.shape}, expected {shape}"
                )
            if not np.isfinite(arr).all():
                raise WorkloadError(f"{self.source}: {name} contains NaN or infinite values")
            if (arr < 0).any():
                raise WorkloadError(f"{self.source}: {name} has negative values (min {arr.min()})")
        if self.cpu_max_mips.shape != (shape[0],):
            raise WorkloadError(
                f"{self.source}: cpu_max_mips has shape {self.cpu_max_mips.shape}, expected ({shape[0]},)"
            )

    @property
    def n_traces(self) -> int:
        return int(self.cpu_mips.shape[0])

    @property
    def length(self) -> int:
        return int(self.cpu_mips.shape[1])
