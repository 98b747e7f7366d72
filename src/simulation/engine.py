"""One scheduling interval for B copies of the cluster at once.

Every function here takes arrays with a leading batch dimension B, so the live simulator
(B = 1) and co-simulation (B candidates) run the very same code. The interval is:
resolve the requested placement (feasibility, crashed hosts), migrate (shared bandwidths),
execute for what is left of the interval (CPU share, hogs, swapping, I/O contention),
finish containers, and measure utilisation and energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pregan.simulation.config import SlowdownConfig
from pregan.simulation.faults import FaultEffects
from pregan.simulation.hosts import HostArrays, power_w
from pregan.simulation.placement import host_sum
from pregan.simulation.state import SlotState
from pregan.simulation.workload_bank import WorkloadBank

_EPS = 1e-9


@dataclass(frozen=True)
class EngineContext:
    """What stays fixed over an episode."""

    hosts: HostArrays
    bank: WorkloadBank
    interval_s: float
    router_bw: float
    burst_factor: float
    idle_cpu: float
    idle_ram_mb: float
    slowdown: SlowdownConfig


@dataclass(frozen=True)
class Demand:
    """Each slot's demand at its next trace sample, (B, C) each, 0 for empty slots."""

    mips: np.ndarray
    ram_mb: np.ndarray
    disk_io: np.ndarray  # MB/s read + write
    net_io: np.ndarray  # MB/s received + transmitted
    cpu_max: np.ndarray  # provisioned maximum MIPS


@dataclass
class StepResult:
    """What one interval produced, per batch row."""

    placement: np.ndarray  # (B, C) host each slot ran on this interval, -1 none
    util: np.ndarray  # (B, H, 4) true utilisation (no monitoring noise)
    host_demand: np.ndarray  # (B, H) float32 base MIPS demand placed on each host / its IPS
    rate: np.ndarray  # (B, C) MI/s each placed container progressed at
    energy_j: np.ndarray  # (B,)
    completed: np.ndarray  # (B,)
    response_sum_s: np.ndarray  # (B,)
    sla_violations: np.ndarray  # (B,)
    migrations: np.ndarray  # (B,)
    migration_sum_s: np.ndarray  # (B,)
    started: np.ndarray  # (B,)
    wait_sum: np.ndarray  # (B,) intervals
    active_placed: np.ndarray  # (B,)
    unplaced: np.ndarray  # (B,) active slots without a host


def demand(state: SlotState, bank: WorkloadBank) -> Demand:
    act = state.active
    tr = np.where(act, state.trace, 0)  # (B, C)
    s = state.sample % bank.length
    return Demand(
        mips=np.where(act, bank.cpu_mips[tr, s], 0.0),
        ram_mb=np.where(act, bank.ram_mb[tr, s], 0.0),
        disk_io=np.where(act, bank.disk_read_mbps[tr, s] + bank.disk_write_mbps[tr, s], 0.0),
        net_io=np.where(act, bank.net_rx_mbps[tr, s] + bank.net_tx_mbps[tr, s], 0.0),
        cpu_max=np.where(act, bank.cpu_max_mips[tr], 0.0),
    )


def resolve_placement(
    state: SlotState, target: np.ndarray, dem: Demand, hosts: HostArrays, down: np.ndarray
) -> np.ndarray:
    """The (B, C) placement actually enacted for a requested (B, C) target.

    -1 for an active slot means "stay where you are". A move is accepted only onto an up
    host where base MIPS, RAM and disk fit; otherwise the container stays (or keeps
    waiting, if unplaced). Movers are admitted per target host in slot order, counting
    every container still at its source, which can never over-commit; up to three rounds
    let moves that were blocked by a departing container through.
    """
    B, C = state.active.shape
    H = hosts.n_hosts
    cur = state.host
    tgt = np.where(state.active & (target >= 0), target, cur)  # (B, C)
    tgt_c = np.maximum(tgt, 0)
    want = state.active & (tgt >= 0) & (tgt != cur) & ~down[tgt_c]
    need = np.stack([dem.mips, dem.ram_mb, state.disk_mb], axis=-1).reshape(B * C, 3)
    cap = np.stack([hosts.ips, hosts.ram_mb, hosts.disk_mb], axis=-1)  # (H, 3)
    key_all = (np.arange(B)[:, None] * H + tgt_c).ravel()  # (B*C,)
    host = cur.copy().ravel()
    tgt_flat = tgt.ravel()
    want = want.ravel()
    for _ in range(3):
        pending = want & (host != tgt_flat)
        if not pending.any():
            break
        placed = host >= 0
        b_of = np.repeat(np.arange(B), C)
        load_idx = b_of[placed] * H + host[placed]
        load = np.stack(
            [np.bincount(load_idx, weights=need[placed, r], minlength=B * H) for r in range(3)],
            axis=-1,
        )  # (B*H, 3)
        idx = np.flatnonzero(pending)
        idx = idx[np.argsort(key_all[idx], kind="stable")]
        k = key_all[idx]
        d = need[idx]  # (P, 3)
        cum = np.cumsum(d, axis=0)
        first = np.r_[True, k[1:] != k[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))
        incoming = cum - cum[start] + d[start]  # (P, 3) movers into the same host so far
        fits = (load[k] + incoming <= cap[k % H] + 1e-6).all(axis=-1)
        if not fits.any():
            break
        host[idx[fits]] = tgt_flat[idx[fits]]
    return host.reshape(B, C)


def _device_speed(
    hog: np.ndarray, demand_mbps: np.ndarray, bandwidth: np.ndarray, floor: float
) -> np.ndarray:
    """(B, H) speed of a shared device: the hog's share is gone, and demand beyond what is
    left is slowed proportionally."""
    left = bandwidth * (1.0 - hog)  # (H,)
    ratio = np.where(demand_mbps > left, left / np.maximum(demand_mbps, _EPS), 1.0)
    return np.clip((1.0 - hog) * ratio, floor, 1.0)


def evict_crashed(state: SlotState, down: np.ndarray) -> None:
    """Containers on a crashed host lose their progress and need placement elsewhere."""
    hit = state.active & (state.host >= 0) & down[np.maximum(state.host, 0)]
    state.host = np.where(hit, -1, state.host)
    state.work_done = np.where(hit, 0.0, state.work_done)
    state.sample = np.where(hit, 0, state.sample)


def step(
    ctx: EngineContext, state: SlotState, target: np.ndarray, t: int, fx: FaultEffects
) -> StepResult:
    """Execute interval t for every batch row; updates `state` in place."""
    hosts, span_s, sd = ctx.hosts, ctx.interval_s, ctx.slowdown
    B, C = state.active.shape
    H = hosts.n_hosts
    dem = demand(state, ctx.bank)
    cur = state.host.copy()
    host = resolve_placement(state, target, dem, hosts, fx.down)
    placed = host >= 0
    hc = np.maximum(host, 0)  # (B, C) safe index

    # Migration: RAM over the tightest of source uplink, target downlink and router shares.
    mig = placed & (cur >= 0) & (host != cur)
    src = np.maximum(cur, 0)
    n_out = host_sum(mig.astype(float), np.where(mig, cur, -1), H)  # (B, H)
    n_in = host_sum(mig.astype(float), np.where(mig, host, -1), H)
    n_mig = mig.sum(axis=1)  # (B,)
    net_left = np.maximum(1.0 - fx.net_hog, sd.min_speed)  # (H,)
    b_idx = np.arange(B)[:, None]
    bw = np.minimum(
        hosts.net_up[src] * net_left[src] / np.maximum(n_out[b_idx, src], 1.0),
        hosts.net_down[hc] * net_left[hc] / np.maximum(n_in[b_idx, hc], 1.0),
    )
    bw = np.minimum(bw, ctx.router_bw / np.maximum(n_mig, 1)[:, None])  # (B, C)
    lat = np.abs(hosts.latency_s[src] - hosts.latency_s[hc])
    mig_s = np.where(mig, np.minimum(dem.ram_mb / bw + lat, span_s), 0.0)  # (B, C)

    # CPU: base demand first (scaled down when a hog leaves too little), then spare shared.
    avail = hosts.ips * (1.0 - fx.cpu_hog)  # (H,)
    base = host_sum(dem.mips, host, H)  # (B, H)
    count = host_sum(placed.astype(float), host, H)
    spare = np.maximum(avail - base, 0.0) / np.maximum(count, 1.0)
    scale = np.where(base > avail, avail / np.maximum(base, _EPS), 1.0)
    alloc = np.where(
        (base > avail)[b_idx, hc],
        dem.mips * scale[b_idx, hc],
        np.minimum(
            np.maximum(np.minimum(dem.cpu_max, ctx.burst_factor * dem.mips), dem.mips),
            dem.mips + spare[b_idx, hc],
        ),
    )

    # Slowdowns: swapping under RAM pressure, disk and network contention (Amdahl split).
    ram_used = host_sum(dem.ram_mb, host, H) + fx.leak * hosts.ram_mb  # (B, H)
    pressure = ram_used / hosts.ram_mb
    swap = 1.0 + sd.swap_factor * np.maximum(pressure - sd.swap_threshold, 0.0)
    disk_speed = _device_speed(
        fx.disk_hog, host_sum(dem.disk_io, host, H), hosts.disk_bw, sd.min_speed
    )
    net_bw = hosts.net_up + hosts.net_down
    net_speed = _device_speed(fx.net_hog, host_sum(dem.net_io, host, H), net_bw, sd.min_speed)
    cpu_share = 1.0 - sd.io_bound_share - sd.net_bound_share
    dilation = (
        cpu_share * swap[b_idx, hc]
        + sd.io_bound_share / disk_speed[b_idx, hc]
        + sd.net_bound_share / net_speed[b_idx, hc]
    )
    rate = np.where(placed, alloc / dilation, 0.0)  # (B, C) MI/s

    run_s = np.where(placed, span_s - mig_s, 0.0)
    remaining = state.work_total - state.work_done
    need_s = np.where(rate > 0, remaining / np.maximum(rate, _EPS), np.inf)
    done = placed & (need_s <= run_s)
    busy_s = np.where(done, need_s, run_s)  # (B, C)

    new = placed & np.isnan(state.start_s)
    t0 = t * span_s
    state.start_s = np.where(new, t0, state.start_s)
    finish_s = t0 + mig_s + need_s
    response = np.where(done, finish_s - state.start_s, 0.0)
    late = done & (finish_s > state.deadline_s)

    # Monitoring truth: fractions of capacity, including the fault's own load.
    frac = busy_s / span_s
    cpu_u = host_sum(rate * busy_s, host, H) / (hosts.ips * span_s) + fx.cpu_hog + ctx.idle_cpu
    ram_u = pressure + ctx.idle_ram_mb / hosts.ram_mb
    disk_u = host_sum(dem.disk_io * frac, host, H) / hosts.disk_bw + fx.disk_hog
    mig_mb = np.where(mig, dem.ram_mb, 0.0)
    net_mb = host_sum(dem.net_io * frac, host, H) * span_s + host_sum(
        mig_mb, np.where(mig, cur, -1), H
    )
    net_mb = net_mb + host_sum(mig_mb, np.where(mig, host, -1), H)
    net_u = net_mb / (net_bw * span_s) + fx.net_hog
    util = np.clip(np.stack([cpu_u, ram_u, disk_u, net_u], axis=-1), 0.0, 1.0)  # (B, H, 4)
    util[:, fx.down] = 0.0
    busy_cpu = np.clip(cpu_u - ctx.idle_cpu, 0.0, 1.0)  # the idle share is in the 0 % draw
    watts = np.where(fx.down, 0.0, power_w(hosts.power_w, busy_cpu))  # (B, H)

    unplaced = (state.active & ~placed).sum(axis=1)
    state.work_done = np.where(placed & ~done, state.work_done + rate * busy_s, state.work_done)
    state.sample = np.where(placed, state.sample + 1, state.sample)
    state.host = np.where(done, -1, host)
    state.active = state.active & ~done
    wait = np.where(new, t - state.creation, 0)
    return StepResult(
        placement=host,
        util=util,
        host_demand=(base / hosts.ips).astype(np.float32),
        rate=rate,
        energy_j=watts.sum(axis=1) * span_s,
        completed=done.sum(axis=1),
        response_sum_s=response.sum(axis=1),
        sla_violations=late.sum(axis=1),
        migrations=n_mig,
        migration_sum_s=mig_s.sum(axis=1),
        started=new.sum(axis=1),
        wait_sum=wait.sum(axis=1),
        active_placed=placed.sum(axis=1),
        unplaced=unplaced,
    )
