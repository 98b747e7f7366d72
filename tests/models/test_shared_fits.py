"""The study's shared fits: each seed's classifier trained once (`model=classifier`) and loaded
by the methods (`model.classifier.pretrained`), and `pregan_online` starting from `pregan`'s
offline GAN (`model.migrator.pretrained`). Loading must give the figures the method's own fit
gives, and a record made with other settings must be refused, naming the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from pregan.experiment import run_experiment
from pregan.models.recovery.fault_classifier import ClassifierCheckpointError
from pregan.simulation.config import ConfigError

TINY = [
    "debug=tiny",
    "model.classifier.trainer.max_epochs=2",
    "+trainer.enable_model_summary=false",
]


def _run(make_cfg, tmp_path: Path, out: Path, *overrides: str) -> dict[str, float]:
    cfg = make_cfg([*TINY, *overrides], tmp_path)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return run_experiment(cfg)


def _same_test_metrics(a: dict[str, float], b: dict[str, float]) -> None:
    """The two runs measured exactly the same, but for wall-clock and memory (they vary run
    to run; NaN where the tiny episodes have nothing to measure)."""
    skip = ("test/decision_ms", "test/peak_memory_mb")
    a, b = ({k: v for k, v in m.items() if k.startswith("test/") and k not in skip} for m in (a, b))
    assert a and a == pytest.approx(b, rel=0, abs=0, nan_ok=True)


@pytest.fixture
def shared(make_cfg, tmp_path: Path) -> Path:
    """A folder with seed0/ of `model=classifier` (what the train_classifier stage writes)."""
    folder = tmp_path / "shared"
    _run(make_cfg, tmp_path, folder / "seed0", "model=classifier", "evaluation.test_episodes=false")
    return folder


def test_a_loaded_classifier_gives_the_figures_of_fitting_it(make_cfg, tmp_path, shared) -> None:
    record = json.loads((shared / "seed0" / "classifier.json").read_text())
    assert (shared / "seed0" / record["checkpoint"]).is_file() and record["seed"] == 0
    own = _run(make_cfg, tmp_path, tmp_path / "own", "model=evacuate")
    loaded = _run(
        make_cfg, tmp_path, tmp_path / "loaded", "model=evacuate",
        f"model.classifier.pretrained={shared}",
    )  # fmt: skip
    assert loaded["val/f1"] == own["val/f1"] == record["metrics"]["val/f1"]
    _same_test_metrics(loaded, own)


def test_a_classifier_of_other_settings_or_seed_is_refused(make_cfg, tmp_path, shared) -> None:
    with pytest.raises(ConfigError, match="latent: 10 there, 8 here"):
        _run(
            make_cfg, tmp_path, tmp_path / "a", "model=evacuate",
            f"model.classifier.pretrained={shared}", "model.classifier.latent=8",
        )  # fmt: skip
    with pytest.raises(ClassifierCheckpointError, match="no shared classifier for seed 1"):
        _run(
            make_cfg, tmp_path, tmp_path / "b", "model=evacuate", "seed=1",
            f"model.classifier.pretrained={shared}",
        )  # fmt: skip
    with pytest.raises(ConfigError, match="trains the shared classifier"):
        _run(make_cfg, tmp_path, tmp_path / "c", "model=classifier")  # no policy to test


def test_online_pregan_from_pregans_gan_equals_fitting_its_own(make_cfg, tmp_path, shared) -> None:
    clf = f"model.classifier.pretrained={shared}"
    one = "model.migrator.epochs=1"
    _run(make_cfg, tmp_path, tmp_path / "pregan" / "seed0", "model=pregan", clf, one)
    own = _run(make_cfg, tmp_path, tmp_path / "own", "model=pregan_online", clf, one)
    gan = f"model.migrator.pretrained={tmp_path / 'pregan'}"
    loaded = _run(make_cfg, tmp_path, tmp_path / "loaded", "model=pregan_online", clf, one, gan)
    _same_test_metrics(loaded, own)
    assert loaded["train/g_loss_epoch"] == own["train/g_loss_epoch"]  # pregan's fit, reported
    with pytest.raises(ConfigError, match="lr_online"):
        _run(
            make_cfg, tmp_path, tmp_path / "other", "model=pregan_online", clf, one, gan,
            "model.migrator.lr_online=1e-3",
        )  # fmt: skip
