"""model=ppo: trains on training seeds only, keeps the best validation checkpoint, logs its
curve, acts within the mask, and runs through the runner and the environment alike."""

from __future__ import annotations

import copy

import hydra
import numpy as np
import pytest

from pregan.envs.adapter import run_policy_episode
from pregan.envs.edge_recovery import EdgeRecoveryEnv
from pregan.evaluation.runner import run_recovery_episode
from pregan.models.interfaces import FitContext
from pregan.models.recovery.ppo import PPOConfigError, PPOMethod


class RecordingLogger:
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, float]]] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append((step, dict(metrics)))


@pytest.fixture
def fitted(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg(
        [
            "debug=tiny",
            "model=ppo",
            "model.total_timesteps=256",
            "model.n_envs=2",
            "model.n_steps=64",
            "model.batch_size=64",
            "model.eval_every=64",
            "model.progress_bar=false",
        ],
        tmp_path,
    )
    seen: list[tuple[bool, int]] = []
    plan = EdgeRecoveryEnv.plan

    def spy(self, seed):  # every episode, training or validation, starts from its plan
        seen.append((self.seeds is not None, int(seed)))
        return plan(self, seed)

    monkeypatch.setattr(EdgeRecoveryEnv, "plan", spy)
    method = hydra.utils.instantiate(cfg.model, _recursive_=False)
    logger = RecordingLogger()
    metrics = method.fit(
        FitContext(
            train_dir=tmp_path,
            val_dir=tmp_path,
            output_dir=tmp_path / "run",
            seed=0,
            trainer_cfg=cfg.trainer,
            loggers=[logger],
            simulation_cfg=cfg,
        )
    )
    monkeypatch.setattr(EdgeRecoveryEnv, "plan", plan)
    return cfg, method, metrics, logger, seen


def test_ppo_trains_on_train_seeds_and_chooses_on_validation(fitted) -> None:
    cfg, method, metrics, logger, seen = fitted
    train, val = set(cfg.data.train_seeds), set(cfg.data.val_seeds)
    training = {s for pooled, s in seen if pooled}  # the training environments' episodes
    validation = {s for pooled, s in seen if not pooled}  # the checkpoint evaluations'
    assert training and training <= train
    assert validation == val
    vals = [m["ppo/val_return"] for _, m in logger.rows]
    assert len(vals) >= 4  # a learning curve, one point per eval_every steps
    assert metrics["ppo/best_val_return"] == pytest.approx(max(vals))
    assert metrics["ppo/timesteps"] >= 256
    assert method.artifacts()["checkpoints"].is_file()


def test_ppo_policy_respects_masks_and_matches_through_the_env(fitted) -> None:
    cfg, method, *_ = fitted
    policy = method.policy()
    env = EdgeRecoveryEnv(cfg)
    obs, _ = env.reset(seed=200)
    for _ in range(5):
        decision = policy.decide(env.observation, env.proposal)
        action = np.asarray(
            method.policy().model.predict(obs, action_masks=env.action_masks(), deterministic=True)[
                0
            ]
        )
        assert obs["action_mask"][np.arange(len(action)), action].all()
        np.testing.assert_array_equal(
            decision.placement, np.where(action == 0, env.proposal, action - 1)
        )
        obs, *_ = env.step(action)
    scheduler = hydra.utils.instantiate(cfg.scheduler)
    runner = run_recovery_episode(cfg, 200, scheduler, copy.deepcopy(policy))
    through_env, _ = run_policy_episode(env, copy.deepcopy(policy), 200)
    np.testing.assert_array_equal(through_env, runner.qos)


def test_bad_budget_names_the_field() -> None:
    with pytest.raises(PPOConfigError, match="total_timesteps"):
        PPOMethod(total_timesteps=0)


def test_shared_agent_is_trained_once_and_loaded_by_later_runs(make_cfg, tmp_path) -> None:
    overrides = [
        "debug=tiny",
        "model=ppo",
        "model.total_timesteps=128",
        "model.n_envs=2",
        "model.n_steps=32",
        "model.batch_size=32",
        "model.eval_every=64",
        "model.progress_bar=false",
        f"model.shared_agent_dir={tmp_path / 'agent'}",
    ]
    cfg = make_cfg(overrides, tmp_path)

    def fit(seed: int, cfg=cfg) -> tuple[PPOMethod, dict[str, float], RecordingLogger]:
        method = hydra.utils.instantiate(cfg.model, _recursive_=False)
        logger = RecordingLogger()
        ctx = FitContext(tmp_path, tmp_path, tmp_path / f"run{seed}", seed, cfg.trainer,
                         [logger], cfg)  # fmt: skip
        return method, method.fit(ctx), logger

    first, m1, log1 = fit(0)
    second, m2, log2 = fit(3)
    assert (m1["ppo/loaded_shared_agent"], m2["ppo/loaded_shared_agent"]) == (0.0, 1.0)
    assert m2["ppo/best_val_return"] == m1["ppo/best_val_return"]
    assert log2.rows == log1.rows  # the shared agent's learning curve, logged in each run
    env = EdgeRecoveryEnv(cfg)
    env.reset(seed=200)
    for _ in range(3):
        a = first.policy().decide(env.observation, env.proposal).placement
        b = second.policy().decide(env.observation, env.proposal).placement
        np.testing.assert_array_equal(a, b)
        env.step(np.zeros(env.action_space.shape, dtype=np.int64))
    # Another setting is another agent: trained, not loaded.
    other = make_cfg([*overrides, "model.keep_bias=1.0"], tmp_path)
    _, m3, _ = fit(0, other)
    assert m3["ppo/loaded_shared_agent"] == 0.0
    assert len(list((tmp_path / "agent").glob("ppo_*.zip"))) == 2
