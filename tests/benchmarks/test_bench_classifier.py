"""The classifier benchmark runs the shipped classifier (its input features), not a variant."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from omegaconf import OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[2]


def _bench():
    path = REPO_ROOT / "benchmarks" / "bench_classifier.py"
    spec = importlib.util.spec_from_file_location("bench_classifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_runs_the_shipped_features_on_a_tiny_cluster() -> None:
    features = list(OmegaConf.load(REPO_ROOT / "conf" / "classifier" / "fpe.yaml").input_features)
    result = _bench().measure(4, batch_size=8, steps=1, ref_steps=1, features=features)
    assert result["features"] == "+".join(features)
    for key in ("train_windows_per_s", "ref_f64_bs1_train_windows_per_s", "decision_ms"):
        assert result[key] > 0, key
