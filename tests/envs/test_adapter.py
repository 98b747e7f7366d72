"""Every study method, run as a policy over the environment through the one adapter, gives
exactly the QoS rows of `run_recovery_episode` on the same seed (tiny config)."""

from __future__ import annotations

import copy
from pathlib import Path

import hydra
import numpy as np
import pytest

from pregan.data.generate import ensure_traces
from pregan.envs.adapter import run_policy_episode
from pregan.envs.edge_recovery import EdgeRecoveryEnv
from pregan.evaluation.runner import run_recovery_episode
from pregan.models.interfaces import FitContext

CONF_MODEL = Path(__file__).resolve().parents[2] / "conf" / "model"
# Every method of the study (read from conf/model, so a new one is covered): those that fit a
# classifier (and a GAN) on the tiny traces run in the slow test; ppo has its own test;
# `classifier` only trains the classifier the others share and has no policy.
LEARNED = ["evacuate", "pregan", "pregan_online"]
METHODS = sorted(p.stem for p in CONF_MODEL.glob("*.yaml"))
FAST = [m for m in METHODS if m not in LEARNED and m not in ("ppo", "classifier")]
LEARNED = [m for m in LEARNED if m in METHODS]
SEEDS = [200, 201]


def fitted_policy(make_cfg, name: str, tmp_path: Path, extra: list[str]):
    cfg = make_cfg(["debug=tiny", f"model={name}", *extra], tmp_path)
    splits = ensure_traces(cfg, tmp_path / "run")
    method = hydra.utils.instantiate(cfg.model, _recursive_=False)
    method.fit(
        FitContext(
            train_dir=splits["train"],
            val_dir=splits["val"],
            output_dir=tmp_path / "run",
            seed=0,
            trainer_cfg=cfg.trainer,
            loggers=[],
            simulation_cfg=cfg,
            callbacks_cfg=cfg.get("callbacks"),
        )
    )
    return cfg, method.policy()


def assert_same_qos(cfg, policy) -> None:
    """Fresh copies of the fitted policy for each path: online learners change as they act."""
    env = EdgeRecoveryEnv(cfg)
    scheduler = hydra.utils.instantiate(cfg.scheduler)
    for seed in SEEDS:
        runner = run_recovery_episode(cfg, seed, scheduler, copy.deepcopy(policy))
        through_env, _ = run_policy_episode(env, copy.deepcopy(policy), seed)
        np.testing.assert_array_equal(through_env, runner.qos)


@pytest.mark.parametrize("name", FAST)
def test_method_gives_the_runners_qos_through_the_env(make_cfg, tmp_path, name) -> None:
    cfg, policy = fitted_policy(make_cfg, name, tmp_path, [])
    assert_same_qos(cfg, policy)


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNED)
def test_learned_method_gives_the_runners_qos_through_the_env(make_cfg, tmp_path, name) -> None:
    cfg, policy = fitted_policy(make_cfg, name, tmp_path, ["model.classifier.trainer.max_epochs=2"])
    assert_same_qos(cfg, policy)


def test_the_oracle_moves_containers_so_the_test_can_fail(make_cfg, tmp_path) -> None:
    """The equality above is only meaningful if methods act differently from 'none'."""
    cfg, oracle = fitted_policy(make_cfg, "oracle", tmp_path, [])
    _, none = fitted_policy(make_cfg, "none", tmp_path / "none", [])
    env = EdgeRecoveryEnv(cfg)
    a, _ = run_policy_episode(env, oracle, SEEDS[0])
    b, _ = run_policy_episode(env, none, SEEDS[0])
    assert not np.array_equal(np.nan_to_num(a), np.nan_to_num(b))
