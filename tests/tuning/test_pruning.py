"""The pruning callback inside a real (tiny) Lightning fit, talking to the study by URL."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import optuna
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from pregan.tuning.pruning import OptunaPruningCallback
from pregan.tuning.study import PRUNER_ATTR


class _Scripted(L.LightningModule):
    """Logs a scripted `val/f1` per epoch, so the pruner's decision is known in advance."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__()
        self.scores = scores
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
        (x,) = batch  # (B, 2)
        return self.layer(x).pow(2).mean()

    def validation_step(self, batch: list[torch.Tensor], _: int) -> None:
        self.log("val/f1", self.scores[self.current_epoch])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _fit(scores: list[float], callback: OptunaPruningCallback, tmp_path: Path) -> None:
    loader = DataLoader(TensorDataset(torch.zeros(4, 2)), batch_size=4)
    trainer = L.Trainer(
        max_epochs=len(scores),
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(_Scripted(scores), loader, loader)


def _study(tmp_path: Path) -> tuple[str, optuna.Study]:
    url = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(storage=url, study_name="p", direction="maximize")
    # Prune as soon as val/f1 drops below 0.5 (ThresholdPruner), read back from the study.
    study.set_user_attr(PRUNER_ATTR, {"_target_": "optuna.pruners.ThresholdPruner", "lower": 0.5})
    return url, study


def test_reports_every_epoch_and_prunes_when_the_pruner_says_so(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    trial = study.ask()
    callback = OptunaPruningCallback(url, "p", trial.number, monitor="val/f1")
    with pytest.raises(optuna.TrialPruned, match="step 2"):
        _fit([0.875, 0.75, 0.25, 0.875], callback, tmp_path)
    frozen = study.trials[trial.number]
    assert frozen.intermediate_values == {0: 0.875, 1: 0.75, 2: 0.25}
    assert frozen.user_attrs["pruned_at_step"] == 2


def test_a_second_fit_continues_the_step_count(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    trial = study.ask()
    _fit([0.875, 0.75], OptunaPruningCallback(url, "p", trial.number, "val/f1"), tmp_path)
    _fit([0.625], OptunaPruningCallback(url, "p", trial.number, "val/f1"), tmp_path)
    assert study.trials[trial.number].intermediate_values == {0: 0.875, 1: 0.75, 2: 0.625}


def test_without_a_trial_number_or_metric_the_callback_does_nothing(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    _fit([0.1, 0.1], OptunaPruningCallback(url, "p", None, "val/f1"), tmp_path)
    trial = study.ask()
    _fit([0.1], OptunaPruningCallback(url, "p", trial.number, "val/absent"), tmp_path)
    assert study.trials[trial.number].intermediate_values == {}
