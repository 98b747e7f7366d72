"""The batched vector environment as a stable-baselines3 `VecEnv` (for MaskablePPO).

SB3 steps a `VecEnv` with its own conventions: an episode's end resets the environment
within the same step (the last observation goes to `infos[i]["terminal_observation"]`),
`seed()` seeds the next reset, and masks come from `env_method("action_masks")`. This
adapter gives `EdgeRecoveryVectorEnv` those conventions without stepping its clusters one
by one (as `DummyVecEnv` over single environments would). Importing it needs
stable-baselines3 (the `ppo` method's dependency), which `pregan.envs` itself does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from pregan.envs.vector import EdgeRecoveryVectorEnv


class SB3VectorEnv(VecEnv):
    """`venv`'s N clusters as an SB3 VecEnv (same spaces, same episodes for the same seeds)."""

    def __init__(self, venv: EdgeRecoveryVectorEnv) -> None:
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def reset(self) -> dict[str, np.ndarray]:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, _ = self.venv.reset(seed=seeds)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict]]:
        obs, rewards, terminated, truncated, _ = self.venv.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [
            {"TimeLimit.truncated": bool(truncated[i] and not terminated[i])}
            for i in range(self.num_envs)
        ]
        if dones.any():
            # Episodes of one configuration end together (the vector environment's rows
            # run in lockstep), so all of them reset here, as SB3 expects, at once.
            for i in range(self.num_envs):
                infos[i]["terminal_observation"] = {k: v[i] for k, v in obs.items()}
            obs, _ = self.venv.reset()
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def action_masks(self) -> np.ndarray:
        """(N, C * (H + 1)) bool masks of the current observations."""
        return self.venv.action_masks()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        source = self if attr_name == "action_masks" else self.venv.env
        return [getattr(source, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"SB3VectorEnv: setting {attr_name!r} per environment is unsupported")

    def env_method(
        self, method_name: str, *args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        idx = self._indices(indices)
        if method_name == "action_masks":
            masks = self.action_masks()
            return [masks[i] for i in idx]
        raise AttributeError(f"SB3VectorEnv: no per-environment method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._indices(indices))


def batched_returns(model: Any, venv: EdgeRecoveryVectorEnv, seeds: Sequence[int]) -> np.ndarray:
    """(len(seeds),) returns of deterministic masked episodes of simulator `seeds`, all run
    at once as the rows of `venv` (num_envs = len(seeds))."""
    obs, _ = venv.reset(seed=[int(s) for s in seeds])
    total = np.zeros(venv.num_envs)
    while True:
        action, _ = model.predict(obs, action_masks=venv.action_masks(), deterministic=True)
        obs, reward, terminated, truncated, _ = venv.step(action)
        total += reward
        if (terminated | truncated).all():
            return total
