"""`gymnasium.make_vec("pregan/EdgeRecovery-v0", num_envs=N)`: N clusters in one process.

The simulator's engine batches B candidate placements of ONE cluster (one fault schedule,
one workload bank), not B independent clusters, so this vector environment steps its N
simulators one after the other and writes their observations straight into preallocated
batched arrays (no per-step `concatenate` as in SyncVectorEnv). Closing the gap to one
batched engine call needs fault effects with a batch axis ((B, H) instead of (H,)) and
per-row workload banks in `pregan.simulation.engine.step`; see benchmarks/bench_env.py.

Autoreset follows Gymnasium 1.x's default NEXT_STEP mode: the step after an episode ends
resets that environment (its action is ignored, reward 0, not terminated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from pregan.envs.config import load_config
from pregan.envs.edge_recovery import EdgeRecoveryEnv


class EdgeRecoveryVectorEnv(VectorEnv):
    """N independent `EdgeRecoveryEnv`s with batched observations, rewards and infos.

    Same arguments as `EdgeRecoveryEnv`; `reset(seed=s)` seeds environment i with s + i
    (or with seed[i] for a list).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        cfg: Any = None,
        overrides: Sequence[str] = (),
        env_cfg: Any = None,
        seeds: Sequence[int] | None = None,
        bank_cache: dict | None = None,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"EdgeRecoveryVectorEnv: num_envs must be >= 1, got {num_envs}")
        cfg = load_config(overrides) if cfg is None else cfg
        banks = {} if bank_cache is None else bank_cache  # one bank per seed, shared by all
        self.envs = [
            EdgeRecoveryEnv(cfg, env_cfg=env_cfg, seeds=seeds, bank_cache=banks)
            for _ in range(num_envs)
        ]
        self.num_envs = num_envs
        first = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._obs = {
            k: np.zeros((num_envs, *space.shape), dtype=space.dtype)
            for k, space in self.single_observation_space.spaces.items()
        }
        self._rewards = np.zeros(num_envs, dtype=np.float64)
        self._terminated = np.zeros(num_envs, dtype=np.bool_)
        self._truncated = np.zeros(num_envs, dtype=np.bool_)
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)

    def _write(self, i: int, obs: dict[str, np.ndarray]) -> None:
        for k, arr in obs.items():
            self._obs[k][i] = arr

    def _batch(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._obs.items()}

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is None or isinstance(seed, int | np.integer):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset: {len(seeds)} seeds for {self.num_envs} environments")
        infos: dict[str, Any] = {}
        for i, (env, s) in enumerate(zip(self.envs, seeds, strict=True)):
            obs, info = env.reset(seed=s, options=options)
            self._write(i, obs)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return self._batch(), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        infos: dict[str, Any] = {}
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                obs, info = env.reset()
                self._rewards[i], self._terminated[i], self._truncated[i] = 0.0, False, False
            else:
                obs, reward, term, trunc, info = env.step(actions[i])
                self._rewards[i], self._terminated[i], self._truncated[i] = reward, term, trunc
            self._write(i, obs)
            infos = self._add_info(infos, info, i)
        self._autoreset = self._terminated | self._truncated
        return (
            self._batch(),
            self._rewards.copy(),
            self._terminated.copy(),
            self._truncated.copy(),
            infos,
        )

    def action_masks(self) -> np.ndarray:
        """(N, C * (H + 1)) bool: each environment's flattened mask."""
        return self._obs["action_mask"].reshape(self.num_envs, -1).astype(bool)
