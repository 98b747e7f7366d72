"""Container-slot state as (B, C) arrays: B copies of the cluster, one per candidate.

The live simulator is B = 1; co-simulation repeats that row B times and steps all
candidates in one vectorised call through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class SlotState:
    active: np.ndarray  # (B, C) bool, slot holds a container
    host: np.ndarray  # (B, C) int64, host it runs on, -1 if unplaced
    trace: np.ndarray  # (B, C) int64, workload bank row
    sample: np.ndarray  # (B, C) int64, intervals executed so far (next trace sample)
    work_total: np.ndarray  # (B, C) float64, MI
    work_done: np.ndarray  # (B, C) float64, MI
    creation: np.ndarray  # (B, C) int64, arrival interval
    start_s: np.ndarray  # (B, C) float64, absolute start time, NaN before the first placement
    deadline_s: np.ndarray  # (B, C) float64, absolute SLA deadline
    disk_mb: np.ndarray  # (B, C) float64
    image_mb: np.ndarray  # (B, C) float64, container image moved with it on migration
    cid: np.ndarray  # (B, C) int64, arrival index of the container in the slot, -1 if none

    @classmethod
    def empty(cls, n_slots: int, batch: int = 1) -> SlotState:
        shape = (batch, n_slots)
        return cls(
            active=np.zeros(shape, dtype=bool),
            host=np.full(shape, -1, dtype=np.int64),
            trace=np.zeros(shape, dtype=np.int64),
            sample=np.zeros(shape, dtype=np.int64),
            work_total=np.zeros(shape),
            work_done=np.zeros(shape),
            creation=np.zeros(shape, dtype=np.int64),
            start_s=np.full(shape, np.nan),
            deadline_s=np.zeros(shape),
            disk_mb=np.zeros(shape),
            image_mb=np.zeros(shape),
            cid=np.full(shape, -1, dtype=np.int64),
        )

    @property
    def batch(self) -> int:
        return int(self.active.shape[0])

    def copy(self) -> SlotState:
        return SlotState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def repeat(self, batch: int) -> SlotState:
        """B copies of row 0, for scoring B candidates from the same state."""
        return SlotState(
            **{f.name: np.repeat(getattr(self, f.name)[:1], batch, axis=0) for f in fields(self)}
        )
