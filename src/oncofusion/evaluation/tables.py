"""Performance tables of an evaluation (DMA-Net Tables 3, 4 and 5, paired comparisons, seeds).

Every table is a :class:`pandas.DataFrame` with snake_case columns: a metric ``x`` with a
bootstrap interval comes as ``x, x_low, x_high``. Each cell is the corresponding function of
:mod:`oncofusion.metrics` called on the test set (see
:func:`oncofusion.evaluation._compute.metric_call`); undefined cells are NaN with an
:class:`~oncofusion.evaluation._compute.EvaluationWarning` naming the model, metric and horizon.
``DataFrame.attrs`` carries the horizon, time unit and integration ranges used by the Markdown
renderer (:mod:`oncofusion.evaluation.markdown`). The clinical tables (thresholds, decision
curve, calibration groups) live in :mod:`oncofusion.evaluation.clinical` and are re-exported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.evaluation._compute import (
    METRICS,
    horizon_problem,
    integral_times,
    metric_ci,
    metric_paired,
    metric_value,
    relay_warnings,
    warn_missing,
)
from oncofusion.evaluation.clinical import (
    calibration_curve_table,
    decision_table,
    threshold_table,
)
from oncofusion.evaluation.predictions import PredictionSet, align_predictions, surv_at
from oncofusion.metrics.calibration import absolute_calibration_error, calibration_slope_intercept

__all__ = [
    "ablation_table",
    "calibration_curve_table",
    "comparison_table",
    "decision_table",
    "seeds_table",
    "summary_table",
    "threshold_table",
    "time_table",
]

PredSets = Mapping[str, PredictionSet] | Sequence[PredictionSet]
_NAN = float("nan")


def _attrs(df: pd.DataFrame, kind: str, pred: PredictionSet, **extra: Any) -> pd.DataFrame:
    df.attrs.update({"kind": kind, "time_unit": pred.time_unit, **extra})
    return df


def _range(pred: PredictionSet, metric: str, horizon: float) -> list[float]:
    t = integral_times(pred, metric, horizon)
    return [float(t[0]), float(t[-1])] if t.size else []


def _events_by(pred: PredictionSet, horizon: float) -> int:
    return int(np.sum(pred.event & (pred.time <= horizon)))


def summary_table(
    predsets: PredSets,
    horizon: float,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Key metrics per model with patient-level bootstrap intervals (DMA-Net Table 3).

    Columns: ``model, n, n_events`` (events by ``horizon``), then ``x, x_low, x_high`` for

    * ``auc``: cumulative/dynamic AUC of :math:`1 - S(t)` at ``horizon`` (IPCW);
    * ``iauc``: its integrated mean over the model's horizons up to ``horizon``;
    * ``uno_c``: Uno's C-index of the overall ``risk``, truncated at :math:`\\tau` = ``horizon``;
    * ``brier``: IPCW Brier score at ``horizon``;
    * ``ibs``: integrated Brier score over the grid points up to ``horizon``.

    All use ``train_time``/``train_event`` as the censoring reference. The same ``seed``
    draws the same resampled patients for every metric and model.

    References
    ----------
    Uno H et al. JASA 2007;102:527-537 (AUC, C). Graf E et al. Stat Med 1999;18:2529-2545
    (Brier, IBS). Efron B, Tibshirani RJ. An Introduction to the Bootstrap, 1993.
    """
    preds = align_predictions(predsets)
    h = float(horizon)
    rows = []
    for p in preds.values():
        row: dict[str, Any] = {"model": p.model, "n": p.n, "n_events": _events_by(p, h)}
        for m in METRICS:
            est, low, high = metric_ci(p, m, h, n_resamples=n_resamples, seed=seed, ci=ci)
            row.update({m: est, f"{m}_low": low, f"{m}_high": high})
        rows.append(row)
    first = next(iter(preds.values()))
    return _attrs(
        pd.DataFrame(rows),
        "summary",
        first,
        horizon=h,
        ci=ci,
        iauc_range=_range(first, "iauc", h),
        ibs_range=_range(first, "ibs", h),
    )


def _calibration_at(p: PredictionSet, t: float) -> dict[str, float]:
    out = dict.fromkeys(("ace_median", "ace_q25", "ace_q75", "cal_slope", "cal_intercept"), _NAN)
    why = horizon_problem(p, t)
    if why is not None:
        warn_missing(p, "calibration", t, why)
        return out
    risk = 1.0 - surv_at(p, [t])[:, 0]
    label = f"model {p.model!r}, calibration at {t:g} {p.time_unit}"
    try:
        with relay_warnings(label):
            ace = absolute_calibration_error(p.time, p.event, risk, t)
        out.update(ace_median=ace.median, ace_q25=ace.q25, ace_q75=ace.q75)
    except SurvivalInputError as exc:
        warn_missing(p, "the absolute calibration error", t, str(exc).rstrip("."))
    try:
        with relay_warnings(label):
            cal = calibration_slope_intercept(p.time, p.event, risk, t)
        out.update(cal_slope=cal.slope, cal_intercept=cal.intercept)
    except SurvivalInputError as exc:
        warn_missing(p, "the calibration slope", t, str(exc).rstrip("."))
    return out


def time_table(
    predset: PredictionSet,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Discrimination and calibration at each horizon of one model (DMA-Net Table 4).

    Columns: ``model, time, n_events`` (events by ``time``), ``auc, auc_low, auc_high``
    (IPCW AUC of :math:`1 - S(t)`), ``brier, brier_low, brier_high`` (IPCW Brier score),
    ``ace_median, ace_q25, ace_q75`` (per-patient absolute calibration error
    :math:`|\\hat F_i(t) - \\tilde F_i(t)|`, :func:`~oncofusion.metrics.absolute_calibration_error`)
    and ``cal_slope, cal_intercept`` (:func:`~oncofusion.metrics.calibration_slope_intercept`).

    References
    ----------
    Austin PC, Harrell FE Jr, van Klaveren D. Stat Med 2020;39:2714-2742 (calibration error).
    """
    if not isinstance(predset, PredictionSet):
        raise ConfigError(f"time_table expects one PredictionSet, got {type(predset).__name__}.")
    rows = []
    for t in predset.horizons.tolist():
        row: dict[str, Any] = {
            "model": predset.model,
            "time": t,
            "n_events": _events_by(predset, t),
        }
        for m in ("auc", "brier"):
            est, low, high = metric_ci(predset, m, t, n_resamples=n_resamples, seed=seed, ci=ci)
            row.update({m: est, f"{m}_low": low, f"{m}_high": high})
        row.update(_calibration_at(predset, t))
        rows.append(row)
    return _attrs(pd.DataFrame(rows), "time", predset, ci=ci)


def _reference(preds: Mapping[str, PredictionSet], reference: str | None) -> str:
    if reference is None:
        return next(iter(preds))
    if reference not in preds:
        raise ConfigError(
            f"reference model {reference!r} is not among the models {list(preds)}. Fix: pass "
            "one of those names."
        )
    return reference


def ablation_table(
    predsets: PredSets,
    reference: str | None,
    horizon: float,
    *,
    descriptions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Ablation settings against the full model (DMA-Net Table 5).

    Columns: ``model, iauc, delta_iauc`` (:math:`iAUC - iAUC_{ref}`), ``auc, delta_auc``
    (at ``horizon``), ``brier, delta_brier`` (at ``horizon``) and ``description`` (from
    ``descriptions``; "Reference" for the reference). Point estimates on the test set, the
    same numbers as :func:`summary_table`; for intervals of the differences use
    :func:`comparison_table`.
    """
    preds = align_predictions(predsets)
    ref = _reference(preds, reference)
    h = float(horizon)
    vals = {
        name: {m: metric_value(p, m, h) for m in ("iauc", "auc", "brier")}
        for name, p in preds.items()
    }
    rows = []
    for name in [ref] + [k for k in preds if k != ref]:
        v, r = vals[name], vals[ref]
        desc = (descriptions or {}).get(name, "Reference" if name == ref else "")
        rows.append(
            {
                "model": name,
                "iauc": v["iauc"],
                "delta_iauc": v["iauc"] - r["iauc"],
                "auc": v["auc"],
                "delta_auc": v["auc"] - r["auc"],
                "brier": v["brier"],
                "delta_brier": v["brier"] - r["brier"],
                "description": desc,
            }
        )
    first = preds[ref]
    return _attrs(
        pd.DataFrame(rows),
        "ablation",
        first,
        horizon=h,
        reference=ref,
        iauc_range=_range(first, "iauc", h),
    )


def comparison_table(
    predsets: PredSets,
    reference: str | None,
    horizon: float,
    metric: str = "auc",
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Paired bootstrap comparison of each model with the reference on one metric.

    Both models are evaluated on the *same* resampled patients
    (:func:`~oncofusion.metrics.paired_bootstrap`); the difference
    :math:`d = m(\\text{model}) - m(\\text{reference})` gets a percentile interval and the
    two-sided p-value :math:`(1 + \\#\\{|d^*_b - \\hat d| \\ge |\\hat d|\\}) / (B + 1)`.

    Parameters
    ----------
    metric
        One of ``"auc", "iauc", "uno_c", "brier", "ibs"`` (see :func:`summary_table`).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, reference, metric, estimate, reference_estimate, diff, diff_low,
        diff_high, p_value``, one row per model other than the reference.

    References
    ----------
    Efron B, Tibshirani RJ. An Introduction to the Bootstrap, ch. 16, 1993.
    """
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {list(METRICS)}.")
    preds = align_predictions(predsets)
    ref = _reference(preds, reference)
    h = float(horizon)
    rows = []
    for name, p in preds.items():
        if name == ref:
            continue
        res = metric_paired(p, preds[ref], metric, h, n_resamples=n_resamples, seed=seed, ci=ci)
        rows.append({"model": name, "reference": ref, "metric": metric, **res})
    cols = [
        "model",
        "reference",
        "metric",
        "estimate",
        "reference_estimate",
        "diff",
        "diff_low",
        "diff_high",
        "p_value",
    ]
    return _attrs(pd.DataFrame(rows, columns=cols), "comparison", preds[ref], horizon=h, ci=ci)


def seeds_table(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Mean and standard deviation (ddof = 1) of each model's metrics over training seeds.

    Parameters
    ----------
    tables
        Two or more tables of the same kind (e.g. :func:`summary_table` of the models trained
        with different seeds), each with a ``model`` column.

    Returns
    -------
    pandas.DataFrame
        ``model, n_seeds`` then ``x_mean, x_sd`` for every numeric point-estimate column
        ``x`` (interval bounds ``*_low``/``*_high`` and counts ``n``/``n_events`` are left out:
        their mean is not an interval).
    """
    tables = list(tables)
    if len(tables) < 2:
        raise ConfigError(f"seeds_table needs the tables of at least two seeds, got {len(tables)}.")
    for i, t in enumerate(tables):
        if "model" not in t.columns:
            raise ConfigError(f"table {i} has no 'model' column; pass the output of summary_table.")
    stacked = pd.concat(tables, ignore_index=True)
    skip = {"n", "n_events", "time"}
    cols = [
        c
        for c in stacked.columns
        if c not in skip
        and not c.endswith(("_low", "_high"))
        and pd.api.types.is_numeric_dtype(stacked[c])
        and not pd.api.types.is_bool_dtype(stacked[c])
    ]
    order = list(dict.fromkeys(stacked["model"]))
    grouped = stacked.groupby("model", sort=False)
    out = pd.DataFrame({"model": order, "n_seeds": grouped.size().reindex(order).to_numpy()})
    for c in cols:
        out[f"{c}_mean"] = grouped[c].mean().reindex(order).to_numpy()
        out[f"{c}_sd"] = grouped[c].std(ddof=1).reindex(order).to_numpy()
    out.attrs.update({k: v for k, v in tables[0].attrs.items()})
    out.attrs["kind"] = "seeds"
    return out
