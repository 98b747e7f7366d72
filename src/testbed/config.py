"""The test bed's own settings (`conf/backend/testbed.yaml`), validated at start-up.

The emulated hosts keep the simulator's Raspberry-Pi profiles (`simulation.profiles`); these
settings only say how much of this machine stands for one Pi, and how long an interval lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pregan.simulation.config import ConfigError


@dataclass(frozen=True)
class TestbedConfig:
    __test__ = False  # not a pytest test class despite its name

    prefix: str = "pregan_tb"  # pod, container and cgroup names start with it
    # A Pi's MIPS per core of this machine: 16116 -> a 4029-MIPS Pi 4B gets 0.25 cores, so
    # 4 emulated hosts take one of the 2 cores and leave the other to the backend and policy.
    mips_per_core: float = 16116.0
    ram_scale: float = 1.0 / 32.0  # pod memory = profile ram_mb x scale (4 GB -> 134 MB)
    disk_scale: float = 0.25  # blkio throttle = profile disk MB/s x scale (20 -> 5 MB/s write)
    net_scale: float = 0.02  # tbf rate on the pod's NIC = profile Mb/s x scale (940 -> 18.8)
    # BCM2711: 4 Cortex-A72 cores; iowait is a share of the emulated Pi's 4 cores' time.
    emulated_cores: int = 4
    loss_probability: float = 0.2  # iptables random DROP on a saturated host's input
    tbf_burst_kb: int = 32  # token bucket depth of the NIC emulation
    tbf_latency_ms: int = 50  # queueing allowed before tbf drops


def testbed_from_dictconfig(cfg: Any) -> TestbedConfig:
    """Build from `cfg.backend` (DictConfig or mapping); unknown keys and bad values raise
    ConfigError naming the key."""
    raw = dict(cfg) if cfg is not None else {}
    raw.pop("name", None)
    known = set(TestbedConfig.__dataclass_fields__)
    if unknown := sorted(set(raw) - known):
        raise ConfigError(f"backend: unknown key(s) {unknown}; known: {sorted(known)}")
    out = TestbedConfig(**raw)
    for key in ("mips_per_core", "ram_scale", "disk_scale", "net_scale"):
        if not float(getattr(out, key)) > 0:
            raise ConfigError(f"backend.{key} must be > 0, got {getattr(out, key)!r}")
    if not 0.0 <= out.loss_probability < 1.0:
        raise ConfigError(
            f"backend.loss_probability must lie in [0, 1), got {out.loss_probability}"
        )
    if not out.prefix.replace("_", "").isalnum():
        raise ConfigError(f"backend.prefix must be alphanumeric or _, got {out.prefix!r}")
    return out
