"""Synthetic twins: injected anomalies are labelled exactly, regime changes are not, and the
test split is never read."""

from __future__ import annotations

import numpy as np

from pregan.data.generic import LabelledSeries
from pregan.data.synthetic_anomalies import (
    inject_anomalies,
    inject_regime_changes,
    synthetic_case,
)


def test_inject_anomalies_labels_what_it_changes() -> None:
    rng = np.random.default_rng(0)
    clean = rng.normal(0.5, 0.05, (4000, 6)).astype(np.float32)
    x, labels, cause = inject_anomalies(clean, np.random.default_rng(1))
    assert x.shape == clean.shape and labels.shape == (4000,) and cause.shape == (4000, 6)
    changed = x != clean  # (T, D)
    assert labels.any() and 0.01 < labels.mean() < 0.5
    assert not changed[~labels].any()  # nothing outside the labelled segments moved
    assert not (changed & ~cause).any()  # only the labelled root-cause dims moved
    assert (cause.any(axis=1) == labels).all()
    again = inject_anomalies(clean, np.random.default_rng(1))[0]
    np.testing.assert_array_equal(x, again)  # seeded


def test_synthetic_case_never_touches_the_test_split() -> None:
    rng = np.random.default_rng(2)
    train = rng.normal(0.5, 0.05, (5000, 3)).astype(np.float32)
    case = LabelledSeries(
        "m", train, np.full((10, 3), np.nan, np.float32), None, None, ("a", "b", "c")
    )
    twin = synthetic_case(case, seed=0)
    assert twin.train.shape == (4000, 3) and twin.test.shape == (1000, 3)
    np.testing.assert_array_equal(twin.train, train[:4000])
    assert np.isfinite(twin.test).all() and twin.labels is not None and twin.labels.any()
    assert twin.labels_derived and twin.name == "m-synthetic"


def test_regime_changes_are_persistent_unlabelled_and_independent_of_anomalies() -> None:
    rng = np.random.default_rng(3)
    clean = rng.normal(0.5, 0.05, (3000, 5)).astype(np.float32)
    x = inject_regime_changes(clean, np.random.default_rng(4), count=1)
    moved = (x != clean).any(axis=1)  # (T,)
    start = int(np.argmax(moved))
    assert 300 <= start and moved[start:].all() and not moved[:start].any()  # lasts to the end
    case = LabelledSeries("m", np.tile(clean, (2, 1)), clean, None, None, tuple("abcde"))
    plain = synthetic_case(case, seed=0)
    shifted = synthetic_case(case, seed=0, regimes=2)
    assert plain.labels is not None and shifted.labels is not None
    np.testing.assert_array_equal(plain.labels, shifted.labels)  # benign: no new labels
    assert (plain.test != shifted.test).any()
