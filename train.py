"""Train and evaluate one fault-tolerance method: `python train.py model=pregan`.

Sweeps: `python train.py -m model=pregan,pcft seed=0,1,2`, `python train.py -m experiment=compare`,
and Optuna: `python train.py -m hparams_search=pregan_optuna` (driven by pregan.tuning.search).
Everything one run does lives in `pregan.experiment.run_experiment`.
"""

import logging
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from pregan.experiment import optimized_value, run_experiment
from pregan.simulation.config import ConfigError

log = logging.getLogger(__name__)


def check_epoch_override(cfg: DictConfig, overrides: list[str]) -> None:
    """Refuse `trainer.max_epochs=N` where the method sets its own budgets (PreGAN, evacuate):
    accepted and ignored, it would look like a shorter run that is not one."""
    own = cfg.model.get("classifier", {}).get("trainer", {}).get("max_epochs")
    if own is None or not any(o.lstrip("+").startswith("trainer.max_epochs=") for o in overrides):
        return
    gan = " and its GAN model.migrator.epochs" if "migrator" in cfg.model else ""
    raise ConfigError(
        f"trainer.max_epochs does not apply to model={cfg.model.name}: its classifier trains "
        f"for model.classifier.trainer.max_epochs (now {own}, early-stopped on val/f1){gan}; "
        "set those instead"
    )


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        check_epoch_override(cfg, list(HydraConfig.get().overrides.task))
    except ConfigError as err:
        log.error("configuration error: %s", err)
        raise SystemExit(2) from None
    if cfg.get("optuna") is not None and cfg.optuna.get("trial") is None:
        # An hparams_search config: this job drives the whole Optuna study.
        from pregan.tuning.search import search_from_hydra

        return search_from_hydra(cfg)
    try:
        metrics = run_experiment(cfg)
    except ConfigError as err:
        # A broken config breaks every run of a sweep alike: stop at once, with one line.
        log.error("configuration error: %s", err)
        raise SystemExit(2) from None
    except Exception:
        if not cfg.continue_on_failure:
            raise
        # Already recorded FAILED in MLflow and metrics.json; the sweep goes on.
        log.exception("run %s seed %s failed", cfg.model.name, cfg.seed)
        return None
    return optimized_value(cfg, metrics)


if __name__ == "__main__":
    os.environ.setdefault("PROJECT_ROOT", os.path.dirname(os.path.abspath(__file__)))
    main()
