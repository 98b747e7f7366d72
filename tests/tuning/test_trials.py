"""Real (tiny) Optuna trials of PreGAN: only what val/f1 needs is trained, and a pruned trial
reads PRUNED in Optuna and metrics.json, KILLED in MLflow, without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import optuna
import pytest
from omegaconf import open_dict

from pregan.experiment import run_experiment

TRIAL = ["debug=tiny", "hparams_search=pregan_optuna", "model.classifier.trainer.max_epochs=3"]


def _mlflow_status(tmp_path: Path, experiment: str) -> list[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return [r.info.status for r in client.search_runs([exp.experiment_id])]


def test_a_trial_trains_the_classifier_only(tmp_path: Path, make_cfg) -> None:
    """val/f1 is the classifier's: no GAN fit, no test episodes inside a trial."""
    cfg = make_cfg(TRIAL, tmp_path)  # the settings a trial gets, its pruning callback inert
    metrics = run_experiment(cfg)
    assert "val/f1" in metrics
    assert not [k for k in metrics if k.startswith("test/")]  # no test episode ran
    assert not [k for k in metrics if "g_loss" in k or "d_loss" in k]  # no GAN was trained
    assert not (tmp_path / "run" / "checkpoints" / "gan").exists()
    assert not (tmp_path / "run" / "qos_timeseries.csv").exists()
    assert _mlflow_status(tmp_path, "hparams_search") == ["FINISHED"]


class _PruneAt(L.Callback):
    """Stands for the study's pruner deciding to stop the trial after its first epoch."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            raise optuna.TrialPruned("trial 0 pruned at step 0: val/f1=0.1")


def test_a_pruned_trial_reads_pruned_everywhere(tmp_path: Path, monkeypatch, make_cfg) -> None:
    import pregan.models.recovery.classifier_flagging as pregan_mod
    from pregan.tuning.search import run_search

    callbacks = pregan_mod._callbacks
    monkeypatch.setattr(pregan_mod, "_callbacks", lambda *a: [*callbacks(*a), _PruneAt()])
    cfg = make_cfg([*TRIAL, "optuna.n_trials=1"], tmp_path)
    with open_dict(cfg):
        cfg.optuna.storage = f"sqlite:///{tmp_path / 'optuna.db'}"
        cfg.optuna.best_config = str(tmp_path / "best.yaml")

    def compose(overrides: list[str]):
        trial = make_cfg(overrides, tmp_path)
        with open_dict(trial):
            trial.optuna.storage = cfg.optuna.storage
        return trial

    study = run_search(cfg, TRIAL, compose)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED]
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["status"] == "PRUNED" and "traceback" not in written
    assert "pruned at step 0" in written["pruned"]
    assert _mlflow_status(tmp_path, "hparams_search") == ["KILLED"]
    assert not (tmp_path / "best.yaml").exists()  # no complete trial, no best config


@pytest.mark.parametrize("status", ["FINISHED", "FAILED"])
def test_mlflow_reads_running_until_the_episodes_are_done(
    tmp_path: Path, monkeypatch, make_cfg, status: str
) -> None:
    """Lightning's logger closed the run after each fit; it must stay open through the
    GAN's fit and the test episodes, then read FINISHED (or FAILED)."""
    import pregan.experiment as experiment

    seen: list[str] = []
    real = experiment.run_recovery_episode

    def episode(cfg, seed, scheduler, policy):
        seen.append(_mlflow_status(tmp_path, "train")[0])
        if status == "FAILED":
            raise RuntimeError("crash in the test episodes")
        return real(cfg, seed, scheduler, policy)

    monkeypatch.setattr(experiment, "run_recovery_episode", episode)
    cfg = make_cfg(
        ["debug=tiny", "model=pregan", "model.classifier.trainer.max_epochs=2"], tmp_path
    )
    if status == "FAILED":
        with pytest.raises(RuntimeError, match="crash in the test episodes"):
            run_experiment(cfg)
    else:
        run_experiment(cfg)
    assert seen and set(seen) == {"RUNNING"}
    assert _mlflow_status(tmp_path, "train") == [status]
    if status == "FINISHED":  # a folder's files land in its artifact folder, not one deeper
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        (run,) = client.search_runs([client.get_experiment_by_name("train").experiment_id])
        plots = [a.path for a in client.list_artifacts(run.info.run_id, "gan_plots")]
        assert plots and all(
            not a.is_dir for a in client.list_artifacts(run.info.run_id, "gan_plots")
        )
        assert not [p for p in plots if p.startswith("gan_plots/gan_plots")]
