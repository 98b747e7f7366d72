"""The real config tree: the search space, the launchers and DDP compose as documented."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from pregan.tracking import flatten_params
from pregan.tuning.search import validate_search
from pregan.tuning.space import parse_search_space

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF = REPO_ROOT / "conf"


def _compose(overrides: list[str]) -> DictConfig:
    """Compose with `overrides`. A tree that does not compose is a broken project: Hydra's
    error (naming the missing group or key) fails the test; nothing is skipped."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("train", overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def test_pregan_search_space_names_real_keys_and_validation_metric() -> None:
    cfg = _compose(["hparams_search=pregan_optuna"])
    space = parse_search_space(flatten_params(OmegaConf.to_container(cfg.optuna.params)))
    assert validate_search(cfg, space) == "val/f1"
    assert {"model.classifier.window", "model.classifier.latent"} <= set(space.distributions)
    assert cfg.callbacks.optuna_pruning.monitor == cfg.optimized_metric
    assert cfg.optuna.storage.startswith("sqlite:///") and cfg.optuna.storage.endswith("optuna.db")
    assert cfg.optuna.trial is None  # outside a search the pruning callback is inert


def test_slurm_launcher_composes_to_submitit() -> None:
    cfg = _compose(["hydra/launcher=slurm", "hydra.launcher.partition=gpu"])
    launcher = cfg.hydra.launcher
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"
    assert launcher.partition == "gpu" and launcher.tasks_per_node == 1
    assert "export MLFLOW_DISABLE_TELEMETRY=true" in launcher.setup


def test_joblib_launcher_and_ddp_trainer_compose() -> None:
    cfg = _compose(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "trainer=ddp"])
    assert get_class(cfg.hydra.launcher._target_).__name__ == "JoblibLauncher"
    assert cfg.hydra.launcher.n_jobs == 2
    assert cfg.trainer.strategy == "ddp"


def test_tracking_server_is_a_config_override() -> None:
    uri = "http://mlflow.internal:5000"
    cfg = _compose([f"logger.mlflow.tracking_uri={uri}"])
    assert cfg.logger.mlflow.tracking_uri == uri
