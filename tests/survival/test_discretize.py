"""Discretizer: conventions on hand-checkable cases, fitting schemes, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oncofusion.errors import ConfigError, SurvivalInputError, UnknownOptionError
from oncofusion.survival import Discretizer

MONTHLY = Discretizer.from_cuts(range(13))  # 12 monthly intervals

# (id, time, event, expected interval_index, expected event)
CASES = [
    ("event_at_origin", 0.0, 1, 0, True),
    ("event_inside_first", 0.5, 1, 0, True),
    ("event_on_cut_1_closes_interval_0", 1.0, 1, 0, True),
    ("event_just_after_cut_1", 1.0001, 1, 1, True),
    ("censored_at_origin_survived_nothing", 0.0, 0, 0, False),
    ("censored_inside_first_not_at_risk_there", 0.5, 0, 0, False),
    ("censored_on_cut_1_survived_interval_0", 1.0, 0, 1, False),
    ("censored_inside_interval_5", 5.5, 0, 5, False),
    ("event_on_last_cut", 12.0, 1, 11, True),
    ("censored_on_last_cut_survived_all", 12.0, 0, 12, False),
    ("event_past_last_cut_admin_censored", 13.0, 1, 12, False),
    ("censored_past_last_cut", 40.0, 0, 12, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_transform_conventions(case):
    _, time, event, want_idx, want_event = case
    lab = MONTHLY.transform([time], [event])
    assert lab.interval_index.tolist() == [want_idx]
    assert lab.event.tolist() == [want_event]


def test_sizes_and_dtypes():
    assert MONTHLY.n_intervals == MONTHLY.out_features == 12
    lab = MONTHLY.transform([1.5, 3.0], [1, 0])
    assert lab.interval_index.dtype == np.int64 and lab.event.dtype == bool


def test_time_before_first_cut_is_an_error():
    with pytest.raises(SurvivalInputError, match="before the grid's first cut"):
        Discretizer.from_cuts([2, 4, 6]).transform([1.0, 3.0], [1, 0])


def test_equidistant_fits_to_largest_time_or_uses_horizon():
    time, event = np.array([3.0, 7.5, 10.0, 2.0]), np.array([1, 0, 1, 1])
    d = Discretizer.equidistant(4).fit(time, event)
    np.testing.assert_allclose(d.cuts, [0, 2.5, 5, 7.5, 10])
    assert not Discretizer.equidistant(4).is_fitted
    h = Discretizer.equidistant(6, horizon=12)
    assert h.is_fitted and h.n_intervals == 6
    np.testing.assert_allclose(h.fit(time, event).cuts, np.arange(0, 13, 2))


def test_quantile_cuts_hold_equal_event_counts():
    rng = np.random.default_rng(0)
    time = rng.exponential(10, 400)
    event = rng.random(400) < 0.5
    d = Discretizer.quantile(5).fit(time, event)
    assert d.n_intervals == 5 and d.cuts[0] == 0 and d.cuts[-1] == time[event].max()
    lab = d.transform(time, event)
    counts = np.bincount(lab.interval_index[lab.event], minlength=5)
    assert counts.max() - counts.min() <= 1


def test_quantile_with_ties_merges_and_warns_and_needs_events():
    time = np.array([1, 1, 1, 1, 2, 2, 3, 3.0])
    with pytest.warns(UserWarning, match="intervals instead of 6"):
        d = Discretizer.quantile(6).fit(time, np.ones(8))
    np.testing.assert_allclose(d.cuts, [0, 1, 2, 3])
    with pytest.raises(SurvivalInputError, match="no"):
        Discretizer.quantile(3).fit(time, np.zeros(8))


def test_unfitted_and_bad_configuration():
    with pytest.raises(ConfigError, match="not fitted"):
        _ = Discretizer.quantile(3).n_intervals
    with pytest.raises(ConfigError, match="strictly increasing"):
        Discretizer.from_cuts([0, 2, 2, 3])
    with pytest.raises(ConfigError, match="non-negative"):
        Discretizer.from_cuts([-1, 2])
    with pytest.raises(ConfigError, match="at least 2"):
        Discretizer.from_cuts([3])
    with pytest.raises(ConfigError, match="positive integer"):
        Discretizer.equidistant(0)
    with pytest.raises(UnknownOptionError, match="Did you mean 'quantile'"):
        Discretizer(4, scheme="quantiles")


@pytest.mark.parametrize(
    "disc",
    [
        Discretizer.from_cuts([0, 0.5, 1.25, 3]),
        Discretizer.equidistant(5),
        Discretizer.equidistant(5).fit([1.0, 9.0], [1, 0]),
        Discretizer.equidistant(3, horizon=36),
        Discretizer.quantile(4).fit(np.arange(1.0, 21.0), np.ones(20)),
    ],
    ids=["cuts", "equidistant_unfitted", "equidistant_fitted", "horizon", "quantile_fitted"],
)
def test_json_round_trip(disc):
    back = Discretizer.from_dict(json.loads(json.dumps(disc.to_dict())))
    assert back == disc and back.to_dict() == disc.to_dict()
    assert Discretizer.from_json(disc.to_json()) == disc
    if disc.is_fitted:
        t = np.array([0.1, 0.7, 2.0, 50.0])
        e = np.array([1, 0, 1, 1])
        a, b = disc.transform(t, e), back.transform(t, e)
        assert np.array_equal(a.interval_index, b.interval_index) and np.array_equal(
            a.event, b.event
        )


def test_from_dict_rejects_foreign_data():
    with pytest.raises(ConfigError, match="format"):
        Discretizer.from_dict({"cuts": [0, 1]})
    with pytest.raises(ConfigError, match="version"):
        Discretizer.from_dict({**MONTHLY.to_dict(), "version": 9})
