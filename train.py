"""Train and evaluate one fault-tolerance method: `python train.py model=pregan`.

Sweeps: `python train.py -m model=pregan,pcft seed=0,1,2`, `python train.py -m experiment=compare`,
and Optuna: `python train.py -m hparams_search=pregan_optuna` (driven by pregan.tuning.search).
Everything one run does lives in `pregan.experiment.run_experiment`.
"""

import logging
import os

import hydra
from omegaconf import DictConfig

from pregan.experiment import optimized_value, run_experiment
from pregan.simulation.config import ConfigError

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
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
