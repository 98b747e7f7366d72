"""PreGAN decision time, co-simulation throughput and GOBI placement time.

    python benchmarks/bench_pregan.py [--repeats 50]

Planner: the same flags, its candidate set co-simulated in one call (config budget/horizon).
Decision time = classifier (the study's FPE config, untrained weights: the cost does not
depend on them) + generator + decoding + discriminator, no training, served from their ONNX
Runtime graphs as in the study (exported before timing), in the worst case: half the hosts are
flagged and the generator sends every container of a flagged host away, so each decision
decodes and spreads the most leavers and the discriminator always judges. Co-simulation: candidate-intervals per second of one batched cosimulate call.
GOBI: ms per placement with an untrained surrogate (the loop runs to its patience).
Targets (issue 14), on 1 thread: PreGAN <= 1 ms per decision at 16 hosts and <= 10 ms at 200;
GOBI <= 20 ms per placement at 200 hosts and <= 100 ms at 1000.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

from pregan.models.recovery.classifier_flagging import ClassifierFlagger
from pregan.models.recovery.decoding import decision_point
from pregan.models.recovery.gan_migrator import GanMigratorModule
from pregan.models.recovery.gobi import GOBIScheduler, GobiSurrogateModule
from pregan.models.recovery.planner import PlannerPolicy
from pregan.models.recovery.planning import scoring_from
from pregan.models.recovery.pregan import PreGANPolicy
from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.simulator import Simulator

CONF = Path(__file__).resolve().parents[1] / "conf"


def _timed(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


class HalfFlagged:
    """Runs the classifier (its cost counts), then flags the first half of the hosts."""

    def __init__(self, inner: ClassifierFlagger) -> None:
        self.inner, self.embed_dim, self.last = inner, inner.embed_dim, None

    def __call__(self, obs):
        _, emb = self.inner(obs)
        self.last = self.inner.last
        flags = np.arange(obs.spec.n_hosts) < obs.spec.n_hosts // 2  # (H,)
        return flags, np.where(flags[:, None], emb + 0.5, 0.0).astype(np.float32)


@torch.no_grad()
def _send_flagged_away(gan: GanMigratorModule) -> None:
    """Set the generator so every container of a flagged host leaves: hidden unit 0 copies
    the slot's "host flagged" feature and the output is +10 x it."""
    net, e = gan.generator.net, gan.hparams.embed_dim
    for layer in (net[0], net[2], net[4]):
        layer.weight.zero_()
        layer.bias.zero_()
    net[0].weight[0, e + 2] = 1.0  # own host flagged
    net[2].weight[0, 0] = 1.0
    net[4].weight[0, 0] = 10.0


def bench(n_hosts: int, repeats: int) -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"simulation.n_hosts={n_hosts}"])
    sim = Simulator.from_config(cfg, 0)
    sched = LeastFullScheduler()
    for _ in range(5):
        obs = sim.observe()
        sim.step(sched.place(obs))
    obs = sim.observe()
    proposal = sched.place(obs)
    n_metrics = len(sim.spec.metrics)
    # The study's classifier (conf/classifier/fpe.yaml: its sizes and input channels).
    clf_cfg = OmegaConf.to_container(cfg.model.classifier, resolve=True)
    clf = hydra.utils.instantiate(
        {k: v for k, v in clf_cfg.items() if k not in ("name", "trainer", "pretrained")},
        n_hosts=n_hosts,
        n_features=n_metrics,
    )
    clf.set_data_stats(np.zeros(n_metrics), np.ones(n_metrics), 0.1)
    flagger = HalfFlagged(ClassifierFlagger(clf))
    migrator = OmegaConf.load(CONF / "migrator" / "gan.yaml")
    gan = GanMigratorModule(
        n_hosts,
        sim.spec.n_slots,
        flagger.embed_dim,
        n_metrics=len(sim.spec.metrics),
        cosim=OmegaConf.to_container(migrator.cosim),
    )
    _send_flagged_away(gan)
    policy = PreGANPolicy(flagger, gan, window=3, accept_threshold=0.0)  # always enact
    policy.reset(sim.spec)
    moves = int((policy.decide(obs, proposal).placement != proposal).sum())
    decide = _timed(lambda: policy.decide(obs, proposal), repeats)
    flags, emb = flagger(obs)
    point = decision_point(obs, proposal, flags, emb, None)
    gan_only = _timed(lambda: gan.propose(point), repeats)
    print(
        f"H={n_hosts:4d}  PreGAN decision: {decide * 1e3:7.3f} ms/interval "
        f"(generator + decoding + discriminator alone: {gan_only * 1e3:.3f} ms; "
        f"{moves} migrations per decision)"
    )
    scoring, budget = scoring_from(migrator, "conf/migrator/gan.yaml")
    planner = PlannerPolicy(flagger, window=3, scoring=scoring, budget=budget)
    planner.reset(sim.spec)
    planner.attach_cosimulator(sim.cosimulator)
    plan_s = _timed(lambda: planner.decide(obs, proposal), max(3, repeats // 10))
    print(
        f"H={n_hosts:4d}  planner decision: {plan_s * 1e3:7.2f} ms/interval "
        f"({len(planner.last_plan.candidates)} candidates, horizon {scoring.horizon})"
    )

    batch, horizon = 64, 3
    cands = np.repeat(proposal[None], batch, axis=0)  # (B, C)
    rng = np.random.default_rng(0)
    placed = proposal >= 0
    cands[:, placed] = rng.integers(0, n_hosts, size=(batch, int(placed.sum())))
    view = sim.cosimulator(sim.true_faults())
    cosim = _timed(lambda: view.cosimulate(cands, horizon), max(3, repeats // 10))
    print(
        f"H={n_hosts:4d}  co-simulation: {batch * horizon / cosim:9.0f} candidate-intervals/s "
        f"(B={batch}, horizon={horizon})"
    )

    torch.manual_seed(0)
    gobi = GOBIScheduler(module=GobiSurrogateModule(n_hosts, sim.spec.n_slots))
    place = _timed(lambda: gobi.place(obs), max(3, repeats // 5))
    print(f"H={n_hosts:4d}  GOBI placement: {place * 1e3:7.2f} ms ({gobi.last_iters} iterations)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--hosts", type=int, nargs="+", default=[16, 200])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # NumPy's BLAS threads too (GOBI's and the decoding's arithmetic is NumPy): on a shared
    # machine, OpenBLAS threads fighting for the cores made one GOBI gradient step 6x slower.
    threadpool_limits(args.threads)
    for n in args.hosts:
        bench(n, args.repeats)


if __name__ == "__main__":
    main()
