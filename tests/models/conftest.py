"""Fixtures of the recovery-policy tests: a 4-host, 8-interval cluster with one scripted fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONF = Path(__file__).resolve().parents[2] / "conf"

TINY_FAULTY_CLUSTER = (
    "simulation.n_hosts=4",
    "simulation.n_intervals=8",
    "+faults.scripted=[{host: 0, kind: cpu_overload, onset: 2, duration: 5, intensity: 0.95}]",
)


@pytest.fixture(scope="module")
def tiny_faulty_cfg() -> Callable[..., DictConfig]:
    """conf/train.yaml on the tiny faulty cluster, plus the given overrides."""

    def compose_tiny(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="train", overrides=[*overrides, *TINY_FAULTY_CLUSTER])

    return compose_tiny
