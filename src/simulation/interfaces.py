"""The types every part of the project exchanges with the simulator.

The simulator, the schedulers, the recovery policies (PreGAN and the baselines) and the
evaluation runner all meet here, so that each can be written and tested on its own.

Conventions, fixed for the whole project:
- H hosts, C container slots (C = n_hosts by default, as in the original), D monitored
  metrics (`ClusterSpec.metrics`, from `simulation.metrics`; "cpu" is always column 0).
- A placement is an int array of shape (C,): the host index of each slot, -1 for an empty
  slot or a container that is not (yet) placed.
- Units: MIPS, MB, MB/s (Mb/s for NICs and the router, named so), seconds, joules. Utilisations are fractions of capacity (1.0 = full).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

METRICS: tuple[str, ...] = (
    "cpu",  # user + system CPU time (containers, fault load, OS), fraction of the host's MIPS
    "cpu_iowait",  # CPU time idle while waiting on disk I/O, fraction
    "cpu_softirq",  # CPU time in network soft interrupts, fraction
    "ram",  # resident memory, fraction of RAM
    "swap",  # swap in use, fraction of swap space
    "disk",  # disk busy time (read + write), fraction (the original's single disk column)
    "disk_read",  # bytes read, fraction of the read bandwidth
    "disk_write",  # bytes written, fraction of the write bandwidth
    "net",  # mean of net_in and net_out
    "net_in",  # bytes received, fraction of the NIC's downlink
    "net_out",  # bytes sent, fraction of the NIC's uplink
)
"""Every per-host metric the simulator can report (a node-exporter-like catalogue)."""

DEFAULT_METRICS: tuple[str, ...] = (
    "cpu",
    "cpu_iowait",
    "cpu_softirq",
    "ram",
    "swap",
    "disk_read",
    "disk_write",
    "net_in",
    "net_out",
)
"""What each host reports by default (`simulation.metrics`); cpu always comes first."""

ORIGINAL_METRICS: tuple[str, ...] = ("cpu", "ram", "disk")
"""The original's three monitored columns (`simulation.metrics=[cpu,ram,disk]`)."""

FAULT_KINDS: tuple[str, ...] = (
    "cpu_overload",
    "memory_leak",
    "disk_contention",
    "network_saturation",
    "node_crash",
)
"""Fault classes; class id k (1-based) is FAULT_KINDS[k - 1]; 0 means no fault."""

QOS_COLUMNS: tuple[str, ...] = (
    "energy_j",  # sum over hosts of power x interval length
    "mean_response_s",  # mean response time of containers finished this interval (NaN if none)
    "sla_violations",  # containers finished this interval after their deadline
    "completed",  # containers finished this interval
    "migrations",  # containers moved between hosts this interval
    "mean_migration_s",  # mean migration time of this interval's migrations (NaN if none)
    "mean_wait_intervals",  # mean (start - creation) of containers started this interval (NaN if none)
    "active_containers",  # containers placed on a host during this interval
    "queued_containers",  # containers waiting for a slot or a feasible host
    "deadlines_due",  # containers (finished or not) whose SLA deadline fell in this interval
    "deadlines_missed",  # of those, the ones not finished by their deadline
    "overdue_unfinished",  # containers past their deadline and unfinished at this interval's end
)
"""Per-interval quality-of-service record, one float per column."""


@dataclass(frozen=True)
class ClusterSpec:
    """Static description of a cluster, fixed for an episode."""

    n_hosts: int
    n_slots: int
    host_profile: np.ndarray  # (H,) int, index into profile_names
    profile_names: tuple[str, ...]
    host_ips: np.ndarray  # (H,) MIPS capacity
    host_ram_mb: np.ndarray  # (H,)
    host_disk_mb: np.ndarray  # (H,)
    interval_s: float
    metrics: tuple[str, ...] = DEFAULT_METRICS  # names of host_metrics' last axis, cpu first


@dataclass(frozen=True)
class Observation:
    """What a scheduler or recovery policy may see at the start of interval t.

    Ground truth about faults is deliberately absent: policies observe metrics only.
    """

    t: int  # index of the interval about to be executed
    spec: ClusterSpec
    host_metrics: np.ndarray  # (t, H, D) float32 utilisation history of executed intervals
    host_up: np.ndarray  # (H,) bool, False while a host is crashed (heartbeat is observable)
    placement: np.ndarray  # (C,) int, current host of each slot (after the last interval's
    # completions and crash evictions); -1 if none
    active: np.ndarray  # (C,) bool, slot holds a container
    needs_placement: np.ndarray  # (C,) bool, active but without a host (new or evicted)
    container_mips: np.ndarray  # (C,) base MIPS demand for the next interval (0 if empty)
    container_ram_mb: np.ndarray  # (C,)
    container_disk_mb: np.ndarray  # (C,)
    host_free_mips: np.ndarray  # (H,) capacity minus base demand currently placed
    host_free_ram_mb: np.ndarray  # (H,)
    host_free_disk_mb: np.ndarray  # (H,)
    host_demand: np.ndarray | None = (
        None  # (t, H) float32 scheduled CPU demand / capacity of executed intervals
    )
    placement_history: np.ndarray | None = (
        None  # (t, C) int16 host of each slot during each executed interval, -1 none
    )


@dataclass
class RecoveryDecision:
    """A recovery policy's answer for one interval.

    Only `placement` is acted on. The other fields are what the policy believes, and are
    scored as its detection, diagnosis and classification; None means the method has no
    notion of that figure, so the figure is reported absent, not zero.
    """

    placement: np.ndarray  # (C,) int, final host per slot
    host_scores: np.ndarray | None = None  # (H,) anomaly score, higher = more likely faulty
    host_flags: np.ndarray | None = None  # (H,) bool, hosts detected as faulty
    dim_scores: np.ndarray | None = None  # (H, D) root-cause score per metric, higher first
    fault_class: np.ndarray | None = None  # (H,) int class id 1..5 the method would assign each
    # host (scored over truly faulty hosts only, whether or not they were flagged)


@runtime_checkable
class Scheduler(Protocol):
    """Proposes a placement each interval; PreGAN and the baselines may override it."""

    def place(self, obs: Observation) -> np.ndarray:
        """Return a (C,) placement for every active slot (-1 for empty slots)."""
        ...


@runtime_checkable
class RecoveryPolicy(Protocol):
    """The hook every fault-tolerance method implements (PreGAN, baselines, none, oracle)."""

    name: str

    def reset(self, spec: ClusterSpec) -> None:
        """Forget per-episode state before a new episode on this cluster."""
        ...

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        """See the monitored history and the scheduler's (C,) proposal; may override it."""
        ...
