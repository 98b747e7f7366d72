"""Throughput of pregan/EdgeRecovery-v0: environment steps per second, single and vector.

    python benchmarks/bench_env.py                      # 16 hosts, 64 environments
    python benchmarks/bench_env.py --hosts 4 --envs 2 --steps 10

Actions keep the scheduler's proposal (action 0 everywhere), so the figure is the
environment's cost, not a policy's; episodes run through their ends and autoresets, drawn
from the training seeds (`data.train_seeds`) as an agent in training draws them, with their
episode plans (workload bank, arrivals, faults, noise) drawn before timing (a new seed's
costs about 0.1 s once). The vector environment is one `ClusterBatch`: each of its steps
is one batched engine call over all the clusters; the third line times that call alone
(no scheduler, encoding or reward). Timings depend on the machine's load: the
script prints the load average and thread count with them, and beside the wall-clock rate
the rate per second of this process's CPU time, which other processes on a shared machine
do not slow down.
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


def _timed(run, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds of `run()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def single_rate(env: EdgeRecoveryEnv, steps: int) -> tuple[float, float]:
    """Steps per wall second and per CPU second of one environment."""
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.int64)

    def run() -> None:
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    wall, cpu = _timed(run, steps)
    return steps / wall, steps / cpu


def vector_rate(envs: EdgeRecoveryVectorEnv, steps: int) -> tuple[float, float]:
    """Environment steps per wall second and per CPU second of the vector environment."""
    envs.reset(seed=0)
    actions = np.zeros(envs.action_space.shape, dtype=np.int64)

    def run() -> None:
        for _ in range(steps):
            envs.step(actions)

    wall, cpu = _timed(run, steps)
    return steps * envs.num_envs / wall, steps * envs.num_envs / cpu


def engine_rate(envs: EdgeRecoveryVectorEnv, steps: int) -> tuple[float, float]:
    """Cluster intervals per wall and CPU second of the batched engine alone: the vector
    environment's `ClusterBatch` stepped with every container kept where it is (newcomers
    wait), without scheduler, encoding or reward."""
    envs.reset(seed=0)
    batch = envs.batch
    keep = np.full((batch.batch, batch.spec.n_slots), -1, dtype=np.int64)

    def run() -> None:
        for _ in range(steps):
            if batch.done:
                envs.reset()
            batch.step(keep)

    wall, cpu = _timed(run, steps)
    return steps * batch.batch / wall, steps * batch.batch / cpu


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
    plans: dict = {}
    single = EdgeRecoveryEnv(cfg, seeds=seeds, plan_cache=plans)
    for s in seeds:  # warm-up: imports and the episode plan of every training seed
        single.reset(options={"episode_seed": s})
    s_wall, s_cpu = single_rate(single, args.steps * 4)
    vec = EdgeRecoveryVectorEnv(args.envs, cfg=cfg, seeds=seeds, plan_cache=plans)
    vector_rate(vec, 2)
    v_wall, v_cpu = vector_rate(vec, args.steps)
    e_wall, e_cpu = engine_rate(vec, args.steps)
    load = os.getloadavg()
    print(f"hosts={args.hosts} envs={args.envs} threads={args.threads} cpus={os.cpu_count()} "
          f"load={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}")  # fmt: skip
    print(f"single env        {s_wall:10.0f} steps/s  ({1e3 / s_wall:.3f} ms per step; "
          f"{s_cpu:.0f} per CPU second)")  # fmt: skip
    print(f"vector env ({args.envs:>3})  {v_wall:10.0f} steps/s  ({1e3 / v_wall:.3f} ms per env step; "
          f"{v_cpu:.0f} per CPU second)")  # fmt: skip
    print(f"batched engine    {e_wall:10.0f} rows/s   (ClusterBatch.step of {args.envs} clusters "
          f"alone; {e_cpu:.0f} per CPU second)")  # fmt: skip


if __name__ == "__main__":
    main()
