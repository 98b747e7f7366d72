"""`run_experiment`: one method, one seed, end to end on a tiny cluster, tracked in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from pregan.experiment import run_experiment, validate_config
from pregan.simulation.config import ConfigError


def _mlflow_runs(tmp_path: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("train")
    return client.search_runs([exp.experiment_id])


def test_baseline_run_logs_metrics_tags_and_json(tmp_path: Path, make_cfg) -> None:
    cfg = make_cfg(["debug=tiny", "model=pcft", "seed=3"], tmp_path)
    metrics = run_experiment(cfg)
    # QoS is always there; detection is implied by the hosts PCFT selects.
    for key in ("test/energy_kj", "test/sla_violation_rate", "test/decision_ms", "test/f1"):
        assert key in metrics
    assert "test/class_accuracy" not in metrics  # PCFT has no fault classes: absent, not 0
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["status"] == "FINISHED" and written["method"] == "pcft" and written["seed"] == 3
    assert written["metrics"] == pytest.approx(metrics, nan_ok=True)
    assert (tmp_path / "run" / "qos_timeseries.csv").read_text().startswith("interval,method")
    (run,) = _mlflow_runs(tmp_path)
    assert run.info.status == "FINISHED"
    assert run.data.tags["method"] == "pcft" and run.data.tags["seed"] == "3"
    assert run.data.metrics["test/energy_kj"] == pytest.approx(metrics["test/energy_kj"])
    assert run.data.params["simulation.n_hosts"] == "4"


def test_failed_run_is_marked_failed_and_named(tmp_path: Path, monkeypatch, make_cfg) -> None:
    cfg = make_cfg(["debug=tiny", "model=none"], tmp_path)

    def explode(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr("pregan.experiment.run_recovery_episode", explode)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment(cfg)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["status"] == "FAILED" and "simulated crash" in written["error"]
    (run,) = _mlflow_runs(tmp_path)
    assert run.info.status == "FAILED"


def test_overlapping_seed_splits_are_refused(tmp_path: Path, make_cfg) -> None:
    cfg = make_cfg(["debug=tiny", "data.test_seeds=[0]"], tmp_path)
    with pytest.raises(ConfigError, match=r"data.train_seeds and data.test_seeds overlap: \[0\]"):
        validate_config(cfg)


def test_zero_hosts_is_refused_before_any_work(tmp_path: Path, make_cfg) -> None:
    cfg = make_cfg(["debug=tiny", "simulation.n_hosts=0"], tmp_path)
    with pytest.raises(ConfigError, match="simulation.n_hosts"):
        validate_config(cfg)
    with open_dict(cfg):
        cfg.seed = -1
    with pytest.raises(ConfigError, match="seed"):
        validate_config(cfg)


def test_bad_thread_count_is_refused(tmp_path: Path, make_cfg) -> None:
    cfg = make_cfg(["debug=tiny", "threads=0"], tmp_path)
    with pytest.raises(ConfigError, match="threads must be a positive integer, got 0"):
        validate_config(cfg)


def test_test_episodes_follow_the_run_seed_and_stay_unseen(tmp_path: Path, make_cfg) -> None:
    from pregan.experiment import test_episode_seeds

    cfg = make_cfg(["debug=tiny", "seed=2"], tmp_path)
    assert test_episode_seeds(cfg) == [200 + 2 * cfg.data.test_seed_stride]
    with open_dict(cfg):
        cfg.data.test_seed_stride = 50  # seed 2 -> episode 300... and 100 is a val seed
        cfg.data.test_seeds = [0]
    with pytest.raises(ConfigError, match="data.val_seeds and data.test_seeds overlap"):
        validate_config(cfg)


class _Interrupt(Exception):
    """Stands for a crash or Ctrl-C in the middle of training."""


def _interrupt_at(epoch: int):
    import lightning as L

    class InterruptAt(L.Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            if trainer.current_epoch == epoch:
                raise _Interrupt(f"interrupted in epoch {epoch}")

    return InterruptAt()


def test_interrupted_run_resumes_to_the_same_metrics(tmp_path: Path, monkeypatch, make_cfg) -> None:
    """Kill the classifier's fit in its 4th epoch, rerun in the same folder: it resumes from
    last.ckpt (the last epoch, early stopping's counter, the random state) and ends with the
    metrics of an uninterrupted run of the same seed, at every epoch and on the test episodes."""
    import torch

    import pregan.models.recovery.classifier_flagging as pregan_mod

    overrides = ["debug=tiny", "model=pregan", "model.classifier.trainer.max_epochs=5"]
    straight = run_experiment(make_cfg(overrides, tmp_path / "straight"))

    cfg = make_cfg(overrides, tmp_path / "resumed")
    callbacks = pregan_mod._callbacks
    with monkeypatch.context() as m:
        m.setattr(pregan_mod, "_callbacks", lambda *a: [*callbacks(*a), _interrupt_at(3)])
        with pytest.raises(_Interrupt):
            run_experiment(cfg)
    last = tmp_path / "resumed" / "run" / "checkpoints" / "classifier" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 2  # the last finished epoch
    resumed = run_experiment(cfg)
    timings = ("test/decision_ms", "test/peak_memory_mb")  # measurements of this process
    assert {k: v for k, v in resumed.items() if k not in timings} == pytest.approx(
        {k: v for k, v in straight.items() if k not in timings}, nan_ok=True, rel=0, abs=0
    )
    written = json.loads((tmp_path / "resumed" / "run" / "metrics.json").read_text())
    assert written["status"] == "FINISHED"


@pytest.mark.parametrize("content", ["truncated", "text"])
def test_an_unreadable_last_checkpoint_names_the_file_and_the_way_out(
    tmp_path: Path, make_cfg, content: str
) -> None:
    import torch

    from pregan.checkpoints import CheckpointError

    last = tmp_path / "run" / "checkpoints" / "classifier" / "last.ckpt"
    last.parent.mkdir(parents=True)
    if content == "text":
        last.write_text("not a checkpoint\n")
    else:
        torch.save({"state_dict": {"w": torch.zeros(1000)}, "loops": {}}, last)
        last.write_bytes(last.read_bytes()[:300])  # a crash mid-write
    cfg = make_cfg(["debug=tiny", "model=evacuate"], tmp_path)
    with pytest.raises(CheckpointError) as err:
        run_experiment(cfg)
    message = str(err.value)
    assert str(last) in message and "Delete it" in message and "fresh run folder" in message
    assert "weights_only" not in message  # not PyTorch's advice to load it unsafely
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["status"] == "FAILED" and str(last) in written["error"]


def test_progress_logs_lines_when_output_is_not_a_terminal(caplog) -> None:
    import io
    import logging

    from pregan.console import Progress

    caplog.set_level(logging.INFO, logger="pregan.console")
    progress = Progress(4, "test episodes", every_s=0.0, stream=io.StringIO())
    for _ in range(4):
        progress.advance()
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "test episodes: 4 steps"
    assert any(line.startswith("test episodes: 2/4 (50 %)") for line in lines)
    assert lines[-1].startswith("test episodes: done in")


def test_summary_lists_headline_metrics_and_outputs() -> None:
    from pregan.console import summary

    text = summary(
        "pregan seed 0: FINISHED",
        {"test/sla_violation_rate": 34.39, "test/f1": 0.9176, "train/g_loss_epoch": 1.0},
        {"metrics": Path("/r/metrics.json"), "checkpoints": None},
    )
    lines = text.splitlines()
    assert lines[0] == "pregan seed 0: FINISHED"
    assert any("SLA violations" in x and x.endswith("34.39 %") for x in lines)
    assert any("detection F1" in x and x.endswith("0.9176") for x in lines)
    assert any(x.endswith("/r/metrics.json") for x in lines)
    assert not any("checkpoints" in x or "g_loss" in x for x in lines)  # absent: not listed


def test_lightning_lines_are_printed_once_without_adverts() -> None:
    import logging

    import lightning  # noqa: F401 (installs its own handlers on import)

    from pregan.console import quiet_lightning

    quiet_lightning()
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate  # only the root's (Hydra's) handlers
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    tip = logging.LogRecord(
        rank_zero.name, logging.INFO, "", 0, "💡 Tip: try litlogger", None, None
    )
    info = logging.LogRecord(
        rank_zero.name, logging.INFO, "", 0, "GPU available: False", None, None
    )
    assert not rank_zero.filter(tip) and rank_zero.filter(info)


def test_trainer_max_epochs_is_refused_for_pregan(make_cfg, tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_entry", Path(__file__).parents[1] / "train.py"
    )
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    cfg = make_cfg(["model=pregan"], tmp_path)
    with pytest.raises(ConfigError, match="model.classifier.trainer.max_epochs"):
        train.check_epoch_override(cfg, ["model=pregan", "trainer.max_epochs=3"])
    train.check_epoch_override(cfg, ["model=pregan"])  # the default is fine
    train.check_epoch_override(make_cfg(["model=pcft"], tmp_path), ["trainer.max_epochs=3"])


def test_a_run_interrupted_in_its_test_episodes_resumes_without_retraining(
    tmp_path: Path, monkeypatch, make_cfg
) -> None:
    """Both training phases had ended: the rerun trains no epoch, reloads them, and reports
    the uninterrupted run's metrics (the fits' own included)."""
    import pregan.experiment as experiment

    overrides = ["debug=tiny", "model=pregan", "model.classifier.trainer.max_epochs=3"]
    straight = run_experiment(make_cfg(overrides, tmp_path / "straight"))

    def crash(*args, **kwargs):
        raise _Interrupt("interrupted in the test episodes")

    cfg = make_cfg(overrides, tmp_path / "resumed")
    with monkeypatch.context() as m:
        m.setattr(experiment, "run_recovery_episode", crash)
        with pytest.raises(_Interrupt):
            run_experiment(cfg)
    ckpts = tmp_path / "resumed" / "run" / "checkpoints"
    before = {p: p.stat().st_mtime_ns for p in ckpts.rglob("*.ckpt")}
    resumed = run_experiment(cfg)
    assert {p: p.stat().st_mtime_ns for p in ckpts.rglob("*.ckpt")} == before  # no epoch rerun
    timings = ("test/decision_ms", "test/peak_memory_mb")
    assert {k: v for k, v in resumed.items() if k not in timings} == pytest.approx(
        {k: v for k, v in straight.items() if k not in timings}, nan_ok=True, rel=0, abs=0
    )


def test_progress_bar_puts_one_metric_per_line_and_respects_disabled() -> None:
    from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

    from pregan.console import rich_progress_bar

    assert not isinstance(rich_progress_bar(False), ProgressBar)  # Lightning would refuse one
    bar = rich_progress_bar(True)
    assert isinstance(bar, RichProgressBar) and bar.theme.metrics_text_delimiter == "\n"
