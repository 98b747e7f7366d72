"""Any study method's recovery policy as an agent of the environment.

`PolicyAgent(policy)` drives `EdgeRecoveryEnv` with a `RecoveryPolicy` (PreGAN, evacuate,
planner, threshold, the baselines, none, oracle) exactly as the evaluation runner does: the
policy sees the full simulator `Observation` and the scheduler's proposal, the oracle alone
(and its planner the true faults) is handed the truth, a co-simulating policy is handed the simulator's `cosimulator`, and
its placement is encoded as the action whose decoding the engine enacts identically. So an
episode through the environment gives the same QoS as `run_recovery_episode` on that seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pregan.envs.edge_recovery import EdgeRecoveryEnv
from pregan.envs.spaces import encode_placement
from pregan.simulation.interfaces import RecoveryDecision, RecoveryPolicy


class PolicyAgent:
    """Acts in an `EdgeRecoveryEnv` through a study method's policy."""

    def __init__(self, policy: RecoveryPolicy) -> None:
        self.policy = policy
        self.last_decision: RecoveryDecision | None = None

    def begin(self, env: Any) -> None:
        """After `env.reset()`: a new episode for the policy, with the runner's attachments."""
        base: EdgeRecoveryEnv = env.unwrapped
        sim = base.simulator
        self.policy.reset(sim.spec)
        # The runner's attachments, in its order (src/evaluation/runner.py); the adapter test
        # checks that both give the same QoS for every method of conf/model.
        if (attach_truth := getattr(self.policy, "attach_ground_truth", None)) is not None:
            attach_truth(sim.fault_class_now)
            if (attach_faults := getattr(self.policy, "attach_true_faults", None)) is not None:
                attach_faults(sim.true_faults)  # the oracle's planner co-simulates the true faults
        if (attach_root_cause := getattr(self.policy, "attach_root_cause", None)) is not None:
            attach_root_cause(sim.fault_truth_now)
        if (attach_cosim := getattr(self.policy, "attach_cosimulator", None)) is not None:
            attach_cosim(sim.cosimulator)

    def act(self, env: Any) -> np.ndarray:
        """The (C,) action for the interval about to run."""
        base: EdgeRecoveryEnv = env.unwrapped
        self.last_decision = self.policy.decide(base.observation, base.proposal)
        return encode_placement(self.last_decision.placement, base.proposal, base.observation)


def run_policy_episode(env: Any, policy: RecoveryPolicy, seed: int) -> tuple[np.ndarray, float]:
    """One episode of simulator seed `seed` driven by `policy`: its exact (T, Q) QoS rows
    (NaN where a mean is undefined, as the runner records them) and the episode return."""
    agent = PolicyAgent(policy)
    env.reset(options={"episode_seed": int(seed)})
    agent.begin(env)
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(agent.act(env))
        total += reward
        done = terminated or truncated
    return np.stack(env.unwrapped.episode_qos), total
