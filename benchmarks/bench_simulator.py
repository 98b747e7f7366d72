"""Simulator speed: seconds per interval (least-full scheduler + simulator + monitoring) at
16, 200 and 1000 hosts at the default load (arrivals scale with the capacity), peak memory, and
co-simulation throughput at 16 hosts.

    python benchmarks/bench_simulator.py            # synthetic workload, default configs
    python benchmarks/bench_simulator.py --hosts 16 200 --intervals 50
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.simulator import Simulator

CONF = Path(__file__).resolve().parents[1] / "conf"


def make_cfg(n_hosts: int, n_intervals: int):
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(CONF / "simulation/default.yaml"),
            "workload": OmegaConf.load(CONF / "workload/synthetic.yaml"),
            "faults": OmegaConf.load(CONF / "faults/default.yaml"),
        }
    )
    cfg.simulation.n_hosts = n_hosts
    cfg.simulation.n_intervals = n_intervals
    return cfg


def bench_intervals(n_hosts: int, n_intervals: int) -> tuple[float, float, float]:
    """(wall seconds per interval, CPU seconds per interval, mean active containers) over one
    episode; the CPU time is what the figure would be on an otherwise idle core."""
    sim = Simulator.from_config(make_cfg(n_hosts, n_intervals), seed=0)
    sched = LeastFullScheduler()
    start, cpu_start = time.perf_counter(), time.process_time()
    while not sim.done:
        sim.step(sched.place(sim.observe()))
    per = (time.perf_counter() - start) / n_intervals
    cpu = (time.process_time() - cpu_start) / n_intervals
    active = float(sim.record().qos[:, 7].mean())
    return per, cpu, active


def bench_cosim(batch: int, horizon: int, repeats: int) -> tuple[float, float]:
    """Candidate-intervals per second of wall and of CPU time at 16 hosts, B random
    candidates per call."""
    sim = Simulator.from_config(make_cfg(16, 100), seed=0)
    sched = LeastFullScheduler()
    for _ in range(30):  # reach a loaded steady state
        sim.step(sched.place(sim.observe()))
    rng = np.random.default_rng(0)
    obs = sim.observe()
    cands = np.where(obs.active, rng.integers(0, 16, (batch, sim.spec.n_slots)), -1)
    view = sim.cosimulator(sim.true_faults())
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        view.cosimulate(cands, horizon)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return batch * horizon * repeats / wall, batch * horizon * repeats / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[16, 200, 1000])
    parser.add_argument("--intervals", type=int, default=100)
    args = parser.parse_args()
    for h in args.hosts:
        per, cpu, active = bench_intervals(h, args.intervals)
        print(
            f"hosts={h:5d}  {per * 1e3:8.3f} ms/interval wall, {cpu * 1e3:8.3f} ms CPU  "
            f"({active:.0f} active containers on average)"
        )
    for batch, horizon in ((1, 1), (64, 1), (64, 5)):
        rate, cpu_rate = bench_cosim(batch, horizon, repeats=max(5, 200 // batch))
        print(
            f"cosim 16 hosts B={batch:3d} horizon={horizon}: {rate:10.0f} candidate-intervals/s "
            f"wall, {cpu_rate:10.0f} per CPU second"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
