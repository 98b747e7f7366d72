"""`gymnasium.make_vec("pregan/EdgeRecovery-v0", num_envs=N)`: N clusters in one engine call.

The N environments are the N rows of one `pregan.simulation.batch.ClusterBatch`: each row
replays its own seeded episode (workload bank, arrivals, fault schedule, noise stream), and
every interval of all N is one batched engine call, one batched scheduler call
(`place_batch`, where the scheduler has one) and one batched encoding. Row i gives exactly
what `EdgeRecoveryEnv` gives for the same seed and actions (tests/envs/test_vector.py
compares the two through whole episodes and the autoreset).

Every episode lasts `simulation.n_intervals`, so rows reset together stay in lockstep:
they end on the same step and, in Gymnasium 1.x's default NEXT_STEP autoreset mode, the
step after that resets them all (actions ignored, reward 0, not terminated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from pregan.envs import spaces as S
from pregan.envs.config import load_config
from pregan.envs.edge_recovery import EdgeRecoveryEnv, draw_episode_seed, interval_rewards
from pregan.simulation.batch import ClusterBatch
from pregan.simulation.cosim import check_placement
from pregan.simulation.interfaces import QOS_COLUMNS

_MIGRATIONS = QOS_COLUMNS.index("migrations")


class EdgeRecoveryVectorEnv(VectorEnv):
    """N independent edge clusters stepped as one batch.

    Same arguments as `EdgeRecoveryEnv`; `reset(seed=s)` seeds environment i with s + i
    (or with seed[i] for a list), as `SyncVectorEnv` over N single environments does.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        cfg: Any = None,
        overrides: Sequence[str] = (),
        env_cfg: Any = None,
        seeds: Sequence[int] | None = None,
        plan_cache: dict | None = None,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"EdgeRecoveryVectorEnv: num_envs must be >= 1, got {num_envs}")
        cfg = load_config(overrides) if cfg is None else cfg
        # The single environment is the template: config, spaces, scheduler, reward, plans.
        self.env = EdgeRecoveryEnv(cfg, env_cfg=env_cfg, seeds=seeds, plan_cache=plan_cache)
        self.num_envs = num_envs
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self.batch: ClusterBatch | None = None
        self.proposal: np.ndarray | None = None  # (N, C) the scheduler's proposals
        self.episode_seeds = np.zeros(num_envs, dtype=np.int64)
        self._obs: dict[str, np.ndarray] | None = None
        self._autoreset = False

    def _rng(self, i: int, seed: int | None) -> np.random.Generator:
        """Environment i's generator, (re)seeded as `gym.Env.reset(seed=...)` does."""
        if seed is not None or self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random(seed)
        return self._rngs[i]

    def _start(
        self, seeds: list[int | None], options: dict | None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        env = self.env
        episode = [
            draw_episode_seed(self._rng(i, s), env.seeds, s, options) for i, s in enumerate(seeds)
        ]
        plans = [env.plan(s) for s in episode]
        if self.batch is None:
            self.batch = ClusterBatch(env._sim_cfg, env._faults_cfg, plans)
        else:
            self.batch.start(plans)
        self.episode_seeds = np.array(episode, dtype=np.int64)
        self._autoreset = False
        self._obs = self._observe()
        mask = np.ones(self.num_envs, dtype=np.bool_)
        return self._obs, {"episode_seed": self.episode_seeds.copy(), "_episode_seed": mask}

    def _observe(self) -> dict[str, np.ndarray]:
        """The batched observation before the interval about to run, in new arrays (no step
        writes into an observation already returned)."""
        b, env = self.batch, self.env
        view = b.view()
        place_batch = getattr(env.scheduler, "place_batch", None)
        if place_batch is not None:
            proposal = place_batch(view)
        else:  # a scheduler without a batched form sees each cluster's Observation
            proposal = np.stack([env.scheduler.place(b.observation(i)) for i in range(b.batch)])
        self.proposal = np.asarray(proposal, dtype=np.int64)
        window = b.metrics_window(env.window)
        return S.encode_batch(view, self.proposal, window, b.t, b.n_intervals, b.spec)

    def _final_observation(self) -> dict[str, np.ndarray]:
        """After the last interval: the full window, where the slots ran, nothing to act on."""
        b, last = self.batch, self._obs
        placement = b._placement[:, -1].astype(np.int64)
        window = b.metrics_window(self.env.window)
        mask = np.zeros_like(last["action_mask"])
        mask[:, :, 0] = 1
        self.proposal = None
        return {
            **{k: v.copy() for k, v in last.items()},
            "metrics": window,
            "placement": placement,
            "proposal": placement.copy(),
            "slot_demand": np.zeros_like(last["slot_demand"]),
            "slot_host_metrics": S.slot_host_metrics(window, placement),
            "time": np.ones_like(last["time"]),
            "action_mask": mask,
        }

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is None or isinstance(seed, int | np.integer):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset: {len(seeds)} seeds for {self.num_envs} environments")
        obs, info = self._start(seeds, options)
        return obs, info

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.batch is None:
            raise RuntimeError("EdgeRecoveryVectorEnv.step: call reset() first")
        N = self.num_envs
        no = np.zeros(N, dtype=np.bool_)
        if self._autoreset:
            obs, info = self._start([None] * N, None)
            return obs, np.zeros(N), no, no.copy(), info
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(
                f"EdgeRecoveryVectorEnv.step: actions must have shape {self.action_space.shape}, "
                f"got {actions.shape}"
            )
        b = self.batch
        target = check_placement(S.decode_action(actions, self.proposal), b.spec, batched=True)
        qos = b.step(target)  # (N, Q)
        rewards = interval_rewards(self.env.scoring, qos, b.spec)  # (N,)
        terminated = np.full(N, b.done)
        self._obs = self._final_observation() if b.done else self._observe()
        self._autoreset = b.done
        yes = np.ones(N, dtype=np.bool_)
        info = {
            "qos": np.nan_to_num(qos, nan=0.0),
            "_qos": yes,
            "migrations": qos[:, _MIGRATIONS].astype(np.int64),
            "_migrations": yes.copy(),
            "episode_seed": self.episode_seeds.copy(),
            "_episode_seed": yes.copy(),
            "analysis_only": {"fault_class": b.fault_class_now(), "_fault_class": yes.copy()},
            "_analysis_only": yes.copy(),
        }
        return self._obs, rewards, terminated, no, info

    def action_masks(self) -> np.ndarray:
        """(N, C * (H + 1)) bool: each environment's flattened mask."""
        return self._obs["action_mask"].reshape(self.num_envs, -1).astype(bool)
