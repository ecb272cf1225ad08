"""PredictionSet validation, interpolation of S(t) and alignment of models on patients."""

from __future__ import annotations

import numpy as np
import pytest
from _eval_cases import GRID, predset

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.evaluation import PredictionSet, align_predictions, surv_at


def _tiny(**over: object) -> PredictionSet:
    kw: dict[str, object] = {
        "model": "m",
        "patient_ids": ["a", "b"],
        "time": [2.0, 5.0],
        "event": [1, 0],
        "surv": [[0.9, 0.6, 0.5], [0.8, 0.8, 0.7]],
        "grid": [1.0, 2.0, 4.0],
    }
    kw.update(over)
    return PredictionSet(**kw)  # type: ignore[arg-type]


def test_surv_at_grid_points_are_exact() -> None:
    p = predset("m", 0.3)
    np.testing.assert_allclose(surv_at(p, GRID), p.surv, rtol=0, atol=0)
    np.testing.assert_allclose(surv_at(p, GRID, method="step"), p.surv, rtol=0, atol=0)


def test_surv_at_between_points_by_hand() -> None:
    p = _tiny()
    # exponential: S(1.5) = S(1)^0.5 S(2)^0.5; S(3) = S(2)^0.5 S(4)^0.5; S(0.5) = 1^0.5 S(1)^0.5
    got = surv_at(p, [0.0, 0.5, 1.5, 3.0])
    want = np.array(
        [
            [1.0, 0.9**0.5, (0.9 * 0.6) ** 0.5, (0.6 * 0.5) ** 0.5],
            [1.0, 0.8**0.5, 0.8, (0.8 * 0.7) ** 0.5],
        ]
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    step = surv_at(p, [0.5, 1.5, 3.0, 4.0], method="step")
    np.testing.assert_allclose(step, [[1.0, 0.9, 0.6, 0.5], [1.0, 0.8, 0.8, 0.7]])


def test_surv_at_past_grid_names_the_grid() -> None:
    with pytest.raises(SurvivalInputError, match="up to 4 months"):
        surv_at(_tiny(), [5.0])


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"surv": [[0.5, 0.6, 0.4], [0.8, 0.8, 0.7]]}, "non-increasing"),
        ({"surv": [[0.9, 0.6], [0.8, 0.8]]}, "shape"),
        ({"surv": [[1.2, 0.6, 0.5], [0.8, 0.8, 0.7]]}, r"\[0, 1\]"),
        ({"patient_ids": ["a", "a"]}, "duplicates"),
        ({"grid": [1.0, 1.0, 4.0]}, "strictly increasing"),
        ({"train_time": [1.0, 2.0]}, "both 'train_time' and 'train_event'"),
        ({"horizons": [4.0, 2.0]}, "strictly increasing"),
        ({"risk": [0.1]}, "one value per patient"),
    ],
)
def test_prediction_set_rejects_bad_input(over: dict[str, object], match: str) -> None:
    with pytest.raises(SurvivalInputError, match=match):
        _tiny(**over)


def test_default_risk_is_one_minus_s_at_last_horizon() -> None:
    p = predset("m", 0.3, horizons=[3.0, 6.0])
    np.testing.assert_allclose(p.overall_risk(), 1.0 - p.surv[:, 5])
    q = _tiny(risk=[2.0, -1.0])
    np.testing.assert_allclose(q.overall_risk(), [2.0, -1.0])


def test_align_reorders_to_the_first_model() -> None:
    a = predset("a", 0.2)
    b = predset("b", 0.9)
    perm = np.random.default_rng(0).permutation(a.n)
    shuffled = PredictionSet(
        model="b",
        patient_ids=b.patient_ids[perm],
        time=b.time[perm],
        event=b.event[perm],
        surv=b.surv[perm],
        grid=b.grid,
        horizons=b.horizons,
        train_time=b.train_time,
        train_event=b.train_event,
    )
    out = align_predictions([a, shuffled])
    np.testing.assert_array_equal(out["b"].patient_ids, a.patient_ids)
    np.testing.assert_allclose(out["b"].surv, b.surv)


def test_align_rejects_different_patients_or_outcomes() -> None:
    a = predset("a", 0.2)
    other = predset("b", 0.2, data_seed=2)
    with pytest.raises(SurvivalInputError, match="different outcomes"):
        align_predictions([a, other])
    fewer = PredictionSet(
        model="c",
        patient_ids=a.patient_ids[:-1],
        time=a.time[:-1],
        event=a.event[:-1],
        surv=a.surv[:-1],
        grid=a.grid,
    )
    with pytest.raises(SurvivalInputError, match="different patients"):
        align_predictions([a, fewer])
    with pytest.raises(ConfigError, match="unique"):
        align_predictions([a, a])
