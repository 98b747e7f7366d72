"""The vector environment: what make_vec returns and the checks Gymnasium's vector API implies.

Gymnasium 1.x ships no vector checker, so the applicable parts of check_env are done here for
the batch (spaces, containment, seeded determinism, returned data not reused) and the whole
behaviour, autoreset included, is compared with Gymnasium's own SyncVectorEnv over the same
single environments.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import batch_space

import pregan.envs  # noqa: F401
from pregan.envs.edge_recovery import EdgeRecoveryEnv
from pregan.envs.vector import EdgeRecoveryVectorEnv

N = 3


def masked_actions(obs: dict, rng: np.random.Generator) -> np.ndarray:
    mask = obs["action_mask"].astype(bool)  # (N, C, H + 1)
    return np.array([[rng.choice(np.flatnonzero(row)) for row in env] for env in mask])


def test_make_vec_returns_the_vector_env(tiny_cfg) -> None:
    envs = gym.make_vec("pregan/EdgeRecovery-v0", num_envs=N, cfg=tiny_cfg)
    assert isinstance(envs, EdgeRecoveryVectorEnv)
    assert envs.num_envs == N
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.observation_space == batch_space(envs.single_observation_space, N)
    assert envs.action_space == batch_space(envs.single_action_space, N)


def test_vector_env_matches_sync_vector_env_through_autoreset(tiny_cfg) -> None:
    ours = EdgeRecoveryVectorEnv(N, cfg=tiny_cfg)
    ref = SyncVectorEnv([lambda: EdgeRecoveryEnv(tiny_cfg) for _ in range(N)])
    a, _ = ours.reset(seed=5)
    b, _ = ref.reset(seed=5)
    assert data_equivalence(a, b, exact=True)
    rng = np.random.default_rng(0)
    T = ours.env.n_intervals
    for _ in range(T + 3):  # through the end of the episode and the autoreset step
        actions = masked_actions(a, rng)
        a, ra, ta, ua, ia = ours.step(actions)
        b, rb, tb, ub, ib = ref.step(actions)
        assert ours.observation_space.contains(a)
        assert data_equivalence(a, b, exact=True)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ua, ub)
        assert data_equivalence(ia, ib, exact=True)
    assert ours.batch.t == 2  # reset by the autoreset step, then stepped twice


def test_vector_env_seeded_reset_is_deterministic_and_data_not_reused(tiny_cfg) -> None:
    envs = EdgeRecoveryVectorEnv(N, cfg=tiny_cfg)
    first, _ = envs.reset(seed=11)
    kept = {k: v.copy() for k, v in first.items()}
    steps = [envs.step(envs.action_space.sample())[0] for _ in range(3)]
    assert data_equivalence(first, kept, exact=True)  # later steps did not overwrite it
    again, _ = envs.reset(seed=11)
    assert data_equivalence(first, again, exact=True)
    assert not data_equivalence(steps[0], steps[1], exact=True)
    seeds = envs.reset(seed=[1, 2, 3])[1]["episode_seed"]
    assert seeds.tolist() == [1, 2, 3]


def test_action_masks_are_the_observed_masks_flattened(tiny_cfg) -> None:
    envs = EdgeRecoveryVectorEnv(N, cfg=tiny_cfg)
    obs, _ = envs.reset(seed=0)
    np.testing.assert_array_equal(
        envs.action_masks(), obs["action_mask"].reshape(N, -1).astype(bool)
    )
