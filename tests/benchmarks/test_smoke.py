"""Every script in benchmarks/ runs end to end from its command line on a tiny configuration.

The scripts are run as a user runs them (`python benchmarks/<name>.py ...`, in a fresh
process, from an empty working folder), so an import that moved, a renamed function or a
changed config breaks a test instead of the next person who wants a figure. A new script
fails `test_every_benchmark_has_a_smoke_test` until it gets its tiny arguments here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO_ROOT / "benchmarks"

# The tiniest arguments of each script's command line that still run every part of it.
TINY_ARGS: dict[str, list[str]] = {
    "bench_baselines.py": ["--hosts", "4", "--intervals", "6", "--repeats", "1"],
    "bench_classifier.py": [
        "--hosts",
        "4",
        "--batch-size",
        "8",
        "--steps",
        "1",
        "--ref-steps",
        "1",
    ],
    "bench_pregan.py": ["--hosts", "4", "--repeats", "2"],
    "bench_simulator.py": ["--hosts", "4", "--intervals", "5"],
    "bench_env.py": ["--hosts", "4", "--envs", "2", "--steps", "3"],
    "val_ppo.py": [
        "--out",
        "val_ppo.json",
        "--base",
        "debug=tiny",
        "model.total_timesteps=64,model.n_envs=2,model.n_steps=32,model.batch_size=32,model.eval_every=32",
    ],
    "eval_classifier.py": ["debug=tiny", "model.classifier.trainer.max_epochs=2", "--seeds", "0"],
    "val_recovery.py": [
        "debug=tiny",
        "model.classifier.trainer.max_epochs=2",
        "--out",
        "val.json",
        "--workdir",
        "work",
        "--methods",
        "none",
        "evacuate",
        "planner",
        "--episodes",
        "2",
    ],
    "val_separation.py": ["a.json", "b.json", "--out", "sep.md"],
}


def run_script(name: str, args: list[str], cwd: Path) -> str:
    """Run benchmarks/<name> with args in a fresh interpreter; return its stdout, or fail
    with its stderr."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{name} {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    assert proc.stdout.strip(), f"{name} printed nothing"
    return proc.stdout


def test_every_benchmark_has_a_smoke_test() -> None:
    scripts = sorted(p.name for p in BENCHMARKS.glob("*.py"))
    assert scripts, f"no scripts found in {BENCHMARKS}"
    missing = [s for s in scripts if s not in TINY_ARGS]
    assert not missing, f"benchmarks without a smoke test (add them to TINY_ARGS): {missing}"
    stale = [s for s in TINY_ARGS if s not in scripts]
    assert not stale, f"smoke tests for scripts that no longer exist: {stale}"


def test_bench_simulator_runs(tmp_path: Path) -> None:
    out = run_script("bench_simulator.py", TINY_ARGS["bench_simulator.py"], tmp_path)
    assert "4" in out and "ms" in out, out


def test_bench_env_reports_single_vector_and_engine_rates(tmp_path: Path) -> None:
    out = run_script("bench_env.py", TINY_ARGS["bench_env.py"], tmp_path)
    assert "hosts=4 envs=2" in out, out
    for row in ("single env", "vector env", "batched engine"):
        assert row in out and "/s" in out, out


def test_bench_pregan_runs(tmp_path: Path) -> None:
    out = run_script("bench_pregan.py", TINY_ARGS["bench_pregan.py"], tmp_path)
    assert "4" in out and "ms" in out, out


def test_bench_baselines_times_every_policy(tmp_path: Path) -> None:
    out = run_script("bench_baselines.py", TINY_ARGS["bench_baselines.py"], tmp_path)
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    methods = {row[1] for row in rows if row[0] == "4"}
    assert methods == {"pcft", "dftm", "eclb", "cmodlb", "none"}, out  # the oracle: bench_pregan
    assert all(float(row[2]) >= 0 for row in rows), out


def test_bench_classifier_runs_the_shipped_classifier(tmp_path: Path) -> None:
    """By default it measures the shipped classifier (its input features), not a variant."""
    out = run_script("bench_classifier.py", TINY_ARGS["bench_classifier.py"], tmp_path)
    rows = json.loads(out[out.index("[") :])
    assert [row["hosts"] for row in rows] == [4]
    shipped = OmegaConf.load(REPO_ROOT / "conf" / "classifier" / "fpe.yaml").input_features
    assert rows[0]["features"] == "+".join(shipped)
    for key in ("train_windows_per_s", "ref_f64_bs1_train_windows_per_s", "decision_ms"):
        assert rows[0][key] > 0, key


def test_eval_classifier_fits_and_scores_both_splits(tmp_path: Path) -> None:
    result = tmp_path / "rows.json"
    args = [*TINY_ARGS["eval_classifier.py"], "--json", str(result)]
    out = run_script("eval_classifier.py", args, tmp_path)
    assert "test split, 1 seeds" in out, out
    rows = json.loads(result.read_text())
    assert [row["seed"] for row in rows] == [0]
    row = rows[0]
    for key in ("f1", "val/f1", "roc_auc", "class_accuracy", "hitrate_100"):
        assert 0.0 <= row[key] <= 1.0, (key, row[key])
    assert row["best_epoch"] in (-1, 0, 1), row["best_epoch"]  # 0-based, 2 epochs at most
    assert row["fit_s"] > 0


def test_val_recovery_pairs_methods_on_validation_episodes(tmp_path: Path) -> None:
    out = run_script("val_recovery.py", TINY_ARGS["val_recovery.py"], tmp_path)
    result = json.loads((tmp_path / "val.json").read_text())
    assert set(result["methods"]) == {"none", "evacuate", "planner"}, out
    n_episodes = len(result["val_seeds"])
    assert result["val_seeds"] == [100, 1100]  # debug=tiny's val seed, then shifted by the stride
    for name, entry in result["methods"].items():
        assert len(entry["episodes"]) == n_episodes, name
        assert name in out


def test_val_ppo_scores_each_setting_beside_the_scheduler(tmp_path: Path) -> None:
    out = run_script("val_ppo.py", TINY_ARGS["val_ppo.py"], tmp_path)
    result = json.loads((tmp_path / "val_ppo.json").read_text())
    setting = TINY_ARGS["val_ppo.py"][-1]
    assert setting in out and "scheduler alone" in out, out
    assert result[setting]["ppo/timesteps"] >= 64
    assert result[setting]["curve"] and "none_val_return" in result


def test_val_separation_projects_episodes_needed(tmp_path: Path) -> None:
    """Two seeds x three episodes where PreGAN is 1 point better with little spread: a few
    episodes per seed separate it."""
    rng = __import__("numpy").random.default_rng(0)
    for name in ("a.json", "b.json"):
        methods = {}
        for m, shift in (("pregan", -1.0), ("evacuate", 0.0), ("planner", 0.0)):
            eps = [
                {"sla_violation_rate": 5.0 + shift + 0.1 * rng.standard_normal(),
                 "mean_response_s": 3000.0 + 10 * shift}
                for _ in range(3)
            ]  # fmt: skip
            methods[m] = {"episodes": eps}
        (tmp_path / name).write_text(json.dumps({"val_seeds": [1, 2, 3], "methods": methods}))
    out = run_script("val_separation.py", TINY_ARGS["val_separation.py"], tmp_path)
    table = (tmp_path / "sep.md").read_text()
    row = next(line for line in table.splitlines() if "pregan - evacuate | SLA" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert abs(float(cells[2]) + 1.0) < 0.2 and 1 <= int(cells[-1]) <= 5, out
