"""An Optuna search space written in Hydra's sweep grammar, so configs read like any Hydra sweep.

`conf/hparams_search/*.yaml` lists `optuna.params` as `dotted.key: <sweep>`:

| sweep | Optuna distribution |
|---|---|
| `choice(a, b, c)` | categorical |
| `range(start, stop, step)` | int (or float) with step; `stop` excluded, as in Python |
| `interval(lo, hi)` / `int(interval(lo, hi))` | float / int, uniform |
| `tag(log, interval(lo, hi))` | float (or int), log-uniform |
| a plain value | fixed for every trial, not searched |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from hydra.errors import HydraException
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class SearchSpaceError(ValueError):
    """A search-space entry cannot be turned into an Optuna distribution."""


@dataclass(frozen=True)
class SearchSpace:
    """Distributions to sample per trial, plus fixed overrides applied to every trial."""

    distributions: dict[str, BaseDistribution]
    fixed: dict[str, str]

    def trial_overrides(self, params: Mapping[str, Any]) -> list[str]:
        """Hydra overrides `key=value` for one trial's sampled params and the fixed values."""
        sampled = [f"{key}={override_value(params[key])}" for key in self.distributions]
        return sampled + [f"{key}={value}" for key, value in self.fixed.items()]


_PLAIN = re.compile(r"[\w.\-+/:]+")


def override_value(value: Any) -> str:
    """Render a Python value as a Hydra override value that parses back to the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _distribution(key: str, sweep: Any, values: list[Any]) -> BaseDistribution:
    if isinstance(sweep, ChoiceSweep) or (isinstance(sweep, RangeSweep) and sweep.shuffle):
        return CategoricalDistribution(values)
    if isinstance(sweep, RangeSweep):
        if not values:
            raise SearchSpaceError(f"optuna.params.{key}: empty range {sweep}")
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(sweep.step))
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(sweep.step))
    if isinstance(sweep, IntervalSweep):
        log = "log" in sweep.tags
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    raise SearchSpaceError(f"optuna.params.{key}: unsupported sweep {sweep!r}")


def parse_search_space(params: Mapping[str, Any]) -> SearchSpace:
    """Parse `{dotted.key: sweep string}`; an unparsable or empty entry names its key."""
    parser = OverridesParser.create()
    distributions: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for key, text in params.items():
        try:
            override = parser.parse_overrides([f"{key}={text}"])[0]
        except HydraException as exc:
            raise SearchSpaceError(f"optuna.params.{key}: cannot parse {text!r}: {exc}") from exc
        if not override.is_sweep_override():
            fixed[str(key)] = override.get_value_element_as_str()
            continue
        sweep = override.value()
        values = list(override.sweep_iterator()) if not isinstance(sweep, IntervalSweep) else []
        try:
            distributions[str(key)] = _distribution(str(key), sweep, values)
        except SearchSpaceError:
            raise
        except ValueError as exc:  # Optuna rejects e.g. low > high or log with low <= 0
            raise SearchSpaceError(f"optuna.params.{key}: invalid sweep {text!r}: {exc}") from exc
    if not distributions:
        raise SearchSpaceError("optuna.params: no parameter to search (all values are fixed)")
    return SearchSpace(distributions, fixed)
