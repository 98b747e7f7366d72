from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from pregan.tuning.study import SearchSpaceMismatchError, make_storage, open_study

SPACE = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "window": IntDistribution(3, 10)}
PRUNER = {"_target_": "optuna.pruners.NopPruner"}


def _open(url: str, space: dict, direction: str = "maximize") -> optuna.Study:
    return open_study(
        make_storage(url, heartbeat_s=None),
        "s1",
        direction,
        space,
        optuna.samplers.TPESampler(seed=0),
        PRUNER,
        optuna.pruners.NopPruner(),
    )


def test_reopening_with_the_same_space_resumes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/optuna.db"  # folder created on demand
    study = _open(url, SPACE)
    study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=2)
    again = _open(url, dict(SPACE))
    assert len(again.trials) == 2
    assert again.user_attrs["pruner"] == PRUNER


def test_a_changed_space_is_refused_naming_study_and_parameters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/optuna.db"
    _open(url, SPACE)
    changed = {"lr": FloatDistribution(1e-5, 1e-1, log=True), "latent": IntDistribution(8, 32)}
    with pytest.raises(SearchSpaceMismatchError) as err:
        _open(url, changed)
    message = str(err.value)
    assert "'s1'" in message
    for name in ("lr", "latent", "window"):
        assert f"{name}: stored" in message


def test_a_changed_direction_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/optuna.db"
    _open(url, SPACE)
    with pytest.raises(SearchSpaceMismatchError, match="direction"):
        _open(url, SPACE, direction="minimize")


def test_a_study_made_elsewhere_is_checked_against_its_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/optuna.db"
    other = optuna.create_study(storage=url, study_name="s1", direction="maximize")
    other.optimize(lambda t: t.suggest_int("window", 1, 2), n_trials=1)
    with pytest.raises(SearchSpaceMismatchError, match="window: stored"):
        _open(url, SPACE)
