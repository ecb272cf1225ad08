"""Clinical-use tables at one horizon: a locked threshold, the decision curve, calibration groups.

The risk at the horizon is :math:`\\hat F_i(t) = 1 - \\hat S_i(t)` read from the model's survival
curve (:func:`~oncofusion.evaluation.predictions.surv_at`); higher is worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.evaluation._compute import horizon_problem, relay_warnings, warn_missing
from oncofusion.evaluation.predictions import PredictionSet, align_predictions, surv_at
from oncofusion.metrics.calibration import calibration_table
from oncofusion.metrics.decision import net_benefit
from oncofusion.metrics.thresholds import threshold_metrics, youden_threshold

__all__ = ["DEFAULT_THRESHOLDS", "calibration_curve_table", "decision_table", "threshold_table"]

#: Threshold probabilities of the decision table (the figure uses a finer grid).
DEFAULT_THRESHOLDS = np.round(np.arange(0.05, 0.55, 0.05), 2)

_MEASURES = ("sensitivity", "specificity", "ppv", "npv", "lr_positive", "lr_negative")
_NAN = float("nan")


def threshold_table(
    val_predset: PredictionSet,
    test_predset: PredictionSet,
    horizon: float,
    *,
    ci: float = 0.95,
    method: str = "exclude",
) -> pd.DataFrame:
    """Youden threshold fixed on the validation set and applied, locked, to the test set.

    The threshold :math:`c^*` maximises :math:`J = Se + Sp - 1` of :math:`\\hat F(t) \\ge c`
    on the **validation** predictions and outcomes only
    (:func:`~oncofusion.metrics.youden_threshold`); the test outcomes are used only to
    measure it (:func:`~oncofusion.metrics.threshold_metrics`), as in DMA-Net §2.5 (4 months).

    Parameters
    ----------
    val_predset, test_predset
        The same model's predictions on the validation and on the test set.
    horizon
        The time ``t`` defining the binary outcome (event by ``t``).
    ci
        Level of the Wilson (proportions) and log-method (likelihood ratios) intervals.
    method
        ``"exclude"`` (patients censored before ``t`` are dropped) or ``"ipcw"``.

    Returns
    -------
    pandas.DataFrame
        One row: ``model, horizon, threshold, youden_j_validation, n_validation, tp, fp, tn,
        fn, n_excluded`` and ``x, x_low, x_high`` for ``sensitivity, specificity, ppv, npv,
        lr_positive, lr_negative`` on the test set.

    References
    ----------
    Youden WJ. Cancer 1950;3:32-35. Wilson EB. JASA 1927;22:209-212. Simel DL et al.
    J Clin Epidemiol 1991;44:763-770.
    """
    for name, p in (("val_predset", val_predset), ("test_predset", test_predset)):
        if not isinstance(p, PredictionSet):
            raise ConfigError(f"'{name}' must be a PredictionSet, got {type(p).__name__}.")
    if val_predset.model != test_predset.model:
        raise ConfigError(
            f"the validation predictions are from model {val_predset.model!r} but the test "
            f"predictions from {test_predset.model!r}; a threshold is locked for one model."
        )
    h = float(horizon)
    row: dict[str, Any] = {
        "model": test_predset.model,
        "horizon": h,
        "threshold": _NAN,
        "youden_j_validation": _NAN,
        "n_validation": val_predset.n,
    }
    row.update(dict.fromkeys(("tp", "fp", "tn", "fn", "n_excluded"), _NAN))
    for m in _MEASURES:
        row.update({m: _NAN, f"{m}_low": _NAN, f"{m}_high": _NAN})
    out = pd.DataFrame([row])
    out.attrs.update(kind="threshold", time_unit=test_predset.time_unit, horizon=h, ci=ci)
    label = f"model {test_predset.model!r}, threshold at {h:g} {test_predset.time_unit}"
    why = horizon_problem(val_predset, h)
    if why is not None:
        warn_missing(val_predset, "the Youden threshold (validation set)", h, why)
        return out
    try:
        with relay_warnings(label):
            yt = youden_threshold(
                val_predset.time,
                val_predset.event,
                1.0 - surv_at(val_predset, [h])[:, 0],
                h,
                method=method,
            )
    except SurvivalInputError as exc:
        warn_missing(val_predset, "the Youden threshold (validation set)", h, str(exc).rstrip("."))
        return out
    out.loc[0, ["threshold", "youden_j_validation"]] = [yt.threshold, yt.youden_index]
    why = horizon_problem(test_predset, h, need_event=False)
    if why is not None:
        warn_missing(test_predset, "the threshold metrics (test set)", h, why)
        return out
    try:
        with relay_warnings(label):
            tm = threshold_metrics(
                test_predset.time,
                test_predset.event,
                1.0 - surv_at(test_predset, [h])[:, 0],
                h,
                yt.threshold,
                ci=ci,
                method=method,
            )
    except SurvivalInputError as exc:
        warn_missing(test_predset, "the threshold metrics (test set)", h, str(exc).rstrip("."))
        return out
    for k in ("tp", "fp", "tn", "fn", "n_excluded"):
        out.loc[0, k] = float(getattr(tm, k))
    for m in _MEASURES:
        est = getattr(tm, m)
        out.loc[0, [m, f"{m}_low", f"{m}_high"]] = [est.estimate, est.low, est.high]
    return out


def decision_table(predset: PredictionSet, horizon: float, thresholds: Any = None) -> pd.DataFrame:
    """Net benefit of the model, treat-all and treat-none at ``horizon`` (decision curve).

    .. math::

        NB(p_t) = \\frac{TP}{n} - \\frac{FP}{n} \\frac{p_t}{1 - p_t}

    with true and false positives estimated by Kaplan-Meier under censoring
    (:func:`~oncofusion.metrics.net_benefit`, Vickers et al. 2008).

    Parameters
    ----------
    thresholds
        Threshold probabilities in [0, 1); default :data:`DEFAULT_THRESHOLDS` (0.05 to 0.50).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, threshold, net_benefit, treat_all, treat_none``.

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M. BMC Med Inform Decis Mak 2008;8:53.
    """
    th = DEFAULT_THRESHOLDS if thresholds is None else np.atleast_1d(np.asarray(thresholds, float))
    h = float(horizon)
    cols = ["model", "threshold", "net_benefit", "treat_all", "treat_none"]
    why = horizon_problem(predset, h, need_event=False)
    nb = None
    if why is None:
        try:
            with relay_warnings(
                f"model {predset.model!r}, net benefit at {h:g} {predset.time_unit}"
            ):
                nb = net_benefit(
                    predset.time, predset.event, 1.0 - surv_at(predset, [h])[:, 0], h, th
                )
        except SurvivalInputError as exc:
            why = str(exc).rstrip(".")
    if nb is None:
        warn_missing(predset, "the net benefit", h, str(why))
        nb = pd.DataFrame({"threshold": th, "model": _NAN, "treat_all": _NAN, "treat_none": 0.0})
    out = pd.DataFrame(
        {
            "model": predset.model,
            "threshold": nb["threshold"],
            "net_benefit": nb["model"],
            "treat_all": nb["treat_all"],
            "treat_none": nb["treat_none"],
        },
        columns=cols,
    )
    out.attrs.update(kind="decision", time_unit=predset.time_unit, horizon=h)
    return out


def calibration_curve_table(
    predsets: Mapping[str, PredictionSet] | Sequence[PredictionSet],
    horizon: float,
    *,
    n_groups: int = 10,
    strategy: str = "quantile",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Observed (Kaplan-Meier) versus mean predicted risk at ``horizon`` by risk group.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, group, n, n_events, predicted, observed, observed_low,
        observed_high`` (:func:`~oncofusion.metrics.calibration_table` per model; the
        observed interval is Greenwood's on the log(-log) scale).

    References
    ----------
    Steyerberg EW. Clinical Prediction Models, 2nd ed., 2019, ch. 15.
    """
    preds = align_predictions(predsets)
    h = float(horizon)
    cols = [
        "model",
        "group",
        "n",
        "n_events",
        "predicted",
        "observed",
        "observed_low",
        "observed_high",
    ]
    parts = []
    for p in preds.values():
        why = horizon_problem(p, h, need_event=False)
        if why is None:
            g = min(int(n_groups), p.n)
            try:
                with relay_warnings(
                    f"model {p.model!r}, calibration groups at {h:g} {p.time_unit}"
                ):
                    tab = calibration_table(
                        p.time,
                        p.event,
                        1.0 - surv_at(p, [h])[:, 0],
                        h,
                        n_groups=g,
                        strategy=strategy,
                        ci=ci,
                    )
                parts.append(tab.assign(model=p.model)[cols])
                continue
            except SurvivalInputError as exc:
                why = str(exc).rstrip(".")
        warn_missing(p, "the calibration curve", h, why)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    first = next(iter(preds.values()))
    out.attrs.update(kind="calibration", time_unit=first.time_unit, horizon=h, ci=ci)
    return out
