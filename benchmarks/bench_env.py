"""Throughput of pregan/EdgeRecovery-v0: environment steps per second, single and vector.

    python benchmarks/bench_env.py                      # 16 hosts, 64 environments
    python benchmarks/bench_env.py --hosts 4 --envs 2 --steps 10

Actions keep the scheduler's proposal (action 0 everywhere), so the figure is the
environment's cost, not a policy's; episodes run through their ends and autoresets, drawn
from the training seeds (`data.train_seeds`) as an agent in training draws them, with their
workload banks built before timing (a new seed's bank costs about 0.1 s once). Beside
it, the engine alone: one batched `engine.step` of B = envs candidate placements of ONE
cluster (what co-simulation does), the cost a vector environment would approach if the
engine stepped B independent clusters in one call. Timings depend on the machine's load:
the script prints the load average and thread count with them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from pregan.envs.config import load_config
from pregan.envs.edge_recovery import EdgeRecoveryEnv
from pregan.envs.vector import EdgeRecoveryVectorEnv
from pregan.simulation.cosim import FaultEstimate
from pregan.simulation.simulator import Simulator


def single_rate(env: EdgeRecoveryEnv, steps: int) -> float:
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.int64)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def vector_rate(envs: EdgeRecoveryVectorEnv, steps: int) -> float:
    envs.reset(seed=0)
    actions = np.zeros(envs.action_space.shape, dtype=np.int64)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(actions)
    return steps * envs.num_envs / (time.perf_counter() - start)


def batched_engine_rate(cfg, batch: int, steps: int) -> float:
    """Rows per second of one batched engine call over `batch` copies of one cluster."""
    sim = Simulator.from_config(cfg, 0)
    for _ in range(min(5, sim.n_intervals - 1)):  # a few intervals in, so containers run
        sim.step(sim.observe().placement)
    view = sim.cosimulator(FaultEstimate.none(sim.spec.n_hosts))
    cand = np.repeat(sim.observe().placement[None], batch, axis=0)  # (B, C)
    start = time.perf_counter()
    for _ in range(steps):
        view.cosimulate(cand, 1)
    return steps * batch / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=16)
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=300, help="vector steps (single: envs x this)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config([f"simulation.n_hosts={args.hosts}"])
    seeds = [int(s) for s in cfg.data.train_seeds]
    banks: dict = {}
    single = EdgeRecoveryEnv(cfg, seeds=seeds, bank_cache=banks)
    for s in seeds:  # warm-up: imports and the workload bank of every training seed
        single.reset(options={"episode_seed": s})
    s_rate = single_rate(single, args.steps * 4)
    vec = EdgeRecoveryVectorEnv(args.envs, cfg=cfg, seeds=seeds, bank_cache=banks)
    vector_rate(vec, 2)
    v_rate = vector_rate(vec, args.steps)
    e_rate = batched_engine_rate(cfg, args.envs, args.steps)
    load = os.getloadavg()
    print(f"hosts={args.hosts} envs={args.envs} threads={args.threads} cpus={os.cpu_count()} "
          f"load={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}")  # fmt: skip
    print(f"single env        {s_rate:10.0f} steps/s  ({1e3 / s_rate:.3f} ms per step)")
    print(
        f"vector env ({args.envs:>3})  {v_rate:10.0f} steps/s  ({1e3 / v_rate:.3f} ms per env step)"
    )
    print(
        f"batched engine    {e_rate:10.0f} rows/s   (one engine.step of B={args.envs}, one cluster)"
    )


if __name__ == "__main__":
    main()
