"""Typed, validated simulation and fault configuration.

Hydra hands the simulator plain DictConfigs; `from_dictconfig` merges them onto these
dataclass schemas (so a wrong type or an unknown key fails at start-up, naming the key) and
then checks the values the types cannot (an unknown profile, a negative duration, zero
hosts). Every failure is one `ConfigError` naming the field and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pregan.simulation.interfaces import DEFAULT_METRICS, FAULT_KINDS, METRICS


class ConfigError(ValueError):
    """A simulation or fault setting is invalid; the message names the field and value."""


@dataclass
class HostProfileConfig:
    """One host model; every figure carries its unit in its name."""

    cpu_mips: float  # MIPS
    ram_mb: float  # MB
    swap_mb: float  # MB of swap space
    disk_mb: float  # MB of storage
    disk_read_mb_per_s: float  # MB/s
    disk_write_mb_per_s: float  # MB/s
    net_up_mbit_per_s: float  # Mb/s (megabits)
    net_down_mbit_per_s: float  # Mb/s (megabits)
    latency_s: float  # s
    power_w: list[float]  # W at 0 %, 10 %, ..., 100 % CPU


@dataclass
class HostMixEntry:
    """`count` hosts of a profile, or a `fraction` of the hosts left after the counts."""

    profile: str
    count: int | None = None
    fraction: float | None = None


@dataclass
class NormalConfig:
    mean: float
    std: float


@dataclass
class SlowdownConfig:
    """How memory pressure slows containers (I/O slowdown follows from demand vs bandwidth)."""

    swap_threshold: float = 0.9  # resident/RAM above which the kernel swaps
    swap_factor: float = 10.0  # extra CPU time per unit of RAM pressure above the threshold
    min_speed: float = 0.02  # floor on the share of a device left to containers


@dataclass
class SimulationConfig:
    n_hosts: int = 16
    n_slots: int | None = None  # None: as many container slots as hosts
    interval_s: float = 300.0
    n_intervals: int = 100
    # Offered load relative to the cluster's capacity (see arrivals.arrival_rate);
    # None: the original's draws of max(1, int(N(arrivals.mean, arrivals.std))) per interval.
    load: float | None = 0.7
    arrival_scale: Any = "auto"  # original draws only: "auto" = n_hosts / 16, or a number
    arrivals: NormalConfig = field(default_factory=lambda: NormalConfig(1.0, 1.5))
    sla_intervals: NormalConfig = field(default_factory=lambda: NormalConfig(20.0, 3.0))
    work_sla_factor: float = 1.2
    # A container bursts to at most burst_factor x its base demand (and never past its
    # provisioned maximum). Without it, one container absorbs a whole Pi, finishes in a
    # third of its deadline, and no fault can ever cause an SLA violation.
    burst_factor: float = 2.0
    # What a live host reports with no container: the OS and monitoring agent's own CPU share
    # and RAM. Monitoring only (the power curve's 0 % point already is the idle draw). It keeps
    # an idle host apart from a crashed one, which reports nothing (all zeros).
    idle_cpu_fraction: float = 0.03
    idle_ram_mb: float = 300.0
    container_disk_mb: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    container_image_mb: list[float] = field(default_factory=lambda: [25.0, 50.0, 100.0])
    router_mbit_per_s: float = 10000.0
    migration_overhead_s: float = 1.0  # checkpoint dump + restore, on top of the transfer
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    host_mix: list[HostMixEntry] = field(default_factory=list)
    profiles: dict[str, HostProfileConfig] = field(default_factory=dict)
    slowdown: SlowdownConfig = field(default_factory=SlowdownConfig)
    noise_std: float = 0.01  # std of the monitoring noise, in utilisation units

    @property
    def slots(self) -> int:
        return self.n_hosts if self.n_slots is None else self.n_slots

    @property
    def scale(self) -> float:
        return self.n_hosts / 16.0 if self.arrival_scale == "auto" else float(self.arrival_scale)


@dataclass
class RangeConfig:
    low: float
    high: float


@dataclass
class FaultKindConfig:
    """Per host-interval onset probability, and uniform duration and intensity ranges.

    Intensity: the fraction of MIPS (cpu_overload), disk bandwidth (disk_contention) or
    network bandwidth (network_saturation) the fault consumes; for memory_leak the fraction
    of RAM capacity the leak reaches by the fault's end; unused for node_crash.
    """

    rate: float
    duration: RangeConfig  # intervals, integer, both ends included
    intensity: RangeConfig


@dataclass
class ScriptedFault:
    host: int
    kind: str
    onset: int
    duration: int
    intensity: float = 0.8


@dataclass
class EffectsConfig:
    """Second-order effects of faults (figures and sources in conf/faults/default.yaml)."""

    iowait_per_disk_busy: float = 0.25  # CPU iowait fraction per unit of disk busy time
    softirq_at_line_rate: float = 0.1  # CPU fraction spent in softirq at full NIC load
    page_touch_per_s: float = 0.01  # fraction of swapped-out memory paged in/out per second
    disk_read_share: float = 0.5  # share of a disk contender's device time spent reading
    truth_min: float = 0.02  # a fault drives a metric when it moves it by at least this much


@dataclass
class FaultsConfig:
    random: bool = True  # draw faults from `kinds`; scripted ones are applied on top
    labels: str = "injected"  # injected | percentile
    percentile: float = 98.0
    kinds: dict[str, FaultKindConfig] = field(default_factory=dict)
    scripted: list[ScriptedFault] = field(default_factory=list)
    effects: EffectsConfig = field(default_factory=EffectsConfig)


def _merge(schema: type, cfg: Any, section: str) -> Any:
    """Merge a DictConfig/dict/dataclass onto `schema`; type errors name the key."""
    if isinstance(cfg, schema):
        obj = cfg
    else:
        try:
            raw = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
            merged = OmegaConf.merge(OmegaConf.structured(schema), raw)
            obj = OmegaConf.to_object(merged)
        except OmegaConfBaseException as err:
            key = getattr(err, "full_key", None) or "?"
            raise ConfigError(f"{section}.{key}: {str(err).splitlines()[0]}") from None
    return obj


def _positive(value: float, name: str, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        sign = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {sign}, got {value!r}")


# Keys of the old, unit-less format and what replaced them.
_LEGACY_KEYS = {
    "net_up_mbps": "net_up_mbit_per_s (Mb/s)",
    "net_down_mbps": "net_down_mbit_per_s (Mb/s)",
    "disk_read_mbps": "disk_read_mb_per_s (MB/s)",
    "disk_write_mbps": "disk_write_mb_per_s (MB/s)",
    "ram_read_mbps": "nothing (RAM bandwidth is not modelled)",
    "ram_write_mbps": "nothing (RAM bandwidth is not modelled)",
    "ips": "cpu_mips (MIPS)",
    "router_bandwidth_mbps": "router_mbit_per_s (Mb/s)",
    "idle_cpu": "idle_cpu_fraction",
    "multipliers": "profile figures as measured (see conf/simulation/original.yaml)",
}


def _reject_legacy(cfg: Any) -> None:
    """One clear line for a key left from the unit-less format, before the schema merge."""
    raw = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    if not isinstance(raw, dict):
        return
    places = [("simulation", raw)] + [
        (f"simulation.profiles.{name}", prof)
        for name, prof in (raw.get("profiles") or {}).items()
        if isinstance(prof, dict)
    ]
    for where, block in places:
        for key in block:
            if key in _LEGACY_KEYS:
                raise ConfigError(
                    f"{where}.{key}: unit-less key from the old format; use {_LEGACY_KEYS[key]}"
                )


def simulation_from_dictconfig(cfg: Any) -> SimulationConfig:
    """Build and validate a SimulationConfig from Hydra's `cfg.simulation`."""
    if not isinstance(cfg, SimulationConfig):
        _reject_legacy(cfg)
    sim: SimulationConfig = _merge(SimulationConfig, cfg, "simulation")
    _positive(sim.n_hosts, "simulation.n_hosts")
    _positive(sim.slots, "simulation.n_slots")
    _positive(sim.interval_s, "simulation.interval_s")
    _positive(sim.n_intervals, "simulation.n_intervals")
    _positive(sim.router_mbit_per_s, "simulation.router_mbit_per_s")
    _positive(sim.migration_overhead_s, "simulation.migration_overhead_s", allow_zero=True)
    if sim.load is not None:
        _positive(sim.load, "simulation.load")
    _positive(sim.arrivals.std, "simulation.arrivals.std", allow_zero=True)
    _positive(sim.sla_intervals.std, "simulation.sla_intervals.std", allow_zero=True)
    _positive(sim.work_sla_factor, "simulation.work_sla_factor")
    _positive(sim.idle_cpu_fraction, "simulation.idle_cpu_fraction", allow_zero=True)
    _positive(sim.idle_ram_mb, "simulation.idle_ram_mb", allow_zero=True)
    if sim.burst_factor < 1.0:
        raise ConfigError(f"simulation.burst_factor must be >= 1, got {sim.burst_factor!r}")
    _positive(sim.noise_std, "simulation.noise_std", allow_zero=True)
    if sim.arrival_scale != "auto":
        try:
            scale = float(sim.arrival_scale)
        except (TypeError, ValueError):
            raise ConfigError(
                f"simulation.arrival_scale must be 'auto' or a number, got {sim.arrival_scale!r}"
            ) from None
        _positive(scale, "simulation.arrival_scale", allow_zero=True)
    for key in ("container_disk_mb", "container_image_mb"):
        sizes = getattr(sim, key)
        if not sizes or min(sizes) <= 0:
            raise ConfigError(f"simulation.{key} must be positive sizes, got {sizes!r}")
    unknown = [m for m in sim.metrics if m not in METRICS]
    if unknown:
        raise ConfigError(
            f"simulation.metrics: unknown metric name(s) {unknown}; known: {list(METRICS)}"
        )
    if not sim.metrics or sim.metrics[0] != "cpu" or len(set(sim.metrics)) != len(sim.metrics):
        raise ConfigError(
            "simulation.metrics must list distinct metrics starting with 'cpu' (CPU-watching "
            f"methods read column 0), got {sim.metrics!r}"
        )
    if not sim.profiles:
        raise ConfigError("simulation.profiles is empty: at least one host profile is needed")
    for name, prof in sim.profiles.items():
        if len(prof.power_w) != 11:
            raise ConfigError(
                f"simulation.profiles.{name}.power_w needs 11 values (0..100 %), got {len(prof.power_w)}"
            )
        for key in ("cpu_mips", "ram_mb", "swap_mb", "disk_mb", "disk_read_mb_per_s",
                    "disk_write_mb_per_s", "net_up_mbit_per_s", "net_down_mbit_per_s"):  # fmt: skip
            _positive(getattr(prof, key), f"simulation.profiles.{name}.{key}")
    if not sim.host_mix:
        raise ConfigError("simulation.host_mix is empty: say which profiles the hosts use")
    for i, entry in enumerate(sim.host_mix):
        where = f"simulation.host_mix[{i}]"
        if entry.profile not in sim.profiles:
            raise ConfigError(
                f"{where}.profile: unknown profile {entry.profile!r}; known: {sorted(sim.profiles)}"
            )
        if (entry.count is None) == (entry.fraction is None):
            raise ConfigError(f"{where}: give exactly one of count or fraction, got {entry}")
        if entry.count is not None:
            _positive(entry.count, f"{where}.count", allow_zero=True)
        if entry.fraction is not None:
            _positive(entry.fraction, f"{where}.fraction")
    counted = sum(e.count for e in sim.host_mix if e.count is not None)
    if counted > sim.n_hosts or (
        counted < sim.n_hosts and all(e.fraction is None for e in sim.host_mix)
    ):
        raise ConfigError(
            f"simulation.host_mix: counts add up to {counted} hosts but n_hosts is {sim.n_hosts}"
        )
    s = sim.slowdown
    if not 0 < s.swap_threshold <= 1:
        raise ConfigError(
            f"simulation.slowdown.swap_threshold must be in (0, 1], got {s.swap_threshold!r}"
        )
    _positive(s.swap_factor, "simulation.slowdown.swap_factor", allow_zero=True)
    if not 0 < s.min_speed <= 1:
        raise ConfigError(f"simulation.slowdown.min_speed must be in (0, 1], got {s.min_speed!r}")
    return sim


def _check_range(r: RangeConfig, name: str, low: float, high: float) -> None:
    if r.low > r.high:
        raise ConfigError(f"{name}: low {r.low!r} is above high {r.high!r}")
    if r.low < low or r.high > high:
        raise ConfigError(f"{name} must lie in [{low}, {high}], got [{r.low!r}, {r.high!r}]")


def _max_intensity(kind: str) -> float:
    """A leak may overshoot RAM capacity (that is what makes the host swap); hogs cannot."""
    return 2.0 if kind == "memory_leak" else 1.0


def faults_from_dictconfig(cfg: Any, n_hosts: int | None = None) -> FaultsConfig:
    """Build and validate a FaultsConfig from Hydra's `cfg.faults`."""
    faults: FaultsConfig = _merge(FaultsConfig, cfg, "faults")
    if faults.labels not in ("injected", "percentile"):
        raise ConfigError(
            f"faults.labels must be 'injected' or 'percentile', got {faults.labels!r}"
        )
    if not 0 < faults.percentile < 100:
        raise ConfigError(f"faults.percentile must be in (0, 100), got {faults.percentile!r}")
    for kind, kc in faults.kinds.items():
        where = f"faults.kinds.{kind}"
        if kind not in FAULT_KINDS:
            raise ConfigError(f"{where}: unknown fault kind {kind!r}; known: {list(FAULT_KINDS)}")
        if not 0 <= kc.rate <= 1:
            raise ConfigError(f"{where}.rate must be a probability in [0, 1], got {kc.rate!r}")
        if kc.duration.low < 1:
            raise ConfigError(
                f"{where}.duration.low must be >= 1 interval, got {kc.duration.low!r}"
            )
        _check_range(kc.duration, f"{where}.duration", 1, float("inf"))
        _check_range(kc.intensity, f"{where}.intensity", 0.0, _max_intensity(kind))
    e = faults.effects
    for key in ("iowait_per_disk_busy", "softirq_at_line_rate", "disk_read_share"):
        if not 0 <= getattr(e, key) <= 1:
            raise ConfigError(f"faults.effects.{key} must be in [0, 1], got {getattr(e, key)!r}")
    _positive(e.page_touch_per_s, "faults.effects.page_touch_per_s", allow_zero=True)
    if not 0 < e.truth_min < 1:
        raise ConfigError(f"faults.effects.truth_min must be in (0, 1), got {e.truth_min!r}")
    for i, sf in enumerate(faults.scripted):
        where = f"faults.scripted[{i}]"
        if sf.kind not in FAULT_KINDS:
            raise ConfigError(
                f"{where}.kind: unknown fault kind {sf.kind!r}; known: {list(FAULT_KINDS)}"
            )
        if sf.duration <= 0:
            raise ConfigError(f"{where}.duration must be > 0, got {sf.duration!r}")
        if sf.onset < 0:
            raise ConfigError(f"{where}.onset must be >= 0, got {sf.onset!r}")
        if sf.host < 0 or (n_hosts is not None and sf.host >= n_hosts):
            raise ConfigError(f"{where}.host must be in [0, {n_hosts}), got {sf.host!r}")
        if not 0 <= sf.intensity <= _max_intensity(sf.kind):
            raise ConfigError(
                f"{where}.intensity must be in [0, {_max_intensity(sf.kind)}], got {sf.intensity!r}"
            )
    return faults
