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

from pregan.simulation.config import EffectsConfig, FaultsConfig, SimulationConfig, SlowdownConfig
from pregan.simulation.faults import FaultEffects
from pregan.simulation.hosts import BITS_PER_BYTE, HostArrays, power_w
from pregan.simulation.interfaces import METRICS
from pregan.simulation.placement import host_sums
from pregan.simulation.state import SlotState
from pregan.simulation.workload_bank import WorkloadBank

_EPS = 1e-9


@dataclass(frozen=True)
class EngineContext:
    """What stays fixed over an episode."""

    hosts: HostArrays
    bank: WorkloadBank
    interval_s: float
    router_mb_s: float  # MB/s shared by all migrations of an interval
    burst_factor: float
    idle_cpu: float
    idle_ram_mb: float
    migration_overhead_s: float
    slowdown: SlowdownConfig
    effects: EffectsConfig
    metric_idx: np.ndarray  # (D,) indices into METRICS of the monitored metrics

    @classmethod
    def from_config(
        cls,
        sim_cfg: SimulationConfig,
        faults_cfg: FaultsConfig,
        hosts: HostArrays,
        bank: WorkloadBank,
    ) -> EngineContext:
        """The one translation of the config's unit-named keys into the engine's constants
        (the simulator, its batched form and the test bed's co-simulation all use it)."""
        return cls(
            hosts=hosts,
            bank=bank,
            interval_s=float(sim_cfg.interval_s),
            router_mb_s=float(sim_cfg.router_mbit_per_s) / BITS_PER_BYTE,
            burst_factor=float(sim_cfg.burst_factor),
            idle_cpu=float(sim_cfg.idle_cpu_fraction),
            idle_ram_mb=float(sim_cfg.idle_ram_mb),
            migration_overhead_s=float(sim_cfg.migration_overhead_s),
            slowdown=sim_cfg.slowdown,
            effects=faults_cfg.effects,
            metric_idx=np.array([METRICS.index(m) for m in sim_cfg.metrics], dtype=np.int64),
        )


@dataclass(frozen=True)
class Demand:
    """Each slot's demand at its next trace sample, (B, C) each, 0 for empty slots."""

    mips: np.ndarray
    ram_mb: np.ndarray
    disk_read: np.ndarray  # MB/s
    disk_write: np.ndarray  # MB/s
    net_rx: np.ndarray  # MB/s
    net_tx: np.ndarray  # MB/s
    cpu_max: np.ndarray  # provisioned maximum MIPS


@dataclass
class StepResult:
    """What one interval produced, per batch row."""

    placement: np.ndarray  # (B, C) host each slot ran on this interval, -1 none
    util: np.ndarray  # (B, H, D) true monitored metrics (no monitoring noise)
    driven: np.ndarray  # (B, H, D) bool, metrics a fault moved by >= effects.truth_min
    host_demand: np.ndarray  # (B, H) float32 base MIPS demand placed on each host / its IPS
    rate: np.ndarray  # (B, C) MI/s each placed container progressed at
    finish_s: np.ndarray  # (B, C) absolute finish time of containers done this interval, NaN else
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
    s = state.sample % bank.length
    flat = np.where(act, state.trace, 0) * bank.length + s  # (B, C) index into (N * L)

    def at(series: np.ndarray) -> np.ndarray:
        return np.where(act, series.reshape(-1).take(flat), 0.0)

    return Demand(
        mips=at(bank.cpu_mips),
        ram_mb=at(bank.ram_mb),
        disk_read=at(bank.disk_read_mbps),
        disk_write=at(bank.disk_write_mbps),
        net_rx=at(bank.net_rx_mbps),
        net_tx=at(bank.net_tx_mbps),
        cpu_max=np.where(act, bank.cpu_max_mips.take(np.where(act, state.trace, 0)), 0.0),
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
    down = np.broadcast_to(down, (B, H))  # (H,) shared by all rows, or (B, H) per row
    want = state.active & (tgt >= 0) & (tgt != cur) & ~down[np.arange(B)[:, None], tgt_c]
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


def _per_slot(values: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """(B, C) gather of per-host (B, H) values (or (H,) shared by every row) at the flat
    row-major host indices `flat` (B, C) = b * H + h."""
    return (
        np.ascontiguousarray(np.broadcast_to(values, (flat.shape[0], values.shape[-1])))
        .reshape(-1)
        .take(flat)
    )


def fair_share(
    need: np.ndarray, host: np.ndarray, left: np.ndarray, total: np.ndarray, asking: np.ndarray
) -> np.ndarray:
    """(B, C) max-min fair share of each host's free device time `left` (B, H) among the
    needs (B, C) of the slots placed on it (`total` (B, H) their sum, `asking` (B, H) how
    many ask): a container asking for less than an equal split gets all it asks for, the
    rest split what remains (water-filling, four rounds). Hosts with room serve every need."""
    if (total <= left).all():
        return need
    B, H = left.shape
    b_idx = np.arange(B)[:, None]
    hc = np.maximum(host, 0)
    wants = (need > 0) & (host >= 0)
    level = left / np.maximum(asking, 1.0)  # (B, H)
    for _ in range(4):
        sat = wants & (need <= level[b_idx, hc])
        used, n_un = host_sums(
            np.stack([np.where(sat, need, 0.0), (wants & ~sat).astype(float)]), host, H
        )
        level = np.where(n_un > 0, np.maximum(left - used, 0.0) / np.maximum(n_un, 1.0), np.inf)
    return np.where(wants, np.minimum(need, level[b_idx, hc]), 0.0)


def device_dilation(need: np.ndarray, share: np.ndarray, left: np.ndarray) -> np.ndarray:
    """(B, C) factor by which a device stretches a container's time: its I/O (a `need`
    fraction of the device's time when the device is its own) runs at the `left` fraction
    the faults leave, and a container granted less than it needs is throttled to its share.
    No demand, no slowdown."""
    latency = 1.0 + need * (1.0 / left - 1.0)
    throttle = need / np.maximum(share, _EPS)
    return np.where(need > 0, np.maximum(latency, throttle), 1.0)


def evict_crashed(state: SlotState, down: np.ndarray) -> None:
    """Containers on a crashed host lose their progress and need placement elsewhere.
    `down`: (H,) shared by every row, or (B, H) per row."""
    B = state.batch
    down = np.broadcast_to(down, (B, down.shape[-1]))
    hit = state.active & (state.host >= 0) & down[np.arange(B)[:, None], np.maximum(state.host, 0)]
    state.host = np.where(hit, -1, state.host)
    state.work_done = np.where(hit, 0.0, state.work_done)
    state.sample = np.where(hit, 0, state.sample)


def step(
    ctx: EngineContext,
    state: SlotState,
    target: np.ndarray,
    t: int,
    fx: FaultEffects,
    monitor: bool = True,
    dem: Demand | None = None,
) -> StepResult:
    """Execute interval t for every batch row; updates `state` in place. `monitor=False`
    (co-simulation) skips the monitored metrics and their truth (util and driven are empty).

    `fx` holds (H,) arrays when every row is the same cluster (co-simulation's candidates)
    or (B, H) when each row is its own cluster (`pregan.simulation.batch.ClusterBatch`);
    both go through the same element-wise arithmetic, so a row's numbers do not depend on it.
    `dem`: `demand(state, ctx.bank)` when the caller already has it for this very state.
    """
    hosts, span_s, sd, ef = ctx.hosts, ctx.interval_s, ctx.slowdown, ctx.effects
    B, C = state.active.shape
    H = hosts.n_hosts
    dem = demand(state, ctx.bank) if dem is None else dem
    cur = state.host.copy()
    down = np.broadcast_to(fx.down, (B, H))
    host = resolve_placement(state, target, dem, hosts, down)
    placed = host >= 0
    hc = np.maximum(host, 0)  # (B, C) safe index
    b_idx = np.arange(B)[:, None]
    at_hc = b_idx * H + hc  # (B, C) flat index of each slot's host

    # Migration: stop-and-copy of memory + image + state over the tightest of the source's
    # uplink and the target's downlink (what the containers' own traffic and a flood leave,
    # shared by the movers) and the router (shared by all), plus the fixed dump/restore time.
    read_bw, write_bw = hosts.disk_read_mb_s.take(hc), hosts.disk_write_mb_s.take(hc)  # (B, C)
    need_disk = np.where(placed, dem.disk_read / read_bw + dem.disk_write / write_bw, 0.0)
    need_net = np.where(
        placed,
        np.maximum(dem.net_rx / hosts.net_down.take(hc), dem.net_tx / hosts.net_up.take(hc)),
        0.0,
    )  # (B, C) fractions of the device's time each container needs
    rx, tx, own_ram, base, count, disk_total, disk_asking, net_total, net_asking = host_sums(
        np.stack([dem.net_rx, dem.net_tx, dem.ram_mb, dem.mips, placed.astype(float),
                  need_disk, (need_disk > 0).astype(float),
                  need_net, (need_net > 0).astype(float)]),
        host, H,
    )  # fmt: skip  # (B, H) each: MB/s, MB/s, MB, MIPS, containers, fractions, counts
    up_left = np.maximum(hosts.net_up * (1.0 - fx.net_hog) - tx, sd.min_speed * hosts.net_up)
    down_left = np.maximum(hosts.net_down * (1.0 - fx.net_hog) - rx, sd.min_speed * hosts.net_down)
    mig = placed & (cur >= 0) & (host != cur)
    src = np.maximum(cur, 0)
    at_src = b_idx * H + src  # (B, C) flat index of each slot's source host
    from_h, to_h = np.where(mig, cur, -1), np.where(mig, host, -1)
    payload = dem.ram_mb + state.image_mb + state.disk_mb  # (B, C) MB
    mig_mb = np.where(mig, payload, 0.0)
    n_out, out_mb = host_sums(np.stack([mig.astype(float), mig_mb]), from_h, H)  # (B, H)
    n_in, in_mb = host_sums(np.stack([mig.astype(float), mig_mb]), to_h, H)
    n_mig = mig.sum(axis=1)  # (B,)
    bw = np.minimum(
        _per_slot(up_left, at_src) / np.maximum(_per_slot(n_out, at_src), 1.0),
        _per_slot(down_left, at_hc) / np.maximum(_per_slot(n_in, at_hc), 1.0),
    )
    bw = np.minimum(bw, ctx.router_mb_s / np.maximum(n_mig, 1)[:, None])  # (B, C) MB/s
    lat = np.abs(hosts.latency_s.take(src) - hosts.latency_s.take(hc))
    mig_s = np.where(
        mig, np.minimum(payload / bw + lat + ctx.migration_overhead_s, span_s), 0.0
    )  # (B, C) paused while moving

    # Network soft interrupts take CPU in proportion to the NIC's load.
    in_busy = np.clip((rx * span_s + in_mb) / (hosts.net_down * span_s) + fx.net_hog, 0.0, 1.0)
    out_busy = np.clip((tx * span_s + out_mb) / (hosts.net_up * span_s) + fx.net_hog, 0.0, 1.0)
    softirq = ef.softirq_at_line_rate * 0.5 * (in_busy + out_busy)  # (B, H)

    # Memory: resident beyond the swap threshold is swapped out; a share of it is paged
    # back and forth every second, which is disk traffic (half read, half write).
    own_ram = own_ram + ctx.idle_ram_mb  # (B, H)
    resident = own_ram + fx.leak * hosts.ram_mb
    thr_mb = sd.swap_threshold * hosts.ram_mb
    swapped = np.clip(resident - thr_mb, 0.0, hosts.swap_mb)  # (B, H) MB
    swapped_own = np.clip(own_ram - thr_mb, 0.0, hosts.swap_mb)
    paging = swapped * ef.page_touch_per_s  # (B, H) MB/s
    per_paged_mb = 0.5 / hosts.disk_read_mb_s + 0.5 / hosts.disk_write_mb_s  # (H,) s per MB
    pressure = resident / hosts.ram_mb
    swap_dil = 1.0 + sd.swap_factor * np.maximum(pressure - sd.swap_threshold, 0.0)  # (B, H)

    # Devices: each container's own need (fraction of device time) against what is left.
    disk_left = np.maximum(1.0 - fx.disk_hog - paging * per_paged_mb, sd.min_speed)  # (B, H)
    disk_share = fair_share(need_disk, host, disk_left, disk_total, disk_asking)
    disk_dil = device_dilation(need_disk, disk_share, _per_slot(disk_left, at_hc))
    mig_busy = np.maximum(in_mb / hosts.net_down, out_mb / hosts.net_up) / span_s  # (B, H)
    net_left = np.maximum(1.0 - fx.net_hog - mig_busy, sd.min_speed)
    net_share = fair_share(need_net, host, net_left, net_total, net_asking)
    net_dil = device_dilation(need_net, net_share, _per_slot(net_left, at_hc))

    # CPU: base demand first (scaled down when a hog leaves too little), then spare shared.
    avail = hosts.ips * np.maximum(1.0 - fx.cpu_hog - softirq, 0.0)  # (B, H)
    spare = np.maximum(avail - base, 0.0) / np.maximum(count, 1.0)
    scale = np.where(base > avail, avail / np.maximum(base, _EPS), 1.0)
    alloc = np.where(
        _per_slot(base > avail, at_hc),
        dem.mips * _per_slot(scale, at_hc),
        np.minimum(
            np.maximum(np.minimum(dem.cpu_max, ctx.burst_factor * dem.mips), dem.mips),
            dem.mips + _per_slot(spare, at_hc),
        ),
    )
    dilation = _per_slot(swap_dil, at_hc) + (disk_dil - 1.0) + (net_dil - 1.0)
    rate = np.where(placed, alloc / dilation, 0.0)  # (B, C) MI/s

    run_s = np.where(placed, span_s - mig_s, 0.0)
    remaining = state.work_total - state.work_done
    need_s = np.where(rate > 0, remaining / np.maximum(rate, _EPS), np.inf)
    done = placed & (need_s <= run_s)
    busy_s = np.where(done, need_s, run_s)  # (B, C)

    new = placed & np.isnan(state.start_s)
    t0 = t * span_s
    state.start_s = np.where(new, t0, state.start_s)
    finish_s = np.where(done, t0 + mig_s + need_s, np.nan)
    response = np.where(done, finish_s - state.start_s, 0.0)
    late = done & (finish_s > state.deadline_s)

    if monitor:
        util, fault = _monitor(ctx, host, dem, rate, busy_s, fx, swapped, swapped_own, softirq,
                               in_mb, out_mb, own_ram, resident)  # fmt: skip
        util[down] = 0.0
        driven = fault >= ef.truth_min
        driven[down] = True
        cpu = util[..., 0]  # cpu is always column 0
    else:
        util = driven = np.zeros((B, H, 0))
        work = host_sums((rate * busy_s)[None], host, H)[0]  # (B, H) MI
        cpu = np.clip(work / (hosts.ips * span_s) + fx.cpu_hog + ctx.idle_cpu, 0.0, 1.0)
        cpu[down] = 0.0
    busy_cpu = np.clip(cpu + softirq - ctx.idle_cpu, 0.0, 1.0)
    watts = np.where(down, 0.0, power_w(hosts.power_w, busy_cpu))  # (B, H)

    unplaced = (state.active & ~placed).sum(axis=1)
    state.work_done = np.where(placed & ~done, state.work_done + rate * busy_s, state.work_done)
    state.sample = np.where(placed, state.sample + 1, state.sample)
    state.host = np.where(done, -1, host)
    state.active = state.active & ~done
    wait = np.where(new, t - state.creation, 0)
    return StepResult(
        placement=host,
        util=util,
        driven=driven,
        host_demand=(base / hosts.ips).astype(np.float32),
        rate=rate,
        finish_s=finish_s,
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


def _monitor(
    ctx: EngineContext,
    host: np.ndarray,
    dem: Demand,
    rate: np.ndarray,
    busy_s: np.ndarray,
    fx: FaultEffects,
    swapped: np.ndarray,
    swapped_own: np.ndarray,
    softirq: np.ndarray,
    in_mb: np.ndarray,
    out_mb: np.ndarray,
    own_ram: np.ndarray,
    resident: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Monitored metrics (B, H, D) as fractions of capacity, and the part of each that the
    faults put there (B, H, D), in `ctx.metric_idx` order (see interfaces.METRICS)."""
    hosts, span_s, ef = ctx.hosts, ctx.interval_s, ctx.effects
    H = hosts.n_hosts
    frac = busy_s / span_s  # (B, C) share of the interval each container ran
    zero = np.zeros_like(swapped)
    work, c_rd, c_wr, c_rx, c_tx = host_sums(
        np.stack([rate * busy_s, dem.disk_read * frac, dem.disk_write * frac,
                  dem.net_rx * frac, dem.net_tx * frac]),
        host, H,
    )  # fmt: skip  # (B, H) each: MI, MB/s averaged over the interval
    cpu = work / (hosts.ips * span_s) + fx.cpu_hog + ctx.idle_cpu
    paging, paging_own = swapped * ef.page_touch_per_s, swapped_own * ef.page_touch_per_s
    rd = c_rd + 0.5 * paging  # (B, H) MB/s
    wr = c_wr + 0.5 * paging
    hog_rd, hog_wr = fx.disk_hog * ef.disk_read_share, fx.disk_hog * (1.0 - ef.disk_read_share)
    paged_rd = 0.5 * (paging - paging_own) / hosts.disk_read_mb_s  # fault's share of reads
    paged_wr = 0.5 * (paging - paging_own) / hosts.disk_write_mb_s
    disk_read = rd / hosts.disk_read_mb_s + hog_rd
    disk_write = wr / hosts.disk_write_mb_s + hog_wr
    disk = rd / hosts.disk_read_mb_s + wr / hosts.disk_write_mb_s + fx.disk_hog
    f_disk = fx.disk_hog + paged_rd + paged_wr
    net_in = (c_rx * span_s + in_mb) / (hosts.net_down * span_s) + fx.net_hog
    net_out = (c_tx * span_s + out_mb) / (hosts.net_up * span_s) + fx.net_hog
    ram = np.minimum(resident / hosts.ram_mb, 1.0)
    f_ram = ram - np.minimum(own_ram / hosts.ram_mb, 1.0)
    values = (
        (cpu, fx.cpu_hog + zero),
        (ef.iowait_per_disk_busy * np.minimum(disk, 1.0), ef.iowait_per_disk_busy * f_disk),
        (softirq, ef.softirq_at_line_rate * fx.net_hog + zero),
        (ram, f_ram),
        (swapped / hosts.swap_mb, (swapped - swapped_own) / hosts.swap_mb),
        (disk, f_disk),
        (disk_read, hog_rd + paged_rd),
        (disk_write, hog_wr + paged_wr),
        (0.5 * (net_in + net_out), fx.net_hog + zero),
        (net_in, fx.net_hog + zero),
        (net_out, fx.net_hog + zero),
    )  # METRICS order
    idx = ctx.metric_idx
    util = np.clip(np.stack([values[i][0] for i in idx], axis=-1), 0.0, 1.0)  # (B, H, D)
    fault = np.stack([values[i][1] for i in idx], axis=-1)  # (B, H, D)
    return util, fault
