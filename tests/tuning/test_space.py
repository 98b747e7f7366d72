from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from pregan.tuning.space import SearchSpaceError, override_value, parse_search_space


def test_each_sweep_kind_maps_to_its_distribution() -> None:
    space = parse_search_space(
        {
            "a": "choice(gru, lstm)",
            "b": "range(2, 10, 2)",
            "c": "tag(log, interval(1e-5, 1e-2))",
            "d": "int(interval(1, 5))",
            "e": "interval(0, 1)",
            "f": "range(0.1, 0.5, 0.1)",
            "fixed": "7",
        }
    )
    d = space.distributions
    assert d["a"] == CategoricalDistribution(["gru", "lstm"])
    assert d["b"] == IntDistribution(2, 8, step=2)  # Python range: stop excluded
    assert d["c"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert d["d"] == IntDistribution(1, 5)
    assert d["e"] == FloatDistribution(0.0, 1.0)
    assert isinstance(d["f"], FloatDistribution) and d["f"].step == pytest.approx(0.1)
    assert space.fixed == {"fixed": "7"}


def test_trial_overrides_parse_back_to_the_sampled_values() -> None:
    space = parse_search_space({"m.x": "interval(0, 1)", "m.s": "choice('a b', c)", "m.k": "3"})
    overrides = space.trial_overrides({"m.x": 0.125, "m.s": "a b"})
    parsed = {
        o.key_or_group: o.value() for o in OverridesParser.create().parse_overrides(overrides)
    }
    assert parsed == {"m.x": 0.125, "m.s": "a b", "m.k": 3}


@pytest.mark.parametrize("value", [None, True, 3, 2.5e-7, "gru", "with space", "it's"])
def test_override_value_round_trips(value: object) -> None:
    parsed = OverridesParser.create().parse_overrides([f"k={override_value(value)}"])[0].value()
    assert parsed == value


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"lr": "tag(log, interval(0, 1))"}, "lr"),  # log scale needs low > 0
        ({"lr": "interval(1, 0"}, "lr"),  # unparsable
        ({"lr": "0.1"}, "no parameter to search"),
        ({"w": "range(5, 5)"}, "w"),
    ],
)
def test_bad_entries_name_their_key(params: dict[str, str], needle: str) -> None:
    with pytest.raises(SearchSpaceError, match=needle):
        parse_search_space(params)
