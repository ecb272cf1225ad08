"""One metric of one model at one horizon: point estimate, bootstrap interval, paired difference.

Every table calls the metrics of :mod:`oncofusion.metrics` through :func:`metric_call`, so a
table cell is exactly ``metric_fn(time, event, prediction, **kwargs)`` and its interval is
``bootstrap(metric_fn, time, event, prediction, **kwargs)`` on the same arguments. A metric that
is undefined for legal data (a horizon past follow-up, no event by the horizon) is reported as
missing with an :class:`EvaluationWarning` that names the model, the metric and the horizon.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.evaluation.predictions import PredictionSet, surv_at
from oncofusion.metrics.auc import time_dependent_auc
from oncofusion.metrics.resampling import bootstrap, paired_bootstrap
from oncofusion.metrics.brier import brier_score, integrated_brier_score
from oncofusion.metrics.concordance import concordance_index_uno

__all__ = [
    "METRICS",
    "EvaluationWarning",
    "MetricCall",
    "Unavailable",
    "horizon_problem",
    "integral_times",
    "metric_call",
    "metric_ci",
    "metric_paired",
    "metric_value",
    "relay_warnings",
    "warn_missing",
]

#: Metric keys and their direction (True: higher is better).
METRICS: dict[str, bool] = {"auc": True, "iauc": True, "uno_c": True, "brier": False, "ibs": False}

_NAMES = {
    "auc": "AUC",
    "iauc": "iAUC",
    "uno_c": "Uno's C-index",
    "brier": "Brier score",
    "ibs": "IBS",
}


class EvaluationWarning(UserWarning):
    """A table cell is missing or rests on fewer data than asked for (e.g. dropped resamples)."""


class Unavailable(Exception):
    """Internal: the metric is undefined for these data; ``str(exc)`` says why."""


@dataclass(frozen=True)
class MetricCall:
    """The exact call of an :mod:`oncofusion.metrics` function that gives one table cell."""

    fn: Callable[..., Any]
    time: np.ndarray
    event: np.ndarray
    prediction: np.ndarray
    kwargs: dict[str, Any]

    def value(self) -> float:
        """The metric on the full data, as a float."""
        return _scalar(self.fn(self.time, self.event, self.prediction, **self.kwargs))


def _scalar(result: Any) -> float:
    if isinstance(result, np.ndarray):
        return float(result.reshape(-1)[0])
    return float(result)


def horizon_problem(pred: PredictionSet, horizon: float, *, need_event: bool = True) -> str | None:
    """Why a metric at ``horizon`` cannot be computed for ``pred`` (None if it can).

    ``need_event``: the metric needs an event by the horizon (the AUC does, the Brier score
    does not).
    """
    u = pred.time_unit
    if horizon >= pred.time.max():
        return f"it is at or past the end of test follow-up ({pred.time.max():g} {u})"
    if horizon > pred.grid[-1] + 1e-12:
        return f"it is past the model's prediction grid (last point {pred.grid[-1]:g} {u})"
    if horizon < pred.time.min():
        return f"it is before the first test follow-up time ({pred.time.min():g} {u})"
    if need_event and not (pred.event & (pred.time <= horizon)).any():
        return "no test patient had an event by then"
    return None


def _integral_candidates(pred: PredictionSet, metric: str, horizon: float) -> np.ndarray:
    pts = pred.horizons if metric == "iauc" else pred.grid
    return pts[(pts <= horizon + 1e-12) & (pts > 0)]


def integral_times(pred: PredictionSet, metric: str, horizon: float) -> np.ndarray:
    """Time points of an integrated metric up to ``horizon``, within follow-up.

    ``"iauc"`` uses the model's horizons, ``"ibs"`` its grid points; points at or past the
    end of test follow-up, before its start, or (for the AUC) before the first event are
    left out.
    """
    need = metric == "iauc"
    pts = _integral_candidates(pred, metric, horizon)
    keep = [horizon_problem(pred, float(t), need_event=need) is None for t in pts]
    return pts[np.asarray(keep, dtype=bool)] if len(pts) else pts


def metric_call(pred: PredictionSet, metric: str, horizon: float) -> MetricCall:
    """The metric call for ``metric`` in :data:`METRICS` at ``horizon``.

    * ``auc``: :func:`time_dependent_auc` of :math:`1 - S(t)` at ``times=[horizon]``;
    * ``iauc``: its ``mean_auc`` over the model's horizons up to ``horizon``;
    * ``uno_c``: :func:`concordance_index_uno` of the overall ``risk`` with ``tau=horizon``;
    * ``brier``: :func:`brier_score` of :math:`S(t)` at ``times=[horizon]``;
    * ``ibs``: :func:`integrated_brier_score` over the grid points up to ``horizon``.

    All pass ``train_time``/``train_event`` as the censoring reference.

    Raises
    ------
    Unavailable
        The metric is undefined here (the message says why).
    """
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {list(METRICS)}.")
    h = float(horizon)
    kw: dict[str, Any] = dict(pred.train)
    if metric in ("auc", "brier"):
        why = horizon_problem(pred, h, need_event=metric == "auc")
        if why is not None:
            raise Unavailable(why)
        s = surv_at(pred, [h])
        if metric == "auc":
            return MetricCall(
                time_dependent_auc, pred.time, pred.event, 1.0 - s[:, 0], {"times": [h], **kw}
            )
        return MetricCall(brier_score, pred.time, pred.event, s, {"times": [h], **kw})
    if metric == "uno_c":
        return MetricCall(
            concordance_index_uno, pred.time, pred.event, pred.overall_risk(), {"tau": h, **kw}
        )
    times = integral_times(pred, metric, h)
    if metric == "iauc":
        if times.size == 0:
            raise Unavailable(
                "none of the model's horizons up to it lies within test follow-up and after "
                "the first event"
            )
        return MetricCall(
            time_dependent_auc,
            pred.time,
            pred.event,
            1.0 - surv_at(pred, times),
            {"times": times, **kw},
        )
    if times.size < 2:
        raise Unavailable("fewer than two grid points up to it lie within follow-up")
    return MetricCall(
        integrated_brier_score, pred.time, pred.event, surv_at(pred, times), {"times": times, **kw}
    )


def warn_missing(pred: PredictionSet, what: str, horizon: float, reason: str) -> None:
    """Warn that ``what`` at ``horizon`` is reported as missing for ``pred``."""
    warnings.warn(
        f"model {pred.model!r}: {what} at horizon {horizon:g} {pred.time_unit} is reported as "
        f"missing: {reason}.",
        EvaluationWarning,
        stacklevel=3,
    )


@contextlib.contextmanager
def relay_warnings(prefix: str) -> Iterator[None]:
    """Re-emit warnings raised inside the block as :class:`EvaluationWarning` with context."""
    pending: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                pending = list(caught)
    finally:
        _reemit(pending, prefix)


def _reemit(pending: list[warnings.WarningMessage], prefix: str) -> None:
    seen: set[str] = set()
    for w in pending:
        msg = str(w.message)
        if msg in seen:
            continue
        seen.add(msg)
        if isinstance(w.message, EvaluationWarning):
            warnings.warn(w.message, stacklevel=4)
        else:
            warnings.warn(f"{prefix}: {msg}", EvaluationWarning, stacklevel=4)


def _fmt(values: Any) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in values) + "]"


def _label(pred: PredictionSet, metric: str, horizon: float) -> str:
    return f"model {pred.model!r}, {_NAMES[metric]} at horizon {horizon:g} {pred.time_unit}"


def metric_value(pred: PredictionSet, metric: str, horizon: float) -> float:
    """The metric on the full test set, or NaN with an :class:`EvaluationWarning`."""
    try:
        call = metric_call(pred, metric, horizon)
        with relay_warnings(_label(pred, metric, horizon)):
            value = call.value()
    except (Unavailable, SurvivalInputError) as exc:
        warn_missing(pred, _NAMES[metric], horizon, str(exc).rstrip("."))
        return float("nan")
    if metric in ("iauc", "ibs"):
        used = call.kwargs["times"]
        left = [t for t in _integral_candidates(pred, metric, horizon) if t not in used]
        if left:
            warnings.warn(
                f"model {pred.model!r}: {_NAMES[metric]} up to {horizon:g} {pred.time_unit} "
                f"integrates over {_fmt(used)} {pred.time_unit}; {_fmt(left)} left out "
                "(outside test follow-up or before the first event).",
                EvaluationWarning,
                stacklevel=2,
            )
    return value


def metric_ci(
    pred: PredictionSet,
    metric: str,
    horizon: float,
    *,
    n_resamples: int,
    seed: int,
    ci: float = 0.95,
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the metric and its patient-level bootstrap interval.

    The estimate is the metric on the full data (identical to :func:`metric_value`); a
    metric that is undefined gives three NaN, an interval that cannot be formed gives
    NaN bounds; both with an :class:`EvaluationWarning`.
    """
    est = metric_value(pred, metric, horizon)
    if not np.isfinite(est):
        return est, float("nan"), float("nan")
    call = metric_call(pred, metric, horizon)
    try:
        with relay_warnings(_label(pred, metric, horizon)):
            res = bootstrap(
                call.fn,
                call.time,
                call.event,
                call.prediction,
                n_resamples=n_resamples,
                ci=ci,
                seed=seed,
                **call.kwargs,
            )
    except SurvivalInputError as exc:
        warn_missing(
            pred, f"the bootstrap interval of {_NAMES[metric]}", horizon, str(exc).rstrip(".")
        )
        return est, float("nan"), float("nan")
    return est, _scalar(np.asarray(res.low)), _scalar(np.asarray(res.high))


def metric_paired(
    pred: PredictionSet,
    ref: PredictionSet,
    metric: str,
    horizon: float,
    *,
    n_resamples: int,
    seed: int,
    ci: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap of ``metric(pred) - metric(ref)`` on the same resampled patients.

    Returns ``estimate, reference_estimate, diff, diff_low, diff_high, p_value`` (NaN, with
    an :class:`EvaluationWarning`, where the metric is undefined for either model).
    """
    est = metric_value(pred, metric, horizon)
    ref_est = metric_value(ref, metric, horizon)
    out = {
        "estimate": est,
        "reference_estimate": ref_est,
        "diff": est - ref_est,
        "diff_low": float("nan"),
        "diff_high": float("nan"),
        "p_value": float("nan"),
    }
    if not (np.isfinite(est) and np.isfinite(ref_est)):
        return out
    a, b = metric_call(pred, metric, horizon), metric_call(ref, metric, horizon)
    if metric in ("iauc", "ibs") and not np.array_equal(a.kwargs["times"], b.kwargs["times"]):
        warn_missing(
            pred,
            f"the paired comparison of {_NAMES[metric]} with {ref.model!r}",
            horizon,
            "the two models are integrated over different time points",
        )
        return out
    if not _same_train(pred, ref):
        warn_missing(
            pred,
            f"the paired comparison of {_NAMES[metric]} with {ref.model!r}",
            horizon,
            "the two models use different censoring references (train data)",
        )
        return out
    try:
        with relay_warnings(_label(pred, metric, horizon)):
            res = paired_bootstrap(
                a.fn,
                a.time,
                a.event,
                a.prediction,
                b.prediction,
                n_resamples=n_resamples,
                ci=ci,
                seed=seed,
                **a.kwargs,
            )
    except SurvivalInputError as exc:
        warn_missing(
            pred, f"the paired comparison of {_NAMES[metric]}", horizon, str(exc).rstrip(".")
        )
        return out
    out.update(
        diff=_scalar(np.asarray(res.diff)),
        diff_low=_scalar(np.asarray(res.low)),
        diff_high=_scalar(np.asarray(res.high)),
        p_value=_scalar(np.asarray(res.p_value)),
    )
    return out


def _same_train(a: PredictionSet, b: PredictionSet) -> bool:
    if a.train_time is None or b.train_time is None:
        return a.train_time is None and b.train_time is None
    return bool(
        np.array_equal(a.train_time, b.train_time) and np.array_equal(a.train_event, b.train_event)
    )
