"""The single environment: Gymnasium's checker, spaces, masks, reward, seeding, config."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pregan.envs  # noqa: F401  (registers pregan/EdgeRecovery-v0)
from pregan.envs.config import EnvConfigError
from pregan.envs.edge_recovery import EdgeRecoveryEnv
from pregan.envs.spaces import decode_action
from pregan.simulation.interfaces import QOS_COLUMNS
from pregan.simulation.simulator import Simulator


def rollout(env: gym.Env, seed: int, rng_seed: int) -> tuple[list, list, list]:
    """Masked random actions from a seeded generator; returns observations, rewards, infos."""
    rng = np.random.default_rng(rng_seed)
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    done = False
    while not done:
        mask = obs["action_mask"].astype(bool)  # (C, H + 1)
        action = np.array([rng.choice(np.flatnonzero(row)) for row in mask])
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        done = terminated or truncated
    return observations, rewards, infos


def test_check_env_passes(tiny_cfg) -> None:
    env = gym.make("pregan/EdgeRecovery-v0", cfg=tiny_cfg)
    check_env(env.unwrapped, skip_render_check=True)


def test_make_composes_the_study_config() -> None:
    env = gym.make("pregan/EdgeRecovery-v0", overrides=["debug=tiny", "simulation.n_hosts=5"])
    obs, _ = env.reset(seed=0)
    assert obs["metrics"].shape[1] == 5
    assert env.action_space.nvec.tolist() == [6] * 5


def test_same_cluster_as_the_study(tiny_cfg) -> None:
    env = EdgeRecoveryEnv(tiny_cfg)
    env.reset(seed=7)
    sim = Simulator.from_config(tiny_cfg, 7)
    obs = sim.observe()
    assert env.cluster.n_hosts == sim.spec.n_hosts and env.cluster.metrics == sim.spec.metrics
    np.testing.assert_array_equal(env.cluster.host_ips, sim.spec.host_ips)
    np.testing.assert_array_equal(env.observation.container_mips, obs.container_mips)
    np.testing.assert_array_equal(env.observation.placement, obs.placement)


def test_seeded_reset_reproduces_an_episode_exactly(tiny_cfg) -> None:
    a = rollout(EdgeRecoveryEnv(tiny_cfg), seed=3, rng_seed=1)
    b = rollout(EdgeRecoveryEnv(tiny_cfg), seed=3, rng_seed=1)
    c = rollout(EdgeRecoveryEnv(tiny_cfg), seed=4, rng_seed=1)
    for x, y in zip(a[0], b[0], strict=True):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    assert a[1] == b[1]
    assert a[1] != c[1]


def test_observations_lie_in_their_space_and_the_mask_is_honest(tiny_cfg) -> None:
    env = EdgeRecoveryEnv(tiny_cfg)
    observations, _, infos = rollout(env, seed=5, rng_seed=2)
    H = env.cluster.n_hosts
    for obs in observations:
        assert env.observation_space.contains(obs)
        mask = obs["action_mask"].astype(bool)
        assert mask[:, 0].all()  # keeping the proposal is always allowed
        down = obs["host_up"] == 0
        assert not mask[:, 1:][:, down].any()  # no move onto a crashed host
        cur = obs["placement"]
        rows = np.flatnonzero(cur >= 0)
        assert not mask[rows, cur[rows] + 1].any()  # no "move" to where it already is
    assert len(observations) == env.n_intervals + 1
    assert observations[-1]["action_mask"][:, 1:].sum() == 0
    assert {"qos", "migrations", "analysis_only"} <= set(infos[0])
    assert infos[0]["analysis_only"]["fault_class"].shape == (H,)


def test_reward_is_minus_the_cosim_score_with_configured_weights(tiny_cfg) -> None:
    env = EdgeRecoveryEnv(tiny_cfg)
    _, rewards, _ = rollout(env, seed=2, rng_seed=0)
    qos = np.stack(env.episode_qos)  # (T, Q)
    col = {n: i for i, n in enumerate(QOS_COLUMNS)}
    s, spec = env.scoring, env.cluster
    resp = np.nan_to_num(qos[:, col["mean_response_s"]], nan=0.0)
    expected = -(
        s.w_energy * qos[:, col["energy_j"]] / (spec.n_hosts * s.power_ref_w * spec.interval_s)
        + s.w_response * resp / s.response_ref_s
        + s.w_sla * qos[:, col["sla_violations"]] / spec.n_slots
    )
    np.testing.assert_allclose(rewards, expected, rtol=1e-12)
    energy_only = EdgeRecoveryEnv(
        tiny_cfg,
        env_cfg={"window": 4, "reward": {**env_cfg_reward(), "w_response": 0.0, "w_energy": 1.0}},
    )
    _, rewards_e, _ = rollout(energy_only, seed=2, rng_seed=0)
    np.testing.assert_allclose(
        rewards_e,
        -qos[:, col["energy_j"]] / (spec.n_hosts * s.power_ref_w * spec.interval_s),
        rtol=1e-12,
    )


def env_cfg_reward() -> dict:
    from omegaconf import OmegaConf

    from pregan.envs.config import CONF_DIR

    return OmegaConf.to_container(OmegaConf.load(Path(CONF_DIR) / "env" / "default.yaml").reward)


def test_actions_decode_to_requested_moves(tiny_cfg) -> None:
    env = EdgeRecoveryEnv(tiny_cfg)
    obs, _ = env.reset(seed=1)
    proposal = obs["proposal"]
    action = np.zeros_like(proposal)
    np.testing.assert_array_equal(decode_action(action, proposal), proposal)
    action[0] = 3
    assert decode_action(action, proposal)[0] == 2


def test_bad_action_and_bad_config_name_the_problem(tiny_cfg) -> None:
    env = EdgeRecoveryEnv(tiny_cfg)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must have shape"):
        env.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(EnvConfigError, match="env.window"):
        EdgeRecoveryEnv(tiny_cfg, env_cfg={"window": 0, "reward": env_cfg_reward()})


def test_episode_seeds_pool_draws_only_listed_seeds(tiny_cfg) -> None:
    env = EdgeRecoveryEnv(tiny_cfg, seeds=[10, 11])
    drawn = {env.reset(seed=s)[1]["episode_seed"] for s in range(8)}
    assert drawn <= {10, 11} and len(drawn) == 2
