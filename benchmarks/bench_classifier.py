"""Fault classifier performance: training throughput, decision latency, peak memory.

Compares the batched float32 FaultClassifierModule with the original's way of running the same
network (one window per step, float64), measured on this machine with the same model.

    python benchmarks/bench_classifier.py                 # 16 and 200 hosts, 1 thread
    python benchmarks/bench_classifier.py --hosts 16 --threads 2
    python benchmarks/bench_classifier.py --features value   # the metrics window alone

The input features default to the shipped classifier's (conf/classifier/fpe.yaml), the metrics
to the cluster's default nine. Decision latency is the policies' path (the classifier's ONNX
Runtime graph, `FaultClassifierModule.window_predictor`) beside PyTorch's `predict_window`.

Each host count runs in a fresh subprocess so that its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from pregan.models.recovery.fault_classifier import FaultClassifierModule
from pregan.simulation.interfaces import DEFAULT_METRICS

SHIPPED = Path(__file__).resolve().parents[1] / "conf" / "classifier" / "fpe.yaml"


def _train_rate(model: FaultClassifierModule, batch: tuple[torch.Tensor, ...], steps: int) -> float:
    """Windows per second of forward + loss + backward + AdamW step."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
    model.train()

    def step() -> None:
        out = model(batch[0], batch[4], batch[5])
        loss = model._losses(out, *batch[1:4])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch[0].shape[0] / (time.perf_counter() - start)


def _latency_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def measure(
    n_hosts: int, batch_size: int, steps: int, ref_steps: int, features: list[str]
) -> dict[str, float]:
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    d = len(DEFAULT_METRICS)  # the cluster's monitored metrics
    model = FaultClassifierModule(n_hosts, d, input_features=features)
    model.set_data_stats(np.full(d, 0.3, np.float32), np.full(d, 0.2, np.float32), 0.2)
    x = torch.rand(batch_size, 3, n_hosts, d, generator=gen)  # (B, W, H, D)
    faulty = (torch.rand(batch_size, n_hosts, generator=gen) < 0.2).long()  # (B, H)
    cls = faulty * torch.randint(1, 6, (batch_size, n_hosts), generator=gen)  # (B, H)
    rc = (
        torch.nn.functional.one_hot((cls - 1).clamp_min(0), d).float() * faulty[..., None]
    )  # (B, H, D)
    cnt = torch.randint(0, 3, (batch_size, 3, n_hosts), generator=gen).float()  # (B, W, H)
    dem = torch.rand(batch_size, 3, n_hosts, generator=gen)  # (B, W, H) requested CPU share
    batch = (x, faulty, cls, rc, cnt, dem)

    result = {"hosts": n_hosts, "batch_size": batch_size, "features": "+".join(features)}
    result["train_windows_per_s"] = _train_rate(model, batch, steps)
    window = rng.random((3, n_hosts, d), dtype=np.float32)  # (W, H, D)
    containers = cnt[0].numpy() if model.uses_containers else None  # (W, H)
    demand = dem[0].numpy() if model.uses_demand else None  # (W, H)
    model.eval()
    predict = model.window_predictor()  # the policies' path (ONNX Runtime)
    result["decision_ms"] = _latency_ms(lambda: predict(window, containers, demand), 100)
    result["decision_torch_ms"] = _latency_ms(
        lambda: model.predict_window(window, containers, demand), 100
    )

    # The original's regime: the same network in float64, one window per optimiser step.
    ref = FaultClassifierModule(n_hosts, d, input_features=features).double()
    ref.set_data_stats(np.full(d, 0.3, np.float32), np.full(d, 0.2, np.float32), 0.2)
    ref_batch = tuple(
        t[:1].double() if t.is_floating_point() else t[:1] for t in batch
    )  # one window, float64
    result["ref_f64_bs1_train_windows_per_s"] = _train_rate(ref, ref_batch, ref_steps)
    with torch.inference_mode():
        ref.eval()
        xr = torch.from_numpy(window[None]).double()
        result["ref_f64_decision_ms"] = _latency_ms(
            lambda: ref(xr, ref_batch[4], ref_batch[5]), 100
        )
    result["train_speedup"] = (
        result["train_windows_per_s"] / result["ref_f64_bs1_train_windows_per_s"]
    )
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, nargs="+", default=[16, 200])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ref-steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--features",
        nargs="+",
        default=list(OmegaConf.load(SHIPPED).input_features),
        help="the classifier's input_features (default: the shipped conf/classifier/fpe.yaml)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        result = measure(args.hosts[0], args.batch_size, args.steps, args.ref_steps, args.features)
        print(json.dumps(result))
        return
    rows = []
    for hosts in args.hosts:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--hosts",
            str(hosts),
            "--batch-size",
            str(args.batch_size),
            "--steps",
            str(args.steps),
            "--ref-steps",
            str(args.ref_steps),
            "--threads",
            str(args.threads),
            "--features",
            *args.features,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    for row in rows:
        print(
            f"H={row['hosts']:>4}  train {row['train_windows_per_s']:9.1f} win/s "
            f"(f64 bs1 ref {row['ref_f64_bs1_train_windows_per_s']:7.1f}, x{row['train_speedup']:.0f})  "
            f"decision {row['decision_ms']:.2f} ms (PyTorch {row['decision_torch_ms']:.2f} ms, "
            f"f64 ref {row['ref_f64_decision_ms']:.2f} ms)  "
            f"peak RSS {row['peak_rss_mib']:.0f} MiB"
        )
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
