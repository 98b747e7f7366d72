"""The co-simulator as a Gymnasium environment (`pregan/EdgeRecovery-v0`).

Importing this package registers the environment and its vector environment:

    import gymnasium as gym
    import pregan.envs  # noqa: F401  (registers pregan/EdgeRecovery-v0)
    env = gym.make("pregan/EdgeRecovery-v0", overrides=["simulation.n_hosts=8"])
    envs = gym.make_vec("pregan/EdgeRecovery-v0", num_envs=64)
"""

from __future__ import annotations

import gymnasium as gym

ENV_ID = "pregan/EdgeRecovery-v0"

if ENV_ID not in gym.registry:
    gym.register(
        id=ENV_ID,
        entry_point="pregan.envs.edge_recovery:EdgeRecoveryEnv",
        vector_entry_point="pregan.envs.vector:EdgeRecoveryVectorEnv",
        disable_env_checker=False,
    )
