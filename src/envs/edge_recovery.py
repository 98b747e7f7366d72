"""`pregan/EdgeRecovery-v0`: fault-tolerant recovery of a simulated edge cluster.

One episode is one seeded simulator episode (`simulation.n_intervals` intervals). Each
step the scheduler from the `scheduler` group proposes a placement; the agent keeps or
overrides it slot by slot (spaces in `pregan.envs.spaces`); the simulator executes the
interval. The reward is minus the co-simulation score of the executed interval (energy,
response time and SLA terms normalised as in `pregan.models.recovery.cosim_scoring`,
weights from `env.reward`).

`info` of a step: `qos` (the interval's QoS row, `QOS_COLUMNS` order, with a mean that is
undefined because its count is 0, e.g. the response time of an interval where nothing
finished, given as 0 instead of NaN so that infos compare and batch; the exact rows, NaN
included, are in `env.unwrapped.episode_qos`), `migrations`,
`episode_seed`, and `analysis_only` = {"fault_class": (H,) injected fault class of the
executed interval}: ground truth for analysis and plots, never an input to a policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import hydra
import numpy as np

from pregan.envs import spaces as S
from pregan.envs.config import check_study_groups, env_section, load_config
from pregan.simulation.batch import EpisodePlan, plan_episode
from pregan.simulation.config import faults_from_dictconfig, simulation_from_dictconfig
from pregan.simulation.hosts import build_hosts, cluster_spec
from pregan.simulation.interfaces import QOS_COLUMNS, Observation
from pregan.simulation.simulator import Simulator
from pregan.simulation.workload import build_workload

_MAX_PLANS = 64  # episode plans kept (a workload bank of a few MB each at 16 hosts)
_COL = {name: i for i, name in enumerate(QOS_COLUMNS)}


def draw_episode_seed(
    rng: np.random.Generator, seeds: list[int] | None, seed: int | None, options: dict | None
) -> int:
    """The simulator episode a reset runs: options["episode_seed"], else one of `seeds`
    drawn with the environment's generator, else `seed`, else any seed."""
    if options and options.get("episode_seed") is not None:
        return int(options["episode_seed"])
    if seeds is not None:
        return seeds[int(rng.integers(len(seeds)))]
    if seed is not None:
        return int(seed)
    return int(rng.integers(2**31 - 1))


def interval_rewards(scoring: Any, qos: np.ndarray, spec: Any) -> np.ndarray:
    """(B,) minus the co-simulation score of each of B executed intervals' (B, Q) QoS rows,
    each scored on its own: an interval where nothing finished scores response 0."""
    cols = {
        k: qos[:, _COL[k]] for k in ("energy_j", "mean_response_s", "sla_violations", "migrations")
    }
    cols["mean_response_s"] = np.nan_to_num(cols["mean_response_s"], nan=0.0)
    score = scoring.combine(_IntervalScores(**cols), spec.n_hosts, spec.n_slots, spec.interval_s)
    return -score


@dataclass(frozen=True)
class _IntervalScores:
    """The executed interval's QoS in the form the co-simulation scorer combines, (1,) each."""

    energy_j: np.ndarray
    mean_response_s: np.ndarray
    sla_violations: np.ndarray
    migrations: np.ndarray


class EdgeRecoveryEnv(gym.Env):
    """A seeded, fault-injecting edge cluster as a Gymnasium environment.

    cfg: a config with the study's groups (simulation, workload, faults, scheduler; e.g.
    the one `python train.py` composes); None composes conf/train.yaml with `overrides`.
    env_cfg: the env group (window, reward); default `cfg.env` or conf/env/default.yaml.
    seeds: episode seeds `reset()` draws from (e.g. the training seeds); None: `reset(seed=s)`
    runs simulator episode s and `reset()` draws any seed. `options={"episode_seed": s}`
    always runs episode s. plan_cache: episode plans (workload bank, arrivals, faults) by
    seed, shared between environments of one config.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        cfg: Any = None,
        overrides: Sequence[str] = (),
        env_cfg: Any = None,
        seeds: Sequence[int] | None = None,
        plan_cache: dict[int, EpisodePlan] | None = None,
    ) -> None:
        self.cfg = load_config(overrides) if cfg is None else cfg
        check_study_groups(self.cfg)
        settings = env_section(self.cfg, env_cfg)
        self.window = int(settings.window)
        self.scoring = hydra.utils.instantiate(settings.reward)
        self.scheduler = hydra.utils.instantiate(self.cfg.scheduler)
        self.seeds = None if seeds is None else [int(s) for s in seeds]
        if self.seeds is not None and not self.seeds:
            raise ValueError("EdgeRecoveryEnv: seeds is an empty list")
        # Parsed once (Simulator.from_config parses on every call, 0.15 s); an episode seed's
        # plan (bank, arrivals, faults) is drawn once and replayed, read-only, by later episodes.
        self._sim_cfg = simulation_from_dictconfig(self.cfg.simulation)
        self._faults_cfg = faults_from_dictconfig(self.cfg.faults, self._sim_cfg.n_hosts)
        self._hosts = build_hosts(self._sim_cfg)
        self._plans: dict[int, EpisodePlan] = {} if plan_cache is None else plan_cache
        self.cluster = cluster_spec(self._sim_cfg, self._hosts)  # what every episode runs on
        self.n_intervals = int(self._sim_cfg.n_intervals)
        self.observation_space = S.observation_space(self.cluster, self.window)
        self.action_space = S.action_space(self.cluster)
        self.simulator: Simulator | None = None
        self.observation: Observation | None = None  # the full Observation of the step about to run
        self.proposal: np.ndarray | None = None  # (C,) the scheduler's proposal for it
        self.episode_seed: int | None = None
        self._obs: dict[str, np.ndarray] | None = None
        self.episode_qos: list[np.ndarray] = []  # exact (Q,) QoS rows of this episode

    def plan(self, seed: int) -> EpisodePlan:
        """Episode `seed` drawn exactly as `Simulator.from_config(cfg, seed)` draws it."""
        if seed not in self._plans:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
            bank = build_workload(self.cfg.workload, seed)
            self._plans[seed] = plan_episode(
                self._sim_cfg, self._faults_cfg, self._hosts, bank, seed
            )
        return self._plans[seed]

    def _simulator(self, seed: int) -> Simulator:
        plan = self.plan(seed)
        return Simulator(self._sim_cfg, self._faults_cfg, plan.bank, seed, plan=plan)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.episode_seed = draw_episode_seed(self.np_random, self.seeds, seed, options)
        self.simulator = self._simulator(self.episode_seed)
        self.episode_qos = []
        if self.simulator.spec.n_hosts != self.cluster.n_hosts:
            raise RuntimeError("EdgeRecoveryEnv: the cluster changed size between episodes")
        self._obs = self._next_observation()
        return self._obs, {"episode_seed": self.episode_seed}

    def _next_observation(self) -> dict[str, np.ndarray]:
        sim = self.simulator
        self.observation = sim.observe()
        self.proposal = np.asarray(self.scheduler.place(self.observation), dtype=np.int64)
        return S.encode_observation(self.observation, self.proposal, self.window, self.n_intervals)

    def _final_observation(self) -> dict[str, np.ndarray]:
        """After the last interval: the full window, where the slots ran, nothing to act on."""
        last = self._obs
        record = self.simulator.record()
        placement = record.placement[-1].astype(np.int64)
        mask = np.zeros_like(last["action_mask"])
        mask[:, 0] = 1
        self.observation, self.proposal = None, None
        window = S.metrics_window(record.host_metrics, self.window)
        return {
            **last,
            "metrics": window,
            "placement": placement,
            "proposal": placement.copy(),
            "slot_demand": np.zeros_like(last["slot_demand"]),
            "slot_host_metrics": S.slot_host_metrics(window[None], placement[None])[0],
            "time": np.ones(1, dtype=np.float32),
            "action_mask": mask,
        }

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.simulator is None or self.observation is None:
            raise RuntimeError(
                "EdgeRecoveryEnv.step: call reset() first (or after the episode ended)"
            )
        action = np.asarray(action)
        if action.shape != self.action_space.shape:
            raise ValueError(
                f"EdgeRecoveryEnv.step: action must have shape {self.action_space.shape}, got {action.shape}"
            )
        placement = S.decode_action(action, self.proposal)
        qos = self.simulator.step(placement)
        self.episode_qos.append(qos)
        reward = interval_rewards(self.scoring, qos[None], self.cluster)[0]
        terminated = self.simulator.done
        self._obs = self._final_observation() if terminated else self._next_observation()
        info = {
            "qos": np.nan_to_num(qos, nan=0.0),
            "migrations": int(qos[_COL["migrations"]]),
            "episode_seed": self.episode_seed,
            "analysis_only": {"fault_class": self.simulator.fault_class_now()},
        }
        return self._obs, float(reward), bool(terminated), False, info

    def action_masks(self) -> np.ndarray:
        """(C * (H + 1),) bool: the current mask flattened, as MaskablePPO asks for it."""
        return self._obs["action_mask"].reshape(-1).astype(bool)
