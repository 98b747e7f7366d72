"""Open (create or resume) an Optuna study in an RDB storage, refusing a changed search space.

Optuna fixes a study's space per parameter name, but only complains deep inside a trial. We
store the space as a study attribute on creation and compare it up front, so a rerun with an
edited `conf/hparams_search/*.yaml` fails at once and says which parameters differ.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution

log = logging.getLogger(__name__)

SPACE_ATTR = "search_space"  # {param: distribution JSON}, set when the study is created
PRUNER_ATTR = "pruner"  # Hydra `_target_` config of the pruner, read by the pruning callback


class SearchSpaceMismatchError(ValueError):
    """The study exists in the storage with another search space or direction."""


def ensure_sqlite_folder(storage_url: str) -> None:
    """Create the folder of a `sqlite:///path` file, which SQLAlchemy will not do."""
    prefix = "sqlite:///"
    if storage_url.startswith(prefix) and storage_url != prefix + ":memory:":
        Path(storage_url[len(prefix) :]).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_storage(
    storage_url: str, heartbeat_s: int | None, attempts: int = 5
) -> optuna.storages.RDBStorage:
    """An RDB storage; with a heartbeat, trials of a killed worker become FAIL on resume.

    Workers started together race to create the schema of a new database (one of them gets
    an IntegrityError on the version table); a retry finds the tables made by the winner.
    """
    ensure_sqlite_folder(storage_url)
    kwargs: dict[str, Any] = {}
    if heartbeat_s:
        kwargs = {"heartbeat_interval": int(heartbeat_s), "grace_period": 2 * int(heartbeat_s)}
    for attempt in range(1, attempts):
        try:
            return optuna.storages.RDBStorage(storage_url, **kwargs)
        except sqlalchemy.exc.SQLAlchemyError:
            time.sleep(0.2 * attempt)
    return optuna.storages.RDBStorage(storage_url, **kwargs)


def _stored_space(study: optuna.Study) -> dict[str, BaseDistribution]:
    """The space recorded at creation, or (for studies made elsewhere) the union seen in trials."""
    recorded = study.user_attrs.get(SPACE_ATTR)
    if recorded is not None:
        return {name: json_to_distribution(text) for name, text in recorded.items()}
    seen: dict[str, BaseDistribution] = {}
    for trial in study.get_trials(deepcopy=False):
        seen.update(trial.distributions)
    return seen


def space_differences(
    stored: dict[str, BaseDistribution], wanted: dict[str, BaseDistribution]
) -> list[str]:
    """One line per differing parameter, e.g. `lr: stored Float(1e-4..1e-2), now Float(...)`."""
    lines = []
    for name in sorted(set(stored) | set(wanted)):
        old, new = stored.get(name), wanted.get(name)
        if old == new:
            continue
        old_text = distribution_to_json(old) if old is not None else "absent"
        new_text = distribution_to_json(new) if new is not None else "absent"
        lines.append(f"{name}: stored {old_text}, now {new_text}")
    return lines


def open_study(
    storage: str | optuna.storages.BaseStorage,
    study_name: str,
    direction: str,
    space: dict[str, BaseDistribution],
    sampler: optuna.samplers.BaseSampler,
    pruner_cfg: dict[str, Any],
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """Create the study or load it for resume; raise SearchSpaceMismatchError if it differs."""
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    where = storage if isinstance(storage, str) else getattr(storage, "url", "the storage")
    if study.direction.name.lower() != direction.lower():
        raise SearchSpaceMismatchError(
            f"Optuna study '{study_name}' in {where} exists with direction "
            f"{study.direction.name.lower()}, but the config asks for {direction}. "
            "Use another optuna.study_name."
        )
    differences = space_differences(_stored_space(study), space)
    if differences and (SPACE_ATTR in study.user_attrs or study.get_trials(deepcopy=False)):
        raise SearchSpaceMismatchError(
            f"Optuna study '{study_name}' in {where} exists with a different search space; "
            "differing parameters:\n  "
            + "\n  ".join(differences)
            + "\nUse another optuna.study_name, or delete the study: "
            f"optuna delete-study --study-name {study_name} --storage {where}"
        )
    if SPACE_ATTR not in study.user_attrs:
        study.set_user_attr(SPACE_ATTR, {n: distribution_to_json(d) for n, d in space.items()})
    study.set_user_attr(PRUNER_ATTR, pruner_cfg)
    done = len(study.get_trials(deepcopy=False))
    log.info("Optuna study '%s' in %s: %d trials so far", study_name, where, done)
    return study
