"""A toy Hydra config tree that carries the real `conf/hparams_search/pregan_optuna.yaml`.

The driver is tested on it with a cheap objective, so these tests need neither the simulator
nor the models; the real tree is checked separately once `conf/model/pregan.yaml` composes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
SEARCH_YAML = REPO_ROOT / "conf" / "hparams_search" / "pregan_optuna.yaml"

TOY_TRAIN = """\
defaults:
  - _self_
  - hparams_search: null
task_name: train
seed: 0
optimized_metric: val/f1
model: {{name: toy, lr: 0.01, window: 5, depth: 2}}
paths: {{root_dir: "{root}", output_dir: "{root}/out"}}
logger: {{mlflow: {{tracking_uri: "sqlite:///{root}/mlflow.db", run_name: toy,
                   artifact_location: "{root}/mlartifacts"}}}}
callbacks: {{}}
"""

# The toy model's search space, replacing the real one (whose keys the toy model lacks).
TOY_SPACE = [
    "~optuna.params",
    "+optuna.params.model.lr='tag(log, interval(1e-4, 1e-1))'",
    "+optuna.params.model.window='choice(3, 5, 10)'",
    "+optuna.params.model.depth='int(interval(1, 4))'",
]


def toy_objective(cfg: DictConfig) -> dict[str, float]:
    """Cheap, deterministic stand-in for run_experiment: best near lr=1e-2, window=5."""
    import math

    score = 1.0 - abs(math.log10(cfg.model.lr) + 2.0) / 3.0 - abs(cfg.model.window - 5) / 10.0
    return {"val/f1": score, "test/f1": -1.0, "depth": float(cfg.model.depth)}


@pytest.fixture
def toy_conf(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    (conf / "hparams_search").mkdir(parents=True)
    shutil.copy(SEARCH_YAML, conf / "hparams_search" / SEARCH_YAML.name)
    (conf / "train.yaml").write_text(TOY_TRAIN.format(root=tmp_path.as_posix()))
    return conf


@pytest.fixture
def hydra_in(toy_conf: Path) -> Iterator[Path]:
    """Initialise Hydra on the toy tree for the test's duration (as hydra.main would)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(toy_conf), version_base="1.3"):
        yield toy_conf
    GlobalHydra.instance().clear()


def _compose_toy(overrides: list[str]) -> DictConfig:
    return compose(config_name="train", overrides=overrides)


@pytest.fixture
def search_kit(hydra_in: Path) -> dict[str, Any]:
    """What the driver tests share: toy space overrides, compose function, cheap objective."""
    return {"space": TOY_SPACE, "compose": _compose_toy, "objective": toy_objective}
