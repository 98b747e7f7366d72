"""Train and evaluate one fault-tolerance method: `python train.py model=pregan`.

Sweeps: `python train.py -m model=pregan,pcft seed=0,1,2` or `python train.py -m experiment=compare`.
Everything the run does lives in `pregan.experiment.run_experiment`.
"""

import os

import hydra
from omegaconf import DictConfig

from pregan.experiment import optimized_value, run_experiment


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = run_experiment(cfg)
    return optimized_value(cfg, metrics)


if __name__ == "__main__":
    os.environ.setdefault("PROJECT_ROOT", os.path.dirname(os.path.abspath(__file__)))
    main()
