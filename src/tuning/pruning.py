"""Optuna pruning from Lightning's validation metrics, across processes.

The trial is identified by storage URL, study name and trial number (all plain config), so
the callback works wherever the run executes: in the search driver's process, a joblib worker
or a SLURM job. It reports the monitored metric after each validation epoch and raises
`optuna.TrialPruned` when the study's pruner says so; the driver records the trial as PRUNED.
"""

from __future__ import annotations

import logging
import math

import lightning as L
import optuna
from hydra.utils import instantiate

from pregan.tuning.study import PRUNER_ATTR

log = logging.getLogger(__name__)


class OptunaPruningCallback(L.Callback):
    """Report `monitor` per validation epoch to one Optuna trial; prune it when told to.

    `trial_number=None` makes the callback inert, so a config that includes the Optuna search
    settings can still run as a plain training run.
    """

    def __init__(
        self, storage: str, study_name: str, trial_number: int | None, monitor: str
    ) -> None:
        super().__init__()
        self.storage = storage
        self.study_name = study_name
        self.trial_number = trial_number
        self.monitor = monitor
        self._trial: optuna.trial.Trial | None = None
        self._storage: optuna.storages.BaseStorage | None = None
        self._trial_id = -1

    def _open_trial(self) -> optuna.trial.Trial:
        if self._trial is None:
            storage = self._storage = optuna.storages.get_storage(self.storage)
            study_id = storage.get_study_id_from_name(self.study_name)
            pruner_cfg = storage.get_study_user_attrs(study_id).get(PRUNER_ATTR)
            pruner = instantiate(pruner_cfg) if pruner_cfg else optuna.pruners.NopPruner()
            study = optuna.load_study(study_name=self.study_name, storage=storage, pruner=pruner)
            self._trial_id = storage.get_trial_id_from_study_id_trial_number(
                study_id, self.trial_number
            )
            self._trial = optuna.trial.Trial(study, self._trial_id)
        return self._trial

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.trial_number is None or trainer.sanity_checking or trainer.global_rank != 0:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:  # this Trainer (e.g. a second training phase) does not log it
            return
        value = float(value)
        if not math.isfinite(value):
            return
        trial = self._open_trial()
        # Steps count reports, not epochs: a method with several Trainers keeps them distinct.
        assert self._storage is not None
        step = len(self._storage.get_trial(self._trial_id).intermediate_values)
        trial.report(value, step)
        if trainer.world_size > 1:  # rank 0 raising alone would hang DDP: report only
            return
        if trial.should_prune():
            trial.set_user_attr("pruned_at_step", step)
            raise optuna.TrialPruned(
                f"trial {self.trial_number} pruned at step {step}: {self.monitor}={value:.4g}"
            )
