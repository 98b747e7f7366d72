"""The search driver on the toy config with a cheap objective (no training)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from omegaconf import DictConfig
from optuna.trial import TrialState

from pregan.tuning.search import SearchAbortedError, SearchConfigError, run_search

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def search(search_kit: dict[str, Any], tmp_path: Path) -> Callable[..., optuna.Study]:
    """`search(*overrides, run_fn=...)` runs the driver on the toy config in tmp_path."""

    def run(*extra: str, run_fn: Callable | None = None) -> optuna.Study:
        base = _overrides(search_kit["space"], tmp_path, *extra)
        compose = search_kit["compose"]
        return run_search(compose(base), base, compose, run_fn=run_fn or search_kit["objective"])

    return run


def _overrides(space: list[str], tmp_path: Path, *extra: str) -> list[str]:
    return [
        "hparams_search=pregan_optuna",
        *space,
        f"optuna.storage=sqlite:///{tmp_path}/optuna.db",
        "optuna.study_name=toy",
        "optuna.mlflow_experiment=null",
        "optuna.heartbeat_s=null",
        "optuna.sampler.n_startup_trials=2",
        *extra,
    ]


def test_search_runs_trials_writes_a_usable_best_config_and_logs_it(
    search: Callable[..., optuna.Study], search_kit: dict[str, Any], tmp_path: Path
) -> None:
    best_path = tmp_path / "conf" / "hparams_search" / "best" / "toy.yaml"
    study = search(
        "optuna.n_trials=5",
        f"optuna.best_config={best_path}",
        "optuna.mlflow_experiment=hparams_search",
    )
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 5
    assert {t.user_attrs["output_dir"] for t in trials} == {
        str(tmp_path / "out" / f"trial_{n:04d}") for n in range(5)
    }
    tuned = search_kit["compose"](["+hparams_search/best=toy"])
    assert tuned.model.lr == pytest.approx(study.best_params["model.lr"])
    assert tuned.model.window == study.best_params["model.window"]

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("hparams_search").experiment_id])
    assert run.data.tags["study"] == "toy"
    assert run.data.tags["trial"] == str(study.best_trial.number)
    assert run.data.metrics["val/f1"] == pytest.approx(study.best_value)
    assert float(run.data.params["model.lr"]) == pytest.approx(study.best_params["model.lr"])


def test_each_trial_config_carries_its_sampled_values(
    search: Callable[..., optuna.Study], search_kit: dict[str, Any], tmp_path: Path
) -> None:
    seen: list[DictConfig] = []

    def record(cfg: DictConfig) -> dict[str, float]:
        seen.append(cfg)
        return search_kit["objective"](cfg)

    study = search("optuna.n_trials=3", run_fn=record)
    for cfg, trial in zip(seen, study.trials, strict=True):
        assert cfg.optuna.trial == trial.number
        assert cfg.model.lr == pytest.approx(trial.params["model.lr"])
        assert cfg.model.depth == trial.params["model.depth"]
        assert cfg.callbacks.optuna_pruning.trial_number == trial.number
        assert cfg.logger.mlflow.run_name == f"toy-trial{trial.number}"
        assert cfg.paths.output_dir == str(tmp_path / "out" / f"trial_{trial.number:04d}")


def test_rerun_resumes_up_to_n_trials(search: Callable[..., optuna.Study], tmp_path: Path) -> None:
    search("optuna.n_trials=3")
    assert len(search("optuna.n_trials=5").trials) == 5
    assert len(search("optuna.n_trials=5").trials) == 5  # already complete


def test_same_seed_gives_the_same_trials(
    search: Callable[..., optuna.Study], tmp_path: Path
) -> None:
    a = search("optuna.n_trials=3", "optuna.study_name=a")
    b = search("optuna.n_trials=3", "optuna.study_name=b")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_failed_trials_are_marked_fail_and_do_not_stop_the_study(
    search: Callable[..., optuna.Study], search_kit: dict[str, Any]
) -> None:
    def flaky(cfg: DictConfig) -> dict[str, float]:
        if cfg.optuna.trial % 2 == 1:
            raise RuntimeError("simulated crash")
        return search_kit["objective"](cfg)

    study = search("optuna.n_trials=4", "optuna.max_failure_rate=1.0", run_fn=flaky)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert failed and all("simulated crash" in t.user_attrs["error"] for t in failed)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) >= 2


def test_too_many_failures_abort_with_the_last_error(
    search: Callable[..., optuna.Study], tmp_path: Path
) -> None:
    def broken(cfg: DictConfig) -> dict[str, float]:
        raise RuntimeError("no traces")

    with pytest.raises(SearchAbortedError, match="no traces"):
        search("optuna.n_trials=4", "optuna.max_failure_rate=0.5", run_fn=broken)


def test_a_wrapped_trial_pruned_marks_the_trial_pruned(
    search: Callable[..., optuna.Study], tmp_path: Path
) -> None:
    def pruned(cfg: DictConfig) -> dict[str, float]:
        try:
            raise optuna.TrialPruned("epoch 1")
        except optuna.TrialPruned as exc:
            raise RuntimeError("fit failed") from exc

    study = search("optuna.n_trials=2", run_fn=pruned)
    assert [t.state for t in study.trials] == [TrialState.PRUNED, TrialState.PRUNED]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["optimized_metric=test/f1"], "validation metric"),
        (["+optuna.params.model.absent='choice(1, 2)'"], "model.absent"),
        (["optuna.max_failure_rate=2"], "max_failure_rate"),
    ],
)
def test_bad_settings_fail_before_any_trial(
    search: Callable[..., optuna.Study], tmp_path: Path, extra: list[str], needle: str
) -> None:
    with pytest.raises(SearchConfigError, match=needle):
        search(*extra)
    assert not (tmp_path / "out").exists()
