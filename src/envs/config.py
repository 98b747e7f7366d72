"""The environment's config: the study's Hydra groups plus the `env` group.

`load_config(overrides)` composes `conf/train.yaml` exactly as `python train.py` would (same
defaults, same overrides), so `simulation.n_hosts=8` means the same cluster in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
STUDY_GROUPS = ("simulation", "workload", "faults", "scheduler")


class EnvConfigError(ValueError):
    """The environment's config lacks a group or has a bad value; names it."""


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """conf/train.yaml composed with `overrides` (Hydra syntax), as train.py sees it."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def env_section(cfg: Any, env_cfg: Any = None) -> DictConfig:
    """The env settings: `env_cfg` if given, else `cfg.env`, else conf/env/default.yaml."""
    if env_cfg is None:
        env_cfg = cfg.get("env") if hasattr(cfg, "get") else None
    if env_cfg is None:
        env_cfg = OmegaConf.load(CONF_DIR / "env" / "default.yaml")
    env_cfg = OmegaConf.create(env_cfg) if not isinstance(env_cfg, DictConfig) else env_cfg
    window = env_cfg.get("window")
    if not isinstance(window, int) or window < 1:
        raise EnvConfigError(f"env.window must be a positive integer, got {window!r}")
    if env_cfg.get("reward") is None:
        raise EnvConfigError("env.reward is missing (see conf/env/default.yaml)")
    return env_cfg


def check_study_groups(cfg: Any) -> None:
    """One clear error when a study group the cluster needs is absent."""
    missing = [g for g in STUDY_GROUPS if cfg.get(g) is None]
    if missing:
        raise EnvConfigError(f"environment config lacks the group(s) {missing}")
