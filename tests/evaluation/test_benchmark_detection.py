"""The detection benchmark end to end on a tiny generic series, with MLflow under tmp_path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pipeline():
    spec = importlib.util.spec_from_file_location(
        "benchmark_detection", REPO_ROOT / "pipelines" / "benchmark_detection.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_generic(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    t = 400
    # A longer train split: its held-out tail (20 %) sets a 1e-2-risk threshold, which needs
    # a few hundred rows to be stable.
    n_train = 3000
    train = pd.DataFrame(
        {
            "timestamp": np.arange(n_train),
            "cpu": rng.normal(0.5, 0.02, n_train),
            "ram": rng.normal(0.3, 0.02, n_train),
        }
    )
    test = pd.DataFrame(
        {
            "timestamp": np.arange(n_train, n_train + t),
            "cpu": rng.normal(0.5, 0.02, t),
            "ram": rng.normal(0.3, 0.02, t),
        }
    )
    test.loc[200:219, "ram"] += 0.5
    test["label"] = 0
    test.loc[200:219, "label"] = 1
    test["root_cause"] = np.where(test["label"] == 1, "ram", "")
    paths = tmp_path / "train.csv", tmp_path / "test.csv"
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    return paths


def test_alias_model_to_detector() -> None:
    assert _pipeline().alias_model_override(["model=iforest", "seed=1"]) == [
        "detector=iforest",
        "seed=1",
    ]


def test_benchmark_writes_metrics_and_logs_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    train, test = _write_generic(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "benchmark_detection",
            overrides=[
                "data=generic",
                f"data.train_path={train}",
                f"data.test_path={test}",
                "detector=robust_z",
                f"mlflow.tracking_uri={uri}",
                "mlflow.run_name=test",
                "threads=1",
            ],
        )
    payload = _pipeline().run_benchmark(cfg, tmp_path / "run")["detectors"]["robust_z"]
    saved = json.loads((tmp_path / "run" / "robust_z" / "metrics.json").read_text())
    assert saved["mean"] == payload["mean"]
    case = saved["per_case"]["test"]
    # The whole fault is found; a 1e-2 risk costs about 1 % false flags of the 380 normal rows
    # (clustered by the 5-row smoothing), so precision and F1 stay below 1.
    assert case["recall"] == 1.0 and case["flag_rate"] < 0.1
    assert case["f1_pa"] > 0.7 and case["hitrate@100"] > 0.9
    # The test-label oracle: the shifted rows hold the highest scores, so a static threshold
    # separates the run whole; the 5-row smoothing tails it by a few normal rows.
    assert case["f1_pa_best"] == 1.0 and 0.8 < case["f1_best"] < 1.0
    assert saved["wall_s"] > 0

    import mlflow

    runs = mlflow.search_runs(experiment_names=["benchmark_detection"], output_format="list")
    assert len(runs) == 1
    # artifacts beside the database in tmp_path, never in ./mlruns of the checkout
    assert runs[0].info.artifact_uri.startswith((tmp_path / "mlruns").as_uri())
    assert runs[0].data.metrics["mean/hitrate_at_100"] == pytest.approx(case["hitrate@100"])
    assert runs[0].data.params["detector._target_"].endswith("RobustZScoreDetector")


def _run(tmp_path: Path, overrides: list[str]) -> dict:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "benchmark_detection",
            overrides=[*overrides, f"mlflow.tracking_uri={uri}", "mlflow.run_name=t", "threads=1"],
        )
    result = _pipeline().run_benchmark(cfg, tmp_path / "run")
    (payload,) = result["detectors"].values()
    return payload


def test_original_trace_folder_with_prefixed_traces_runs_pregan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~100 intervals per host, as the original's traces: the shipped pregan detector runs."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    rng = np.random.default_rng(1)
    for prefix, hosts in (("simulator_a_", 2), ("simulator_b_", 1)):
        ts = rng.uniform(10, 90, (102, 3 * hosts))
        ts[0] = 0.0  # the simulator's all-zero first row
        np.save(tmp_path / f"{prefix}time_series.npy", ts)
        np.save(tmp_path / f"{prefix}schedule_series.npy", np.zeros((102, 4, hosts)))
    payload = _run(
        tmp_path,
        ["data=original", f"data.root={tmp_path}", "detector=pregan", "detector.epochs=1"],
    )
    assert list(payload["per_case"]) == [
        "simulator_a/host-0",
        "simulator_a/host-1",
        "simulator_b/host-0",
    ]
    assert payload["labels_derived"] is True
    assert all(0 <= m["flag_rate"] <= 1 for m in payload["per_case"].values())


def test_synthetic_twins_replace_the_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    train, test = _write_generic(tmp_path)
    payload = _run(
        tmp_path,
        [
            "data=generic",
            f"data.train_path={train}",
            f"data.test_path={test}",
            "detector=robust_z",
            "synthetic=true",
        ],
    )
    assert payload["synthetic"] is True and list(payload["per_case"]) == ["test-synthetic"]
    assert payload["per_case"]["test-synthetic"]["recall"] > 0  # injected anomalies are scored


def test_without_data_runs_on_synthetic_set_from_another_folder_and_prints_table(
    tmp_path: Path,
) -> None:
    """Issue 17 item 3: no data -> the seeded synthetic set, paths under the project, a table."""
    import subprocess
    import sys

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "pipelines" / "benchmark_detection.py"),
            f"data.root={tmp_path / 'absent'}",
            "detector=robust_z",
            "mlflow.enabled=false",
            "progress=false",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in __import__("os").environ.items() if k != "PROJECT_ROOT"},
    )
    assert "synthetic multivariate dataset" in proc.stderr
    assert "Ground `synthetic`" in proc.stdout and "| robust_z |" in proc.stdout
    saved = json.loads((run_dir / "robust_z" / "metrics.json").read_text())
    assert saved["synthetic"] is True and len(saved["per_case"]) == 3
    assert saved["mean"]["vus_pr"] is not None and saved["mean"]["f1"] is not None
    assert not any(elsewhere.iterdir())  # nothing written where the command was run


def test_paths_are_anchored_to_the_project(tmp_path: Path) -> None:
    """`paths.root_dir` resolves to the repository, wherever Python runs from."""
    import subprocess
    import sys

    code = (
        "import importlib.util, os; "
        f"spec = importlib.util.spec_from_file_location('b', r'{REPO_ROOT / 'pipelines' / 'benchmark_detection.py'}'); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(os.environ['PROJECT_ROOT'])"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "PROJECT_ROOT"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert Path(out.stdout.strip()) == REPO_ROOT


def test_missing_data_with_skip_writes_nothing(tmp_path: Path) -> None:
    """The DVC stage's mode: a clone without ../shared keeps the committed reports."""
    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "benchmark_detection",
            overrides=[
                f"data.root={tmp_path / 'absent'}",
                "on_missing=skip",
                f"report_dir={tmp_path / 'reports'}",
                "detectors=all",
            ],
        )
    result = _pipeline().run_benchmark(cfg, tmp_path / "run")
    assert result["skipped"] is True and not (tmp_path / "reports").exists()


def test_all_detectors_share_keys_and_write_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every detector on the synthetic set: the same metric keys, tables, plots, side by side."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "benchmark_detection",
            overrides=[
                f"data.root={tmp_path / 'absent'}",
                "detectors=all",
                "mlflow.enabled=false",
                "progress=false",
                f"report_dir={tmp_path / 'reports'}",
            ],
        )
    pipeline = _pipeline()
    monkeypatch.setattr(pipeline, "synthetic_dataset", lambda seed: pipeline_small_dataset(seed))
    monkeypatch.setattr(pipeline, "detector_configs", _fast(pipeline.detector_configs))
    result = pipeline.run_benchmark(cfg, tmp_path / "run")
    dets = result["detectors"]
    assert list(dets) == list(pipeline.ALL_DETECTORS)
    for name, payload in dets.items():
        for case in payload["per_case"].values():
            assert set(pipeline.METRIC_KEYS) <= set(case), name
        assert set(payload["mean"]) == set(pipeline.METRIC_KEYS)
        assert payload["mean"]["vus_pr"] is not None, name
    out = tmp_path / "reports" / "synthetic"
    for f in ("metrics.json", "summary.json", "summary.csv", "summary.md", "per_entity.csv"):
        assert (out / f).is_file(), f
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "synthetic-1.png",
        "synthetic-2.png",
    ]
    assert "| pregan |" in (tmp_path / "reports" / "summary.md").read_text()
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["detector"]) == list(pipeline.ALL_DETECTORS)
    assert {"vus_pr_ci_low", "vus_pr_ci_high"} <= set(summary.columns)


def pipeline_small_dataset(seed: int) -> list:
    from pregan.data.synthetic_anomalies import synthetic_dataset

    return synthetic_dataset(n_cases=2, n_dims=4, n_train=1500, n_test=600, seed=seed)


def _fast(configs):
    """Wrap detector_configs: one epoch for the learned detectors."""

    def wrapped(cfg):
        out = configs(cfg)
        for det in out.values():
            if "epochs" in det:
                det.epochs = 1
        return out

    return wrapped
