"""pipelines/report.py: statistics, directions, failures, both sources, atomic outputs."""

import importlib.util
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pregan.evaluation import comparison
from pregan.simulation.interfaces import QOS_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_report():
    """Import the stage script by path (pipelines/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("report", REPO_ROOT / "pipelines" / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("report", module)  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


report = _load_report()

SLA = {"pcft": [5.0, 6.0, 7.0], "none": [9.0, 10.0, 11.0], "oracle": [1.0, 1.0, 1.0]}


def _write_run(root: Path, method: str, seed: int, metrics: dict, status="FINISHED", error=None):
    folder = root / f"{method}_seed{seed}"
    folder.mkdir(parents=True)
    payload = {"method": method, "seed": seed, "status": status, "error": error, "metrics": metrics}
    (folder / "metrics.json").write_text(json.dumps(payload))
    return folder


@pytest.fixture
def runs_dir(tmp_path):
    root = tmp_path / "multirun"
    for method, values in SLA.items():
        for seed, value in enumerate(values):
            metrics = {
                "test/sla_violation_rate": value,
                "test/f1": 0.1 * (seed + 1),
                "train/loss": 3.0,
            }
            if method == "none":
                metrics.pop("test/f1")  # none has no detection: absent
            folder = _write_run(root, method, seed, metrics)
            frame = pd.DataFrame({"interval": range(4), "method": method, "seed": seed})
            for column in QOS_COLUMNS:
                frame[column] = np.arange(4.0) * value
            frame.to_csv(folder / "qos_timeseries.csv", index=False)
    _write_run(root, "eclb", 0, {}, status="FAILED", error="Traceback...\nValueError: boom")
    return root


def test_mean_and_t_interval():
    mean, half = comparison.mean_ci([5.0, 6.0, 7.0])
    assert mean == 6.0
    assert half == pytest.approx(stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))
    assert math.isnan(comparison.mean_ci([4.0])[1])


def test_report_from_run_dirs(runs_dir, tmp_path):
    out = tmp_path / "reports"
    assert report.main(["--runs", str(runs_dir), "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["metric"]) == {"test/sla_violation_rate", "test/f1"}  # prefix filter
    sla = table[table["metric"] == "test/sla_violation_rate"].set_index("method")
    assert sla.loc["none", "mean"] == pytest.approx(10.0)
    assert sla.loc["pcft", "best"] and not sla.loc["oracle", "best"]  # the bound is not eligible
    assert (sla["direction"] == "lower").all()
    assert "none" not in set(table[table["metric"] == "test/f1"]["method"])  # absent, not zero
    md = (out / "comparison.md").read_text()
    assert "**6 ± 2.484**" in md  # pcft's SLA mean ± t-interval, bold as best
    assert "eclb seed 0: FAILED: ValueError: boom" in md
    assert "| test/sla_violation_rate | lower | pcft | 6 |" in md
    assert (out / "bars" / "test_sla_violation_rate.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "qos_over_time.png").is_file()
    assert not list(out.rglob("*.tmp"))


def test_malformed_metrics_json_names_file_and_field(tmp_path, capsys):
    _write_run(tmp_path, "pcft", 0, {"test/f1": "high"})
    assert report.main(["--runs", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "metrics.json" in err and "test/f1" in err
    bad = _write_run(tmp_path / "b", "pcft", "zero", {})
    with pytest.raises(comparison.ReportInputError, match="'seed'"):
        comparison.load_run_dirs(bad.parent)


def test_merge_prefers_finished_then_later_source():
    failed = comparison.RunResult("pcft", 0, "FAILED", "x", {}, "dir")
    done = comparison.RunResult("pcft", 0, "FINISHED", None, {"test/f1": 1.0}, "mlflow")
    assert comparison.merge_runs([done], [failed]) == [done]
    assert comparison.merge_runs([failed], [done]) == [done]


@pytest.mark.slow
def test_report_from_mlflow(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("compare", artifact_location=(tmp_path / "artifacts").as_uri())
    for method, values in SLA.items():
        for seed, value in enumerate(values):
            run = client.create_run(exp, tags={"method": method, "seed": str(seed)})
            client.log_metric(run.info.run_id, "test/sla_violation_rate", value)
            client.set_terminated(run.info.run_id, "FINISHED")
    crashed = client.create_run(exp, tags={"method": "eclb", "seed": "0", "error": "OOM"})
    client.set_terminated(crashed.info.run_id, "FAILED")
    client.create_run(exp)  # untagged: ignored
    with pytest.raises(comparison.ReportInputError, match="no experiment named 'other'"):
        comparison.load_mlflow(uri, "other")
    out = tmp_path / "reports"
    assert report.main(["--mlflow-uri", uri, "--experiment", "compare", "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv").set_index("method")
    assert table.loc["pcft", "mean"] == pytest.approx(6.0)
    assert table.loc["oracle", "n"] == 3
    assert "eclb seed 0: FAILED: OOM" in (out / "comparison.md").read_text()


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "pipelines" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def test_dvc_views_read_in_a_terminal(tmp_path):
    """`dvc metrics show`: one row per method, under 200 characters; `dvc plots show`: exactly
    the plots declared at the end of dvc.yaml, each with data (no plot per CSV column)."""
    import subprocess

    import yaml

    runs_dir = tmp_path / "runs"
    names = ["sla_violation_rate", "mean_response_s", "energy_kj", "migrations"]
    names += ["migrations_per_fault", "decision_ms", "f1", "f1_pa", "roc_auc", "class_accuracy"]
    for method in ("pregan", "none", "oracle", "pcft"):
        for seed in range(2):
            metrics = {f"test/{n}": 1000.0 * seed + 0.123456789 * len(n) for n in names}
            folder = _write_run(runs_dir, method, seed, metrics)
            frame = pd.DataFrame({"interval": range(4), "method": method, "seed": seed})
            for column in QOS_COLUMNS:
                frame[column] = np.arange(4.0) * seed
            frame.to_csv(folder / "qos_timeseries.csv", index=False)
    _write_run(runs_dir, "eclb", 0, {}, status="FAILED", error="Traceback...\nValueError: boom")
    repo = tmp_path / "repo"
    repo.mkdir()
    assert (
        _load_script("evaluate").main(["--runs", str(runs_dir), "--out", str(repo / "reports")])
        == 0
    )
    assert json.loads((repo / "reports" / "metrics" / "eclb.json").read_text()) == {
        "seeds": 0,
        "failed": 1,
    }
    (repo / "dvc.yaml").write_text((REPO_ROOT / "dvc.yaml").read_text())
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}

    def run(*cmd: str) -> str:
        return subprocess.run(
            cmd, cwd=repo, env=env, check=True, capture_output=True, text=True
        ).stdout

    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    lines = run(sys.executable, "-m", "dvc", "metrics", "show").splitlines()
    assert len(lines) == 1 + 5  # header + 4 methods + eclb (failed)
    assert max(len(line) for line in lines) < 200
    plots = json.loads(run(sys.executable, "-m", "dvc", "plots", "show", "--json"))["data"]
    declared = [
        next(iter(p)) for p in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["plots"]
    ]
    assert sorted(plots) == sorted(declared)
    for name, renders in plots.items():
        values = [v for r in renders for v in r["content"]["data"]["values"]]
        assert values, name
