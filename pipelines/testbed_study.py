"""The test-bed study: each method live on 4 emulated hosts, beside the simulator set up alike.

    python pipelines/testbed_study.py                      # pregan evacuate threshold none planner
    python pipelines/testbed_study.py --methods none,threshold --intervals 20   # a quick look

For every method, two runs of `python train.py model=<m>` that differ only in the backend:
`backend=testbed` (conf/backend/testbed.yaml: 4 pods, 4-s intervals, one live test episode)
and `backend=sim` with the same cluster, interval, episode length and test seed. Both train
on the same simulator traces and meet the same arrivals and the same fault schedule: the
random faults of the seed plus one scripted fault of every kind (SCRIPTED below), so each
kind is injected at least once. Their metrics (`metrics.json` of each run) go side by side
into `reports/testbed/study.{json,md}`; the difference testbed - sim is the sim-to-real gap.
The load average of the machine is sampled over each run and reported with it (the machine
is shared; CPU contention is part of what a live run meets).

Needs the test bed (`bash scripts/setup_testbed.sh`, root); without it the script stops with
the probe's reason. Takes about 5 x (training + 4.5 min live + a few s simulated).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))

from pregan.io import write_json_atomic, write_text_atomic  # noqa: E402
from pregan.testbed.capabilities import probe  # noqa: E402

METHODS = ("pregan", "evacuate", "threshold", "none", "planner")
# One fault of every kind on the test episode (and, as scripted faults apply to every
# episode, on the training ones too, identically for both backends): onset, duration in
# intervals; intensity as conf/faults/default.yaml defines it per kind.
SCRIPTED = (
    "{host:0,kind:cpu_overload,onset:8,duration:6,intensity:0.9}",
    "{host:1,kind:memory_leak,onset:16,duration:8,intensity:0.9}",
    "{host:2,kind:disk_contention,onset:26,duration:6,intensity:0.9}",
    "{host:3,kind:network_saturation,onset:34,duration:6,intensity:0.9}",
    "{host:1,kind:node_crash,onset:46,duration:3,intensity:1.0}",
)
# Figures of the report: (metrics.json key, column title). Detection is scored per
# host-interval against the injected faults; diagnosis is HitRate@100 % of the root-cause
# ranking; SLA is the violation rate over deadlines due; response in seconds of episode time.
FIGURES = (
    ("f1", "detection F1"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("hitrate_100", "diagnosis HitRate@100"),
    ("class_accuracy", "class accuracy"),
    ("sla_violation_rate", "SLA violations %"),
    ("mean_response_s", "response s"),
    ("migrations", "migrations"),
    ("mean_migration_s", "migration pause s"),
    ("migration_mb", "MB moved per migration"),
    ("failed_migrations", "failed migrations"),
    ("workers_killed", "workers OOM-killed"),
    ("completed", "completed"),
)


class LoadSampler:
    """The 1-minute load average every 5 s while a run goes (the machine is shared)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(5.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self.samples.append(os.getloadavg()[0])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_one(method: str, backend: str, args: argparse.Namespace, out_root: Path) -> dict:
    """One `python train.py` run; its metrics.json plus wall time and load."""
    out = out_root / backend / method
    overrides = [
        f"model={method}",
        f"backend={backend}",
        # The simulator configured like the test bed (testbed.yaml sets the same itself).
        "simulation.n_hosts=4",
        f"simulation.interval_s={args.interval_s}",
        f"simulation.n_intervals={args.intervals}",
        "data.test_seeds=[200]",
        f"faults.scripted=[{','.join(SCRIPTED)}]",
        f"seed={args.seed}",
        "threads=1",
        f"paths.output_dir={out}",
        f"hydra.run.dir={out}",
        f"tags=[testbed_study,{backend}]",
    ]
    info_file = out / "study_run.json"
    if info_file.exists():  # finished before (an interrupted study resumes where it stopped)
        print(f"[testbed_study] {method} on {backend}: reusing {info_file}", flush=True)
        return json.loads(info_file.read_text())
    cmd = [sys.executable, str(PROJECT_ROOT / "train.py"), *overrides]
    print(f"[testbed_study] {method} on {backend}: {' '.join(cmd[1:])}", flush=True)
    log_file = out_root / f"{backend}_{method}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with LoadSampler() as load, log_file.open("w") as log:
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    metrics_file = out / "metrics.json"
    if proc.returncode != 0 or not metrics_file.exists():
        raise SystemExit(f"[testbed_study] {method} on {backend} failed: see {log_file}")
    info = {
        "metrics": json.loads(metrics_file.read_text()),
        "command": " ".join(["python", "train.py", *overrides]),
        "wall_s": wall,
        "load_mean": sum(load.samples) / len(load.samples),
        "load_max": max(load.samples),
        "log": str(log_file),
    }
    write_json_atomic(info_file, info)
    return info


def _test_metric(result: dict, key: str) -> float | None:
    """A test metric of a run's metrics.json (keys `test/<name>`), None if absent."""
    for k in (f"test/{key}", key):
        for container in (result, result.get("metrics", {}), result.get("test", {})):
            if isinstance(container, dict) and k in container:
                v = container[k]
                return float(v) if v is not None else None
    return None


def _fmt(v: float | None) -> str:
    if v is None or v != v:  # None or NaN
        return "-"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def write_report(runs: dict, args: argparse.Namespace, out_dir: Path) -> None:
    rows = []
    for method in args.methods:
        for key, title in FIGURES:
            sim = _test_metric(runs[method]["sim"]["metrics"], key)
            live = _test_metric(runs[method]["testbed"]["metrics"], key)
            gap = live - sim if sim is not None and live is not None else None
            rows.append({"method": method, "figure": key, "title": title,
                         "sim": sim, "testbed": live, "gap": gap})  # fmt: skip
    write_json_atomic(
        out_dir / "study.json",
        {"command": " ".join(sys.argv), "intervals": args.intervals,
         "interval_s": args.interval_s, "seed": args.seed, "scripted_faults": SCRIPTED,
         "runs": runs, "rows": rows},
    )  # fmt: skip
    lines = [
        "# Test-bed study: live pods beside the simulator configured like them",
        "",
        f"Command: `python pipelines/testbed_study.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"4 emulated Raspberry-Pi 4B hosts, {args.intervals} intervals of {args.interval_s} s, "
        f"test seed 200 (+ run seed {args.seed}); faults: the seed's random draws plus "
        "one scripted fault of each kind (`SCRIPTED` in the script).",
        "",
        "| method | figure | sim | test bed | gap (test bed - sim) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['title']} | {_fmt(r['sim'])} | "
                     f"{_fmt(r['testbed'])} | {_fmt(r['gap'])} |")  # fmt: skip
    lines += ["", "| method | backend | wall s | load avg (mean / max) |", "|---|---|---|---|"]
    for method in args.methods:
        for backend in ("sim", "testbed"):
            r = runs[method][backend]
            lines.append(f"| {method} | {backend} | {r['wall_s']:.0f} | "
                         f"{r['load_mean']:.2f} / {r['load_max']:.2f} |")  # fmt: skip
    write_text_atomic(out_dir / "study.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--intervals", type=int, default=60)
    parser.add_argument("--interval-s", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-dir", default=str(PROJECT_ROOT / "reports" / "testbed"))
    parser.add_argument("--run-dir", default=str(PROJECT_ROOT / "outputs" / "testbed_study"))
    args = parser.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    caps = probe()
    if not caps.ok:
        raise SystemExit(caps.reason)
    out_root = Path(args.run_dir)
    runs: dict = {}
    for method in args.methods:
        runs[method] = {b: run_one(method, b, args, out_root) for b in ("sim", "testbed")}
    write_report(runs, args, Path(args.report_dir))
    print((Path(args.report_dir) / "study.md").read_text())


if __name__ == "__main__":
    main()
