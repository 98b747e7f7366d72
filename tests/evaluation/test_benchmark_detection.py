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
    payload = _pipeline().run_benchmark(cfg, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["mean"] == payload["mean"]
    case = saved["per_case"]["test"]
    # The whole fault is found; a 1e-2 risk costs about 1 % false flags of the 380 normal rows
    # (clustered by the 5-row smoothing), so precision and F1 stay below 1.
    assert case["recall"] == 1.0 and case["flag_rate"] < 0.1
    assert case["f1_pa"] > 0.7 and case["hitrate@100"] > 0.9
    assert saved["wall_s"] > 0

    import mlflow

    runs = mlflow.search_runs(experiment_names=["benchmark_detection"], output_format="list")
    assert len(runs) == 1
    assert runs[0].data.metrics["mean/hitrate_at_100"] == pytest.approx(case["hitrate@100"])
    assert runs[0].data.params["detector._target_"].endswith("RobustZScoreDetector")


def test_inject_anomalies_labels_what_it_changes() -> None:
    rng = np.random.default_rng(0)
    clean = rng.normal(0.5, 0.05, (4000, 6)).astype(np.float32)
    x, labels, cause = _pipeline().inject_anomalies(clean, np.random.default_rng(1))
    assert x.shape == clean.shape and labels.shape == (4000,) and cause.shape == (4000, 6)
    changed = x != clean  # (T, D)
    assert labels.any() and 0.01 < labels.mean() < 0.5
    assert not changed[~labels].any()  # nothing outside the labelled segments moved
    assert not (changed & ~cause).any()  # only the labelled root-cause dims moved
    assert (cause.any(axis=1) == labels).all()
    again = _pipeline().inject_anomalies(clean, np.random.default_rng(1))[0]
    np.testing.assert_array_equal(x, again)  # seeded


def test_synthetic_case_never_touches_the_test_split() -> None:
    from pregan.data.generic import LabelledSeries

    rng = np.random.default_rng(2)
    train = rng.normal(0.5, 0.05, (5000, 3)).astype(np.float32)
    case = LabelledSeries(
        "m", train, np.full((10, 3), np.nan, np.float32), None, None, ("a", "b", "c")
    )
    twin = _pipeline().synthetic_case(case, seed=0)
    assert twin.train.shape == (4000, 3) and twin.test.shape == (1000, 3)
    np.testing.assert_array_equal(twin.train, train[:4000])
    assert np.isfinite(twin.test).all() and twin.labels is not None and twin.labels.any()
    assert twin.labels_derived and twin.name == "m-synthetic"


def test_regime_changes_are_persistent_unlabelled_and_independent_of_anomalies() -> None:
    from pregan.data.generic import LabelledSeries

    rng = np.random.default_rng(3)
    clean = rng.normal(0.5, 0.05, (3000, 5)).astype(np.float32)
    x = _pipeline().inject_regime_changes(clean, np.random.default_rng(4), count=1)
    moved = (x != clean).any(axis=1)  # (T,)
    start = int(np.argmax(moved))
    assert 300 <= start and moved[start:].all() and not moved[:start].any()  # lasts to the end
    case = LabelledSeries("m", np.tile(clean, (2, 1)), clean, None, None, tuple("abcde"))
    plain = _pipeline().synthetic_case(case, seed=0)
    shifted = _pipeline().synthetic_case(case, seed=0, regimes=2)
    assert plain.labels is not None and shifted.labels is not None
    np.testing.assert_array_equal(plain.labels, shifted.labels)  # benign: no new labels
    assert (plain.test != shifted.test).any()
