"""model=ppo: a masked PPO agent trained on the edge-recovery environment, as a study method.

The reference for learned recovery policies: MaskablePPO (sb3-contrib) over
`pregan/EdgeRecovery-v0`, trained on the training seeds' episodes only, the checkpoint with
the best mean return on the validation seeds kept (evaluated every `eval_every` steps),
then run on the test episodes by the same runner as every other method. Its observations
and actions go through `pregan.envs.spaces` in training and at test time alike.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from pregan.envs.config import env_section
from pregan.envs.spaces import decode_action, encode_observation
from pregan.envs.vector import EdgeRecoveryVectorEnv
from pregan.io import write_atomic, write_json_atomic
from pregan.models.interfaces import FitContext
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision


class PPOConfigError(ValueError):
    """A bad model=ppo setting; names the field and value."""


@contextmanager
def _unchecked_distributions() -> Iterator[None]:
    """Skip torch's argument validation of distributions while the agent acts or learns:
    its masked MultiDiscrete head builds one Categorical per slot per call, and checking
    each (finite logits, simplex) took most of PPO's time; the logits are the network's."""
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(before)


class PPOPolicy:
    """The trained agent as a `RecoveryPolicy`: deterministic masked actions."""

    def __init__(self, model: Any, window: int, n_intervals: int, name: str = "ppo") -> None:
        self.model, self.window, self.n_intervals, self.name = model, window, n_intervals, name

    def reset(self, spec: ClusterSpec) -> None:
        """Stateless between intervals: the observation carries the window."""

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        x = encode_observation(obs, proposal, self.window, self.n_intervals)
        mask = x["action_mask"].reshape(-1).astype(bool)  # (C * (H + 1),)
        with _unchecked_distributions():
            action, _ = self.model.predict(x, action_masks=mask, deterministic=True)
        return RecoveryDecision(placement=decode_action(np.asarray(action), proposal))


class PPOMethod:
    """Train MaskablePPO on training seeds, keep the best validation checkpoint."""

    def __init__(
        self,
        name: str = "ppo",
        env: Any = None,
        total_timesteps: int = 20000,
        n_envs: int = 4,
        n_steps: int = 128,
        batch_size: int = 128,
        n_epochs: int = 4,
        learning_rate: float = 3.0e-4,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        ent_coef: float = 0.01,
        net_arch: list[int] | None = None,
        eval_every: int = 5000,
        keep_bias: float = 0.0,
        progress_bar: bool = True,
        shared_agent_dir: str | None = None,
        train_seed: int = 0,
    ) -> None:
        for field, value in {
            "total_timesteps": total_timesteps,
            "n_envs": n_envs,
            "n_steps": n_steps,
            "batch_size": batch_size,
            "eval_every": eval_every,
        }.items():
            if int(value) < 1:
                raise PPOConfigError(f"conf/model/ppo.yaml: {field} must be >= 1, got {value!r}")
        self.name = name
        self.env_cfg = env
        self.total_timesteps, self.n_envs, self.n_steps = (
            int(total_timesteps),
            int(n_envs),
            int(n_steps),
        )
        self.batch_size, self.n_epochs = int(batch_size), int(n_epochs)
        self.learning_rate, self.gamma, self.gae_lambda = (
            float(learning_rate),
            float(gamma),
            float(gae_lambda),
        )
        self.ent_coef = float(ent_coef)
        self.net_arch = list(net_arch) if net_arch is not None else [128, 128]
        self.eval_every, self.progress_bar = int(eval_every), bool(progress_bar)
        self.keep_bias = float(keep_bias)
        self.shared_agent_dir = None if shared_agent_dir is None else Path(shared_agent_dir)
        self.train_seed = int(train_seed)
        self._policy: PPOPolicy | None = None
        self._artifacts: dict[str, Path] = {}

    def fit(self, ctx: FitContext) -> dict[str, float]:
        """Train an agent (seed: the run's), or with `shared_agent_dir` train one agent per
        configuration (seed: `train_seed`) and let every run of that configuration load it,
        so that the study's five test-episode sets cost one training."""
        with _unchecked_distributions():
            if self.shared_agent_dir is None:
                return self._fit(ctx, ctx.seed)
            return self._fit_shared(ctx)

    def _settings(self) -> dict[str, Any]:
        """The constructor's settings that change what is trained (not where it is shared,
        nor how training is displayed; the env group is keyed on its own)."""
        names = inspect.signature(PPOMethod.__init__).parameters
        skip = ("self", "env", "progress_bar", "shared_agent_dir")
        return {k: getattr(self, k) for k in names if k not in skip}

    def _fit_shared(self, ctx: FitContext) -> dict[str, float]:
        from sb3_contrib import MaskablePPO

        cfg = ctx.simulation_cfg
        env_cfg = env_section(cfg, self.env_cfg)
        key_src = json.dumps(
            {
                "model": {k: str(v) for k, v in self._settings().items()},
                "env": OmegaConf.to_container(env_cfg, resolve=True),
                **{
                    g: OmegaConf.to_container(cfg[g], resolve=True)
                    for g in ("simulation", "workload", "faults", "scheduler", "data")
                },
            },
            sort_keys=True,
            default=str,
        )
        key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
        agent = self.shared_agent_dir / f"ppo_{key}.zip"
        record = self.shared_agent_dir / f"ppo_{key}.json"
        if agent.is_file() and record.is_file():
            saved = json.loads(record.read_text())
            model = MaskablePPO.load(agent, device="cpu")
            self.curve = [tuple(row) for row in saved["curve"]]
            for step, train, val in self.curve:  # the shared agent's curve, in this run too
                for logger in ctx.loggers or []:
                    logger.log_metrics({"ppo/val_return": val, "ppo/train_return": train}, step)
            self._policy = PPOPolicy(
                model, int(env_cfg.window), int(cfg.simulation.n_intervals), self.name
            )
            self._artifacts = {"checkpoints": agent}
            return {**saved["metrics"], "ppo/loaded_shared_agent": 1.0}
        metrics = self._fit(ctx, self.train_seed)
        self.shared_agent_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(agent, lambda tmp: self._policy.model.save(tmp))
        write_json_atomic(record, {"metrics": metrics, "curve": self.curve, "key": key_src})
        return {**metrics, "ppo/loaded_shared_agent": 0.0}

    def _fit(self, ctx: FitContext, seed: int) -> dict[str, float]:
        from sb3_contrib import MaskablePPO
        from stable_baselines3.common.callbacks import BaseCallback

        from pregan.envs.sb3 import SB3VectorEnv, batched_returns

        cfg: DictConfig = ctx.simulation_cfg
        torch.set_num_threads(int(cfg.get("threads", 1)))
        env_cfg = env_section(cfg, self.env_cfg)
        train_seeds = [int(s) for s in cfg.data.train_seeds]
        val_seeds = [int(s) for s in cfg.data.val_seeds]

        # The training clusters are the rows of one batched vector environment; validation
        # runs all validation episodes at once in another (same episode plans).
        plans: dict = {}
        vec = SB3VectorEnv(
            EdgeRecoveryVectorEnv(
                self.n_envs, cfg, env_cfg=env_cfg, seeds=train_seeds, plan_cache=plans
            )
        )
        val_vec = EdgeRecoveryVectorEnv(len(val_seeds), cfg, env_cfg=env_cfg, plan_cache=plans)
        model = MaskablePPO(
            "MultiInputPolicy",
            vec,
            n_steps=self.n_steps,
            batch_size=self.batch_size,
            n_epochs=self.n_epochs,
            learning_rate=self.learning_rate,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            ent_coef=self.ent_coef,
            policy_kwargs={"net_arch": self.net_arch},
            seed=seed,
            device="cpu",
            verbose=0,
        )
        if self.keep_bias:
            # Prior "keep the scheduler's proposal": a masked uniform start moves almost every
            # container every interval, which the scheduler alone never does.
            n_slots, n_choices = vec.action_space.nvec.size, int(vec.action_space.nvec[0])
            with torch.no_grad():
                model.policy.action_net.bias.view(n_slots, n_choices)[:, 0] += self.keep_bias
        loggers = list(ctx.loggers or [])
        best: dict[str, Any] = {"val_return": -np.inf, "step": 0, "state": None}
        curve: list[tuple[int, float, float]] = []  # (step, train return, val return)

        def log(metrics: dict[str, float], step: int) -> None:
            for logger in loggers:
                logger.log_metrics(metrics, step=step)

        def validate(step: int) -> None:
            val = float(np.mean(batched_returns(model, val_vec, val_seeds)))
            ep = list(self._episode_returns)
            train = float(np.mean(ep[-self.n_envs * 2 :])) if ep else float("nan")
            curve.append((step, train, val))
            log({"ppo/val_return": val, **({"ppo/train_return": train} if ep else {})}, step)
            if val > best["val_return"]:
                best.update(
                    val_return=val, step=step, state=copy.deepcopy(model.policy.state_dict())
                )

        method = self
        self._episode_returns: list[float] = []
        running = np.zeros(self.n_envs)

        class Curve(BaseCallback):
            """Episode returns of the training envs, and validation every eval_every steps."""

            def _on_step(self) -> bool:
                running[:] += self.locals["rewards"]
                for i, done in enumerate(self.locals["dones"]):
                    if done:
                        method._episode_returns.append(float(running[i]))
                        running[i] = 0.0
                if (
                    self.num_timesteps // method.eval_every
                    > (self.num_timesteps - method.n_envs) // method.eval_every
                ):
                    validate(self.num_timesteps)
                return True

        start = time.perf_counter()
        model.learn(self.total_timesteps, callback=Curve(), progress_bar=self.progress_bar)
        if not curve or curve[-1][0] != model.num_timesteps:
            validate(model.num_timesteps)
        train_s = time.perf_counter() - start
        model.policy.load_state_dict(best["state"])
        out = Path(ctx.output_dir) / "checkpoints"
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / "ppo_best.zip")
        self._artifacts = {"checkpoints": out / "ppo_best.zip"}
        self._policy = PPOPolicy(model, int(env_cfg.window), val_vec.env.n_intervals, self.name)
        self.curve = curve
        return {
            "ppo/train_seconds": train_s,
            "ppo/best_val_return": float(best["val_return"]),
            "ppo/best_step": float(best["step"]),
            "ppo/timesteps": float(model.num_timesteps),
        }

    def policy(self) -> PPOPolicy:
        if self._policy is None:
            raise RuntimeError("model=ppo: policy() before fit()")
        return self._policy

    def artifacts(self) -> dict[str, Path]:
        return dict(self._artifacts)
