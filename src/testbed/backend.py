"""A live cluster with the simulator's interface: pods as hosts, real work, real faults.

`TestbedBackend` drives one seeded episode on real containers and answers like
`pregan.simulation.simulator.Simulator` (`spec`, `t`, `done`, `observe()`, `step(placement)`
returning a QOS_COLUMNS row, `fault_class_now()`, `fault_truth_now()`, `cosimulator()`,
`true_faults()`, `record()`; no `fork`: a live cluster cannot be copied).

What is the same as the simulator, for a given seed: the hosts (Raspberry-Pi profiles), the
container arrivals (work, deadlines, workload traces), the fault schedule (kinds, onsets,
intensities), the admission of containers into slots and the feasibility rule of a move
(`engine.resolve_placement`). What is real: each container is a process in a pod whose
cgroup parent has the host's CPU quota and memory limit; it follows its trace's demand
(CPU, resident memory, disk writes under a blkio throttle, UDP out of a tbf-shaped NIC); its
progress is the CPU time the kernel gave it; faults are stressor containers in the host's
pod (a CPU hog, a leak, a disk writer, a UDP flood with iptables drops) or the pod killed;
migrations are CRIU checkpoint/restore; every metric is read from cgroup v1 files, the
kernel's delay accounting and the pod's interface counters. The one derived metric is
`cpu_softirq`: per-pod softirq time is not accounted by the kernel, so it is the NIC load
times `faults.effects.softirq_at_line_rate`, the simulator's own relation.

Time: interval t spans [t, t+1) x interval_s of episode time; the wall clock of an interval
is at least interval_s (podman operations at its start can stretch it), and rates are
divided by the measured wall time.
"""

from __future__ import annotations

import atexit
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pregan.simulation import engine
from pregan.simulation.arrivals import draw_arrivals
from pregan.simulation.config import (
    FaultsConfig,
    SimulationConfig,
    faults_from_dictconfig,
    simulation_from_dictconfig,
)
from pregan.simulation.cosim import Cosimulation, FaultEstimate, check_placement
from pregan.simulation.faults import CPU, CRASH, DISK, LEAK, NET, draw_faults
from pregan.simulation.hosts import BITS_PER_BYTE, build_hosts, cluster_spec, power_w
from pregan.simulation.interfaces import QOS_COLUMNS, ClusterSpec, Observation
from pregan.simulation.placement import host_sum
from pregan.simulation.record import EpisodeRecord
from pregan.simulation.state import SlotState
from pregan.simulation.workload_bank import WorkloadBank
from pregan.testbed import podman as pm
from pregan.testbed.capabilities import probe
from pregan.testbed.config import TestbedConfig, testbed_from_dictconfig

log = logging.getLogger(__name__)

MB = 2**20
TASK_DELAYACCT = Path("/proc/sys/kernel/task_delayacct")


class TestbedUnavailable(RuntimeError):
    """The machine cannot run the test bed; the message lists what is missing."""


@dataclass
class Migration:
    """One attempted move, as the migration log of an episode records it."""

    t: int
    slot: int
    src: int
    dst: int
    ok: bool
    pause_s: float
    bytes_moved: int
    error: str = ""


@dataclass
class _Counters:
    """Cumulative kernel counters of one host at one moment."""

    cpu_ns: int
    rss: int
    swap: int
    rd: int
    wr: int
    rx: int
    tx: int
    blk_delay_s: dict[int, float]  # per pid: a task's delay leaves with it, so deltas are per pid


def _cgroup_counters(file: Callable[[str, str], Path], rx: int, tx: int) -> _Counters:
    """A pod's or a fault container's cumulative counters from its cgroup v1 files
    (`file(controller, name)`), with its network bytes as measured by the caller."""
    mem = pm.memory_stat(file("memory", "memory.stat"))
    rd, wr = pm.blkio_bytes(file("blkio", "blkio.throttle.io_service_bytes_recursive"))
    return _Counters(
        cpu_ns=pm.read_int(file("cpuacct", "cpuacct.usage")),
        rss=mem.get("total_rss", 0) + mem.get("total_rss_huge", 0),
        swap=mem.get("total_swap", 0),
        rd=rd,
        wr=wr,
        rx=rx,
        tx=tx,
        blk_delay_s=pm.blkio_delay_s(file("cpuacct", "")),
    )


class TestbedBackend:
    """One seeded episode on `spec.n_hosts` pods; see the module docstring."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        sim_cfg: SimulationConfig,
        faults_cfg: FaultsConfig,
        bank: WorkloadBank,
        seed: int,
        tb: TestbedConfig,
    ) -> None:
        caps = probe()
        if not caps.ok:
            raise TestbedUnavailable(caps.reason)
        self.cfg, self.faults_cfg, self.tb, self.seed = sim_cfg, faults_cfg, tb, int(seed)
        # The same seed streams as the simulator: identical arrivals and fault schedule.
        arrival_ss, fault_ss, _noise_ss = np.random.SeedSequence(self.seed).spawn(3)
        hosts = build_hosts(sim_cfg)
        self._hosts = hosts
        self.spec: ClusterSpec = cluster_spec(sim_cfg, hosts)
        self._ctx = engine.EngineContext.from_config(sim_cfg, faults_cfg, hosts, bank)
        T, H, C = sim_cfg.n_intervals, hosts.n_hosts, sim_cfg.slots
        D = len(sim_cfg.metrics)
        self._arrivals = draw_arrivals(sim_cfg, bank, hosts.ips, np.random.default_rng(arrival_ss))
        self._faults = draw_faults(faults_cfg, H, T, np.random.default_rng(fault_ss))
        # Emulated capacities on this machine (per host).
        self._cores = hosts.ips / tb.mips_per_core  # (H,) cores of the pod's CPU quota
        self._mem_mb = hosts.ram_mb * tb.ram_scale  # (H,) pod memory limit
        self._rd_mb_s = hosts.disk_read_mb_s * tb.disk_scale  # (H,) blkio throttles
        self._wr_mb_s = hosts.disk_write_mb_s * tb.disk_scale
        self._up_mbit = hosts.net_up * BITS_PER_BYTE * tb.net_scale  # (H,) tbf rate
        self._down_mbit = hosts.net_down * BITS_PER_BYTE * tb.net_scale
        self._state = SlotState.empty(C)
        self._ctrs: list[pm.Container | None] = [None] * C
        self._moves = np.zeros(C, dtype=np.int64)  # container name suffix per slot
        self._admitted = 0
        self.t = 0
        self._metrics = np.zeros((T, H, D), dtype=np.float32)
        self._truth = np.zeros((T, H, D), dtype=bool)
        a = self._arrivals
        self._finish_s = np.full(a.n_total, np.nan)
        self._by_deadline = np.argsort(a.deadline_s, kind="stable")
        edges = np.arange(T + 1) * float(sim_cfg.interval_s)
        self._due_edges = np.searchsorted(a.deadline_s[self._by_deadline], edges, side="left")
        self._placement = np.full((T, C), -1, dtype=np.int16)
        self._demand = np.zeros((T, H), dtype=np.float32)
        self._qos = np.full((T, len(QOS_COLUMNS)), np.nan)
        self.migrations: list[Migration] = []
        self.wall_s: list[float] = []  # measured wall time of each interval
        self.killed = 0  # workers the kernel killed (restarted in place, progress lost)
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{tb.prefix}_"))
        self._down = np.zeros(H, dtype=bool)
        self._fault_ctr: list[pm.Container | None] = [None] * H
        self._fault_kind = np.zeros(H, dtype=np.int64)
        self._dropping = np.zeros(H, dtype=bool)
        atexit.register(self.close)  # pods go even if the episode raised
        TASK_DELAYACCT.write_text("1")  # per-task block I/O delay: the measured iowait
        self._pods = [
            pm.create_pod(
                f"{tb.prefix}-h{h}", f"/{tb.prefix}_h{h}", self._cores[h], self._mem_mb[h]
            )
            for h in range(H)
        ]
        self._infra = [pod.infra_pid() for pod in self._pods]  # netns of each host's NIC
        try:
            for h in range(H):
                self._shape_nic(h)
            self._prepare()
        except Exception:
            self.close()
            raise

    @classmethod
    def from_config(cls, cfg: Any, seed: int) -> TestbedBackend:
        """Build from a config with .simulation, .workload, .faults and .backend."""
        from pregan.simulation.workload import build_workload

        sim_cfg = simulation_from_dictconfig(cfg.simulation)
        faults_cfg = faults_from_dictconfig(cfg.faults, sim_cfg.n_hosts)
        tb = testbed_from_dictconfig(cfg.get("backend"))
        return cls(sim_cfg, faults_cfg, build_workload(cfg.workload, seed), seed, tb)

    # ---- the simulator's interface -------------------------------------------------------

    @property
    def n_intervals(self) -> int:
        return int(self.cfg.n_intervals)

    @property
    def done(self) -> bool:
        return self.t >= self.n_intervals

    def observe(self) -> Observation:
        """What a policy may see before interval t (metrics measured so far, heartbeats)."""
        s = self._state
        dem = engine.demand(s, self._ctx.bank)
        host = s.host[0]
        placed = host[None] >= 0
        H = self.spec.n_hosts

        def used(values: np.ndarray) -> np.ndarray:
            return host_sum(np.where(placed, values, 0.0), s.host, H)[0]

        views = [self._metrics[: self.t], self._demand[: self.t], self._placement[: self.t]]
        for v in views:
            v.flags.writeable = False
        active = s.active[0].copy()
        return Observation(
            t=self.t,
            spec=self.spec,
            host_metrics=views[0],
            host_up=~self._down,
            placement=host.copy(),
            active=active,
            needs_placement=active & (host < 0),
            container_mips=dem.mips[0],
            container_ram_mb=dem.ram_mb[0],
            container_disk_mb=np.where(active, s.disk_mb[0], 0.0),
            host_free_mips=self.spec.host_ips - used(dem.mips),
            host_free_ram_mb=self.spec.host_ram_mb - used(dem.ram_mb),
            host_free_disk_mb=self.spec.host_disk_mb - used(s.disk_mb),
            host_demand=views[1],
            placement_history=views[2],
        )

    def step(self, placement: Any) -> np.ndarray:
        """Run interval t for real with the requested (C,) placement; return its QoS row."""
        if self.done:
            raise RuntimeError(f"episode finished: all {self.n_intervals} intervals executed")
        target = check_placement(placement, self.spec, batched=False)  # (1, C)
        t, s, span = self.t, self._state, float(self.cfg.interval_s)
        H, C = self.spec.n_hosts, self.spec.n_slots
        wall0 = time.perf_counter()
        self._revive()
        before = [self._host_counters(h) for h in range(H)]
        fault_before = [self._fault_counters(h) for h in range(H)]
        dem = engine.demand(s, self._ctx.bank)
        host = engine.resolve_placement(s, target, dem, self._hosts, self._down)[0]  # (C,)
        cpu_s = np.zeros(C)  # CPU seconds each slot's container got this interval
        usage0 = np.array([self._usage_s(c) for c in range(C)])
        pauses: list[float] = []
        for c in np.flatnonzero(s.active[0]):
            cur, new = int(s.host[0, c]), int(host[c])
            if new < 0 or new == cur:
                continue
            if cur < 0:
                self._start(c, new)
                usage0[c] = 0.0
                continue
            cpu_s[c] += self._usage_s(c) - usage0[c]
            moved = self._migrate(c, cur, new)
            usage0[c] = 0.0
            if moved is None and self._ctrs[c] is None:  # lost: starts over, like an eviction
                host[c] = -1
                s.work_done[0, c], s.sample[0, c] = 0.0, 0
            elif moved is None:
                host[c] = cur
            else:
                pauses.append(moved)
        self._set_demands(host, dem)
        time.sleep(max(0.0, span - (time.perf_counter() - wall0)))
        elapsed = time.perf_counter() - wall0
        cpu_s += np.array([self._usage_s(c) for c in range(C)]) - usage0
        after = [self._host_counters(h) for h in range(H)]
        fault_after = [self._fault_counters(h) for h in range(H)]
        util, fault_share = self._measure(before, after, fault_before, fault_after, elapsed)
        self.wall_s.append(elapsed)

        # Progress: a core-second of the pod is ips / cores MI of the emulated Pi.
        placed = host >= 0
        hc = np.maximum(host, 0)
        mi = np.where(placed, np.maximum(cpu_s, 0.0) * self._hosts.ips[hc] / self._cores[hc], 0.0)
        remaining = s.work_total[0] - s.work_done[0]
        done = placed & s.active[0] & (mi >= remaining)
        frac = np.where(done, remaining / np.maximum(mi, 1e-9), 1.0)
        new_start = placed & np.isnan(s.start_s[0])
        t0 = t * span
        s.start_s[0] = np.where(new_start, t0, s.start_s[0])
        finish = np.where(done, t0 + frac * span, np.nan)
        response = np.where(done, finish - s.start_s[0], 0.0)
        late = done & (finish > s.deadline_s[0])
        wait = np.where(new_start, t - s.creation[0], 0)
        base = host_sum(np.where(placed, dem.mips[0], 0.0)[None], host[None], H)[0]  # (H,)

        cpu = util[:, self.spec.metrics.index("cpu")] if "cpu" in self.spec.metrics else 0.0
        watts = np.where(self._down, 0.0, power_w(self._hosts.power_w, cpu))
        self._metrics[t] = util
        kind = self._faults.kind[t]
        truth = (fault_share >= self.faults_cfg.effects.truth_min) & (kind > 0)[:, None]
        truth[self._down] = True
        self._truth[t] = truth
        self._placement[t] = host
        self._demand[t] = base / self._hosts.ips
        self._finish_s[s.cid[0, done]] = finish[done]
        for c in np.flatnonzero(done):
            self._remove(c)
        s.work_done[0] = np.where(placed & ~done, s.work_done[0] + mi, s.work_done[0])
        s.sample[0] = np.where(placed, s.sample[0] + 1, s.sample[0])
        s.host[0] = np.where(done, -1, host)
        s.active[0] = s.active[0] & ~done
        queued = int(self._arrivals.arrived_by[t + 1]) - self._admitted
        due, missed, overdue = self._deadlines(t)
        n_done, n_new = int(done.sum()), int(new_start.sum())
        row = np.array(
            [
                float(watts.sum() * span),
                float(response.sum() / n_done) if n_done else np.nan,
                float(late.sum()),
                float(n_done),
                float(len(pauses)),
                float(np.mean(pauses)) if pauses else np.nan,
                float(wait.sum() / n_new) if n_new else np.nan,
                float(placed.sum()),
                float((s.active[0] & (s.host[0] < 0)).sum() + queued),
                due,
                missed,
                overdue,
            ],
            dtype=np.float64,
        )
        self._qos[t] = row
        self.t += 1
        self._prepare()
        return row

    def fault_class_now(self) -> np.ndarray:
        """(H,) injected fault class of the last executed interval (zeros before the first)."""
        if self.t == 0:
            return np.zeros(self.spec.n_hosts, dtype=np.int64)
        return self._faults.kind[self.t - 1].astype(np.int64)

    def fault_truth_now(self) -> np.ndarray:
        """(H, D) bool metrics the injected faults measurably drove in the last interval."""
        if self.t == 0:
            return np.zeros((self.spec.n_hosts, len(self.spec.metrics)), dtype=bool)
        return self._truth[self.t - 1].copy()

    def cosimulator(self, estimate: FaultEstimate) -> Cosimulation:
        """A co-simulation initialised from the live state: the containers' measured
        progress, their deadlines and trace positions, and the heartbeat of each host; the
        faults are the policy's estimate (nothing of the injected schedule)."""
        return Cosimulation(self._ctx, self.spec, self._state, self.t, ~self._down, estimate)

    def true_faults(self) -> FaultEstimate:
        """The injected schedule at the interval about to run (the oracle's only)."""
        t = min(self.t, self.n_intervals - 1)
        f = self._faults
        return FaultEstimate(f.kind[t].astype(np.int64), f.level(t), f.growth(t))

    def record(self) -> EpisodeRecord:
        """The executed intervals in the simulator's record format (injected labels)."""
        t = self.t
        return EpisodeRecord(
            host_metrics=self._metrics[:t].copy(),
            placement=self._placement[:t].copy(),
            host_demand=self._demand[:t].copy(),
            fault_truth=self._truth[:t].copy(),
            fault_class=self._faults.kind[:t].astype(np.int8),
            qos=self._qos[:t].astype(np.float32),
            host_profile=self.spec.host_profile.astype(np.int8),
            seed=self.seed,
            metrics=self.spec.metrics,
        )

    def close(self) -> None:
        """Remove every pod (with its containers) and cgroup this episode created."""
        for h, pod in enumerate(getattr(self, "_pods", [])):
            if self._dropping[h]:
                self._set_drop(h, False)
            pm.remove_pod(pod)
        self._pods = []

    def __enter__(self) -> TestbedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- containers ----------------------------------------------------------------------

    def _name(self, c: int) -> str:
        return f"{self.tb.prefix}-s{c}-c{int(self._state.cid[0, c])}-m{int(self._moves[c])}"

    def _start(self, c: int, h: int) -> None:
        self._moves[c] += 1
        self._ctrs[c] = pm.run_worker(
            self._name(c), self._pods[h], self._wr_mb_s[h], self._rd_mb_s[h]
        )

    def _remove(self, c: int) -> None:
        if (ctr := self._ctrs[c]) is not None:
            pm.podman("rm", "-f", "-t", "0", ctr.name, check=False)
        self._ctrs[c] = None

    def _migrate(self, c: int, src: int, dst: int) -> float | None:
        """Checkpoint/restore slot c's container into host dst; its pause, None on failure
        (then it runs on in src, or is lost if even the restore at the source failed)."""
        ctr = self._ctrs[c]
        assert ctr is not None
        self._moves[c] += 1
        res = pm.migrate(ctr, self._name(c), self._pods[dst].id, self._workdir)
        self.migrations.append(
            Migration(self.t, c, src, dst, res.ok, res.pause_s, res.bytes_moved, res.error)
        )
        self._ctrs[c] = res.container
        if not res.ok:
            log.warning(
                "migration of slot %d from host %d to %d failed: %s", c, src, dst, res.error
            )
            return None
        return res.pause_s

    def _revive(self) -> None:
        """Restart in place every placed worker the kernel killed (a leak's OOM kill picks
        the largest process of the pod): its progress is lost, as in a crash eviction."""
        s = self._state
        for c in np.flatnonzero(s.active[0] & (s.host[0] >= 0)):
            ctr = self._ctrs[c]
            if ctr is not None and Path(f"/proc/{ctr.pid}").exists():
                continue
            log.warning("slot %d: worker gone (OOM kill?), restarted on host %d", c, s.host[0, c])
            self.killed += 1
            self._remove(c)
            self._start(c, int(s.host[0, c]))
            s.work_done[0, c], s.sample[0, c] = 0.0, 0

    def _usage_s(self, c: int) -> float:
        ctr = self._ctrs[c]
        if ctr is None:
            return 0.0
        return pm.read_int(ctr.file("cpuacct", "cpuacct.usage")) / 1e9

    def _set_demands(self, host: np.ndarray, dem: engine.Demand) -> None:
        """Each placed container's worker follows its trace sample, scaled to its pod: CPU
        up to its burst allowance (the quota decides what it gets), RAM, disk, network."""
        bf = float(self.cfg.burst_factor)
        for c in np.flatnonzero(host >= 0):
            ctr, h = self._ctrs[c], int(host[c])
            if ctr is None:
                continue
            want = min(max(min(dem.cpu_max[0, c], bf * dem.mips[0, c]), dem.mips[0, c]),
                       self._hosts.ips[h])  # fmt: skip
            try:
                ctr.write_demand(
                    want / self._hosts.ips[h] * self._cores[h],
                    dem.ram_mb[0, c] * self.tb.ram_scale,
                    dem.disk_read[0, c] * self.tb.disk_scale,
                    dem.disk_write[0, c] * self.tb.disk_scale,
                    dem.net_tx[0, c] * BITS_PER_BYTE * self.tb.net_scale,
                )
            except OSError as err:  # the process died (OOM-killed by a leak)
                log.warning("slot %d: worker %s is gone: %s", c, ctr.name, err)

    # ---- hosts and faults ----------------------------------------------------------------

    def _shape_nic(self, h: int) -> None:
        """The Pi's NIC, scaled: a token bucket on the pod's egress."""
        pid = self._infra[h]
        rate = f"{self._up_mbit[h]:.3f}mbit"
        pm.run_in_netns(
            pid, "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate,
            "burst", f"{self.tb.tbf_burst_kb}kb", "latency", f"{self.tb.tbf_latency_ms}ms",
        )  # fmt: skip

    def _set_drop(self, h: int, on: bool) -> None:
        pid = self._infra[h]
        if pid <= 0:
            self._dropping[h] = False
            return
        rule = ["INPUT", "-m", "statistic", "--mode", "random", "--probability",
                f"{self.tb.loss_probability}", "-j", "DROP"]  # fmt: skip
        pm.run_in_netns(pid, "iptables", "-A" if on else "-D", *rule)
        self._dropping[h] = on

    def _prepare(self) -> None:
        """Start interval t: enact its faults (a crash evicts), then admit arrivals."""
        if self.done:
            return
        t = self.t
        kind, level = self._faults.kind[t].astype(np.int64), self._faults.level(t)
        for h in range(self.spec.n_hosts):
            self._enact_fault(h, int(kind[h]), float(level[h]))
        s, a = self._state, self._arrivals
        hit = s.active[0] & (s.host[0] >= 0) & self._down[np.maximum(s.host[0], 0)]
        for c in np.flatnonzero(hit):
            self._remove(c)
        engine.evict_crashed(s, self._down)
        free = np.flatnonzero(~s.active[0])
        n = min(len(free), int(a.arrived_by[t + 1]) - self._admitted)
        slots, ids = free[:n], np.arange(self._admitted, self._admitted + n)
        s.active[0, slots] = True
        s.host[0, slots] = -1
        s.trace[0, slots] = a.trace[ids]
        s.sample[0, slots] = 0
        s.work_total[0, slots] = a.work_mi[ids]
        s.work_done[0, slots] = 0.0
        s.creation[0, slots] = a.creation[ids]
        s.start_s[0, slots] = np.nan
        s.deadline_s[0, slots] = a.deadline_s[ids]
        s.disk_mb[0, slots] = a.disk_mb[ids]
        s.image_mb[0, slots] = a.image_mb[ids]
        s.cid[0, slots] = ids
        self._admitted += n

    def _enact_fault(self, h: int, kind: int, level: float) -> None:
        """Bring host h's real fault to (kind, level): stressor container, drops, crash."""
        pod, prev = self._pods[h], int(self._fault_kind[h])
        if kind != prev:
            if self._dropping[h]:
                self._set_drop(h, False)
            if (f := self._fault_ctr[h]) is not None:
                pm.podman("rm", "-f", "-t", "0", f.name, check=False)
                self._fault_ctr[h] = None
            if prev == CRASH:
                pm.podman("pod", "start", pod.name)
                self._infra[h] = pod.infra_pid()
                self._shape_nic(h)
                self._down[h] = False
            if kind == CRASH:
                pm.podman("pod", "kill", pod.name, check=False)
                self._infra[h] = 0
                self._down[h] = True
            self._fault_kind[h] = kind
        if kind in (CPU, LEAK, DISK, NET):
            f = self._fault_ctr[h]
            if f is None or not Path(f"/proc/{f.pid}").exists():
                if f is not None:
                    pm.podman("rm", "-f", "-t", "0", f.name, check=False)
                name = f"{self.tb.prefix}-h{h}-fault{self.t}"
                # A disk contender is throttled to `level` of the host's device time (split
                # by the simulator's read share) and asks for all of it: it holds that share
                # and blocks on the rest (real iowait, from the kernel's delay accounting).
                rd_share = self.faults_cfg.effects.disk_read_share
                rd, wr = (rd_share * level, (1 - rd_share) * level) if kind == DISK else (1, 1)
                f = pm.run_worker(name, pod, wr * self._wr_mb_s[h], rd * self._rd_mb_s[h])
                self._fault_ctr[h] = f
            # The stressor's demand: a hog takes `level` of the pod's CPU; a leak holds
            # `level` of its memory (the limit binds: the kernel OOM-kills past it); a disk
            # contender all the bandwidth (its throttle holds it to its share); a flood
            # sends `level` of the NIC's rate.
            f.write_demand(
                level * self._cores[h] if kind == CPU else 0.0,
                level * self._mem_mb[h] if kind == LEAK else 0.0,
                self._rd_mb_s[h] if kind == DISK else 0.0,
                self._wr_mb_s[h] if kind == DISK else 0.0,
                level * self._up_mbit[h] if kind == NET else 0.0,
            )
            if kind == NET and not self._dropping[h] and self.tb.loss_probability > 0:
                self._set_drop(h, True)

    # ---- measurement ---------------------------------------------------------------------

    def _host_counters(self, h: int) -> _Counters:
        pid = 0 if self._down[h] else self._infra[h]
        rx, tx = pm.net_bytes(pid) if pid > 0 else (0, 0)
        return _cgroup_counters(self._pods[h].file, rx, tx)

    def _fault_counters(self, h: int) -> _Counters | None:
        f = self._fault_ctr[h]
        if f is None or not Path(f"/proc/{f.pid}").exists():
            return None
        _, sent = f.worker_stats()
        return _cgroup_counters(f.file, 0, sent)  # a flood only sends

    def _fractions(self, h: int, a: _Counters, b: _Counters, elapsed: float) -> dict[str, float]:
        """Every METRICS column of host h over [a, b], as fractions of the emulated capacity."""
        swap_cap = max(self._hosts.swap_mb[h] * self.tb.ram_scale * MB, 1.0)
        nic_up = self._up_mbit[h] * 1e6 / BITS_PER_BYTE * elapsed  # bytes the NIC can send
        nic_down = self._down_mbit[h] * 1e6 / BITS_PER_BYTE * elapsed
        disk_read = max(b.rd - a.rd, 0) / (self._rd_mb_s[h] * MB * elapsed)
        disk_write = max(b.wr - a.wr, 0) / (self._wr_mb_s[h] * MB * elapsed)
        net_in = max(b.rx - a.rx, 0) / nic_down
        net_out = max(b.tx - a.tx, 0) / nic_up
        disk = disk_read + disk_write
        return {
            "cpu": max(b.cpu_ns - a.cpu_ns, 0) / 1e9 / (self._cores[h] * elapsed),
            "cpu_iowait": sum(
                max(v - a.blk_delay_s.get(p, 0.0), 0.0) for p, v in b.blk_delay_s.items()
            )
            / (self.tb.emulated_cores * elapsed),
            "cpu_softirq": self.faults_cfg.effects.softirq_at_line_rate
            * 0.5
            * (min(net_in, 1.0) + min(net_out, 1.0)),
            "ram": b.rss / (self._mem_mb[h] * MB),
            "swap": b.swap / swap_cap,
            "disk": disk,
            "disk_read": disk_read,
            "disk_write": disk_write,
            "net": 0.5 * (net_in + net_out),
            "net_in": net_in,
            "net_out": net_out,
        }

    def _measure(
        self,
        before: list[_Counters],
        after: list[_Counters],
        fault_before: list[_Counters | None],
        fault_after: list[_Counters | None],
        elapsed: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(H, D) monitored metrics and (H, D) the part the faults' own processes put there."""
        names = self.spec.metrics
        H = self.spec.n_hosts
        util = np.zeros((H, len(names)), dtype=np.float32)
        share = np.zeros((H, len(names)))
        for h in range(H):
            if self._down[h]:
                continue  # a crashed host reports nothing
            m = self._fractions(h, before[h], after[h], elapsed)
            util[h] = np.clip([m[n] for n in names], 0.0, 1.0)
            fa, fb = fault_before[h], fault_after[h]
            if fb is not None:
                fa = fa if fa is not None else _Counters(0, 0, 0, 0, 0, 0, 0, {})
                fm = self._fractions(h, fa, fb, elapsed)
                share[h] = [fm[n] for n in names]
        return util, share

    def _deadlines(self, t: int) -> tuple[int, int, int]:
        lo, hi = self._due_edges[t], self._due_edges[t + 1]
        ids = self._by_deadline[lo:hi]
        fin, dl = self._finish_s[ids], self._arrivals.deadline_s[ids]
        missed = int((np.isnan(fin) | (fin > dl)).sum())
        overdue = int(np.isnan(self._finish_s[self._by_deadline[:hi]]).sum())
        return len(ids), missed, overdue


def cleanup_leftovers(prefix: str) -> None:
    """Remove pods named `prefix-h*` left by a killed run (the backend's close never ran)."""
    names = pm.podman("pod", "ps", "--format", "{{.Name}}", check=False).split()
    for name in names:
        if name.startswith(f"{prefix}-h"):
            h = name.rsplit("-h", 1)[1]
            pm.remove_pod(pm.Pod(name=name, id="", cgroup_parent=f"/{prefix}_h{h}"))
