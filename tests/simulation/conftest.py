"""Small, fast simulators built from the real default configs and a synthetic bank."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import OmegaConf

from pregan.simulation.config import faults_from_dictconfig, simulation_from_dictconfig
from pregan.simulation.simulator import Simulator
from pregan.simulation.workload_bank import WorkloadBank

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_bank(seed: int = 0, n: int = 40, length: int = 60) -> WorkloadBank:
    """Bitbrains-like demand: 500-3000 MIPS base with bursts, a few hundred MB of RAM."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(500, 3000, (n, 1))
    cpu = np.clip(level * rng.lognormal(0.0, 0.3, (n, length)), 0, 4000)
    ram = rng.uniform(100, 1500, (n, 1)) * rng.uniform(0.9, 1.1, (n, length))

    def io(scale: float) -> np.ndarray:
        return rng.exponential(scale, (n, length)).astype(np.float32)

    return WorkloadBank(
        cpu_mips=cpu.astype(np.float32),
        ram_mb=ram.astype(np.float32),
        disk_read_mbps=io(0.5),
        disk_write_mbps=io(0.1),
        net_rx_mbps=io(1.0),
        net_tx_mbps=io(1.0),
        cpu_max_mips=(level[:, 0] * 1.5).astype(np.float32),
        source="tests:synthetic",
    )


def base_cfg(**sim: Any) -> Any:
    """The repo's default simulation + faults config, with simulation overrides."""
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(REPO_ROOT / "conf/simulation/default.yaml"),
            "faults": OmegaConf.load(REPO_ROOT / "conf/faults/default.yaml"),
        }
    )
    for key, value in sim.items():
        OmegaConf.update(cfg, f"simulation.{key}", value, force_add=True)
    return cfg


def make_sim(
    seed: int = 0,
    faults: dict[str, Any] | None = None,
    bank: WorkloadBank | None = None,
    **sim: Any,
) -> Simulator:
    cfg = base_cfg(**sim)
    if faults is not None:
        cfg.faults = OmegaConf.merge(cfg.faults, faults)
    sim_cfg = simulation_from_dictconfig(cfg.simulation)
    return Simulator(
        sim_cfg, faults_from_dictconfig(cfg.faults, sim_cfg.n_hosts), bank or make_bank(seed), seed
    )


@pytest.fixture
def bank() -> WorkloadBank:
    return make_bank()


@pytest.fixture
def bank_factory():
    """make_bank(seed, n, length) -> WorkloadBank."""
    return make_bank


@pytest.fixture
def sim_factory():
    """make_sim(seed, faults=..., bank=..., **simulation overrides) -> Simulator."""
    return make_sim


@pytest.fixture
def cfg_factory():
    """base_cfg(**simulation overrides) -> DictConfig with .simulation and .faults."""
    return base_cfg
