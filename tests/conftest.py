"""Shared fixtures: the real Hydra config, composed and shrunk, writing only under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def compose_config(overrides: list[str], tmp_path: Path) -> DictConfig:
    """Compose conf/train.yaml with `overrides`, every output redirected under tmp_path."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=False)
    with open_dict(cfg):
        cfg.paths.root_dir = str(REPO_ROOT)
        cfg.paths.output_dir = str(tmp_path / "run")
        cfg.paths.log_dir = str(tmp_path / "logs")
        cfg.paths.work_dir = str(tmp_path)
        cfg.data.traces_dir = str(tmp_path / "traces")
        cfg.data.summary_file = str(tmp_path / "reports" / "simulate.json")
        cfg.logger.mlflow.tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        cfg.logger.mlflow.artifact_location = str(tmp_path / "mlartifacts")
    return cfg


@pytest.fixture
def make_cfg() -> Callable[[list[str], Path], DictConfig]:
    """`make_cfg(overrides, tmp_path)` for tests that need other overrides than tiny_cfg's."""
    return compose_config


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    """The default config shrunk to 4 hosts, 20 intervals, 1 epoch."""
    return compose_config(["debug=tiny"], tmp_path)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA
