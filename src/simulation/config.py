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

from pregan.simulation.interfaces import FAULT_KINDS


class ConfigError(ValueError):
    """A simulation or fault setting is invalid; the message names the field and value."""


@dataclass
class HostProfileConfig:
    """One host model as measured (before the original's bandwidth multipliers)."""

    ips: float  # MIPS
    ram_mb: float
    ram_read_mbps: float
    ram_write_mbps: float
    disk_mb: float
    disk_read_mbps: float
    disk_write_mbps: float
    net_up_mbps: float
    net_down_mbps: float
    latency_s: float
    power_w: list[float]  # watts at 0 %, 10 %, ..., 100 % CPU


@dataclass
class HostMixEntry:
    """`count` hosts of a profile, or a `fraction` of the hosts left after the counts."""

    profile: str
    count: int | None = None
    fraction: float | None = None


@dataclass
class MultiplierConfig:
    """The original scales the measured bandwidths when it builds hosts."""

    ram_read: float = 5.0
    ram_write: float = 5.0
    disk_read: float = 5.0
    disk_write: float = 10.0


@dataclass
class NormalConfig:
    mean: float
    std: float


@dataclass
class SlowdownConfig:
    """How faults turn into slower containers (Amdahl-style split of a container's work)."""

    io_bound_share: float = 0.3  # share of a container's work waiting on disk I/O
    net_bound_share: float = 0.2  # share waiting on the network
    swap_threshold: float = 0.85  # RAM pressure above which the host starts swapping
    swap_factor: float = 10.0  # extra time per unit of RAM pressure above the threshold
    min_speed: float = 0.02  # floor on a saturated device's speed, keeps times finite


@dataclass
class SimulationConfig:
    n_hosts: int = 16
    n_slots: int | None = None  # None: as many container slots as hosts
    interval_s: float = 300.0
    n_intervals: int = 100
    arrival_scale: Any = "auto"  # "auto" = n_hosts / 16, or a positive number
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
    idle_cpu: float = 0.03
    idle_ram_mb: float = 300.0
    container_disk_mb: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    router_bandwidth_mbps: float = 10000.0
    host_mix: list[HostMixEntry] = field(default_factory=list)
    profiles: dict[str, HostProfileConfig] = field(default_factory=dict)
    multipliers: MultiplierConfig = field(default_factory=MultiplierConfig)
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
class FaultsConfig:
    random: bool = True  # draw faults from `kinds`; scripted ones are applied on top
    labels: str = "injected"  # injected | percentile
    percentile: float = 98.0
    kinds: dict[str, FaultKindConfig] = field(default_factory=dict)
    scripted: list[ScriptedFault] = field(default_factory=list)


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


def simulation_from_dictconfig(cfg: Any) -> SimulationConfig:
    """Build and validate a SimulationConfig from Hydra's `cfg.simulation`."""
    sim: SimulationConfig = _merge(SimulationConfig, cfg, "simulation")
    _positive(sim.n_hosts, "simulation.n_hosts")
    _positive(sim.slots, "simulation.n_slots")
    _positive(sim.interval_s, "simulation.interval_s")
    _positive(sim.n_intervals, "simulation.n_intervals")
    _positive(sim.router_bandwidth_mbps, "simulation.router_bandwidth_mbps")
    _positive(sim.arrivals.std, "simulation.arrivals.std", allow_zero=True)
    _positive(sim.sla_intervals.std, "simulation.sla_intervals.std", allow_zero=True)
    _positive(sim.work_sla_factor, "simulation.work_sla_factor")
    _positive(sim.idle_cpu, "simulation.idle_cpu", allow_zero=True)
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
    if not sim.container_disk_mb or min(sim.container_disk_mb) <= 0:
        raise ConfigError(
            f"simulation.container_disk_mb must be positive sizes, got {sim.container_disk_mb!r}"
        )
    if not sim.profiles:
        raise ConfigError("simulation.profiles is empty: at least one host profile is needed")
    for name, prof in sim.profiles.items():
        if len(prof.power_w) != 11:
            raise ConfigError(
                f"simulation.profiles.{name}.power_w needs 11 values (0..100 %), got {len(prof.power_w)}"
            )
        for key in ("ips", "ram_mb", "disk_mb", "disk_read_mbps", "disk_write_mbps",
                    "net_up_mbps", "net_down_mbps"):  # fmt: skip
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
    if s.io_bound_share < 0 or s.net_bound_share < 0 or s.io_bound_share + s.net_bound_share > 1:
        raise ConfigError(
            "simulation.slowdown: io_bound_share and net_bound_share must be >= 0 and sum to "
            f"at most 1, got {s.io_bound_share!r} and {s.net_bound_share!r}"
        )
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
