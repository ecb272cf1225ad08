"""Patient-level bootstrap confidence intervals for any metric, vectorised for the core ones.

A resample draws ``n`` patients with replacement. For :func:`concordance_index`,
:func:`concordance_index_uno`, :func:`time_dependent_auc`, :func:`brier_score` and
:func:`integrated_brier_score`, a resample is represented by its *case weights* (how often each
patient was drawn) and all resamples are evaluated together as matrix operations; the result is
the same as calling the metric on each resampled data set (``vectorised=False`` does exactly
that, and the tests check that both agree). Resample ``b`` is drawn from its own generator
spawned from ``seed``, so the same seed gives the same resamples for every metric and model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from oncofusion.errors import SurvivalInputError, UnknownOptionError
from oncofusion.metrics._resample import (
    default_statistic,
    jackknife_blocks,
    replicates,
    resample_indices,
)
from oncofusion.survival.target import check_survival_target

__all__ = ["BootstrapResult", "PairedBootstrapResult", "bootstrap", "paired_bootstrap"]

_METHODS = ("percentile", "bca")


@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap confidence interval.

    Attributes
    ----------
    estimate
        The statistic on the full data (float, or an array for per-time metrics).
    low, high
        The interval bounds, same shape as ``estimate``.
    resamples
        The statistic on each resample where it was defined, shape (n_valid, ...).
    n_failed
        Resamples where the metric was undefined (e.g. no event drawn); they are dropped.
    """

    estimate: Any
    low: Any
    high: Any
    resamples: np.ndarray
    n_failed: int = 0


@dataclass(frozen=True)
class PairedBootstrapResult:
    """A bootstrap comparison of two models on the same resamples.

    Attributes
    ----------
    diff
        ``statistic(pred_a) - statistic(pred_b)`` on the full data.
    low, high
        Percentile interval of the difference.
    p_value
        Two-sided p-value for "no difference", from the bootstrap distribution shifted to
        the null: :math:`(1 + \\#\\{|d^*_b - \\hat d| \\ge |\\hat d|\\}) / (B + 1)`.
    resamples
        The difference on each resample where both were defined.
    n_failed
        Resamples dropped because either model's metric was undefined.
    """

    diff: Any
    low: Any
    high: Any
    p_value: Any
    resamples: np.ndarray
    n_failed: int = 0


# ---------------------------------------------------------------------------------------------
# intervals


def _check_options(n_resamples: int, ci: float, method: str) -> None:
    if int(n_resamples) != n_resamples or n_resamples < 2:
        raise SurvivalInputError(
            f"'n_resamples' must be an integer >= 2, got {n_resamples!r}. Fix: use e.g. 1000."
        )
    if not 0 < ci < 1:
        raise SurvivalInputError(f"'ci' must lie strictly between 0 and 1, got {ci!r} (e.g. 0.95).")
    if method not in _METHODS:
        raise UnknownOptionError(
            f"unknown bootstrap 'method' {method!r}; choose one of {list(_METHODS)}."
        )


def _valid_rows(reps: np.ndarray) -> np.ndarray:
    return np.isfinite(reps.reshape(reps.shape[0], -1)).all(axis=1)


def _acceleration(jack: np.ndarray) -> np.ndarray:
    """BCa acceleration from jackknife values (n_groups, ...):

    .. math:: a = \\frac{\\sum_g (\\bar\\theta - \\theta_{(g)})^3}
                       {6 [\\sum_g (\\bar\\theta - \\theta_{(g)})^2]^{3/2}}
    """
    jack = jack[_valid_rows(jack)]
    u = jack.mean(axis=0) - jack
    num = (u**3).sum(axis=0)
    den = 6.0 * (u**2).sum(axis=0) ** 1.5
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _bca_levels(estimate: Any, reps: np.ndarray, a: np.ndarray, ci: float) -> np.ndarray:
    """Adjusted quantile levels (2, ...) of BCa (Efron 1987); NaN where degenerate."""
    est = np.asarray(estimate, dtype=np.float64)
    b = reps.shape[0]
    prop = ((reps < est).sum(axis=0) + 0.5 * (reps == est).sum(axis=0)) / b
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = ndtri(prop)
        alphas = np.array([(1 - ci) / 2, 1 - (1 - ci) / 2])
        z = ndtri(alphas).reshape((2,) + (1,) * est.ndim)
        levels = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
    return levels


def _interval(
    estimate: Any, reps: np.ndarray, ci: float, method: str, a: np.ndarray | None
) -> tuple[Any, Any]:
    alphas = np.array([(1 - ci) / 2, 1 - (1 - ci) / 2])
    pct = np.quantile(reps, alphas, axis=0)
    if method == "percentile" or a is None:
        lo, hi = pct[0], pct[1]
    else:
        levels = _bca_levels(estimate, reps, a, ci)
        ok = np.isfinite(levels).all(axis=0)
        if not np.all(ok):
            warnings.warn(
                "BCa interval is degenerate (all resamples on one side of the estimate); "
                "the percentile interval is reported instead.",
                UserWarning,
                stacklevel=3,
            )
        flat_lv = np.where(ok, levels, alphas.reshape((2,) + (1,) * (levels.ndim - 1)))
        if flat_lv.ndim == 1:
            lo = np.quantile(reps, flat_lv[0])
            hi = np.quantile(reps, flat_lv[1])
        else:
            cols = reps.reshape(reps.shape[0], -1)
            lv = flat_lv.reshape(2, -1)
            lo = np.array([np.quantile(cols[:, j], lv[0, j]) for j in range(cols.shape[1])])
            hi = np.array([np.quantile(cols[:, j], lv[1, j]) for j in range(cols.shape[1])])
            lo, hi = lo.reshape(levels.shape[1:]), hi.reshape(levels.shape[1:])
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return np.asarray(lo), np.asarray(hi)


def _warn_failed(n_failed: int, total: int, name: str) -> None:
    if n_failed:
        warnings.warn(
            f"{n_failed} of {total} bootstrap resamples gave an undefined {name} (for example "
            "no event or no comparable pair was drawn) and were dropped; the interval describes "
            "the remaining ones.",
            UserWarning,
            stacklevel=3,
        )


def bootstrap(
    metric_fn: Callable[..., Any],
    time: Any,
    event: Any,
    *predictions: Any,
    n_resamples: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    seed: int = 0,
    statistic: Callable[[Any], Any] | None = None,
    vectorised: bool = True,
    **kwargs: Any,
) -> BootstrapResult:
    """Patient-level bootstrap confidence interval of a metric.

    Each resample draws ``n`` patients with replacement and evaluates
    ``metric_fn(time*, event*, *predictions*, **kwargs)``. With :math:`\\hat\\theta^*_{(q)}`
    the q-quantile of the resampled statistic, the percentile interval is
    :math:`[\\hat\\theta^*_{(\\alpha/2)}, \\hat\\theta^*_{(1-\\alpha/2)}]` and BCa replaces
    each level :math:`q` by

    .. math::

        q' = \\Phi\\left(z_0 + \\frac{z_0 + z_q}{1 - a (z_0 + z_q)}\\right), \\quad
        z_0 = \\Phi^{-1}\\left(\\#\\{\\hat\\theta^*_b < \\hat\\theta\\} / B\\right)

    with the acceleration :math:`a` from the jackknife.

    Arguments in ``kwargs`` (time
    points, ``train_time``/``train_event``, ``tau``, ...) are not resampled. For the core
    metrics of :mod:`oncofusion.metrics` all resamples are computed at once from case weights.

    Parameters
    ----------
    metric_fn
        A metric, e.g. :func:`concordance_index` or :func:`brier_score`.
    time, event
        The evaluation data.
    *predictions
        Per-patient predictions (``risk``: higher is worse; ``surv``: survival
        probabilities), resampled with the patients.
    n_resamples, ci, seed
        Number of resamples, interval level, and the seed that fixes the resamples.
    method : {"percentile", "bca"}
        Percentile interval, or bias-corrected and accelerated (BCa). The BCa acceleration
        uses the delete-one jackknife, or a delete-d jackknife over 1000 random groups when
        there are more than 1000 patients.
    statistic
        Maps the metric's result to the number(s) to summarise. Default: ``float(result)``
        (the C-index ``value``, ``mean_auc``, the IBS) or the per-time array (Brier score).
        For the per-time AUC pass ``statistic=lambda r: r.auc``.
    vectorised
        Use the case-weight fast path where one exists (same result, much faster).
    **kwargs
        Passed to ``metric_fn`` unchanged.

    Returns
    -------
    BootstrapResult
        ``estimate`` (the statistic on the full data), ``low``, ``high``, ``resamples``.

    References
    ----------
    Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993
    (percentile: ch. 13; BCa: ch. 14). Efron B. Better bootstrap confidence intervals.
    JASA 1987; 82:171-185.
    """
    _check_options(n_resamples, ci, method)
    stat = statistic or default_statistic
    estimate = stat(metric_fn(time, event, *predictions, **kwargs))
    n = check_survival_target(time, event)[0].shape[0]
    draws = resample_indices(n, int(n_resamples), seed)
    reps = replicates(metric_fn, time, event, predictions, kwargs, draws, statistic, vectorised)
    ok = _valid_rows(reps)
    n_failed = int((~ok).sum())
    if not ok.any():
        raise SurvivalInputError(
            "every bootstrap resample gave an undefined metric; the data are too small or have "
            "too few events for a bootstrap interval."
        )
    _warn_failed(n_failed, int(n_resamples), getattr(metric_fn, "__name__", "metric"))
    reps = reps[ok]
    a = None
    if method == "bca":
        blocks = jackknife_blocks(n, seed)
        jack = replicates(
            metric_fn,
            time,
            event,
            predictions,
            kwargs,
            blocks,
            statistic,
            vectorised,
            as_weights=True,
        )
        a = _acceleration(jack)
    low, high = _interval(estimate, reps, ci, method, a)
    return BootstrapResult(estimate=estimate, low=low, high=high, resamples=reps, n_failed=n_failed)


def paired_bootstrap(
    metric_fn: Callable[..., Any],
    time: Any,
    event: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    statistic: Callable[[Any], Any] | None = None,
    vectorised: bool = True,
    **kwargs: Any,
) -> PairedBootstrapResult:
    """Compare two models' predictions on the same patients with a paired bootstrap.

    Both models are evaluated on the *same* resamples; the difference
    :math:`d = m(a) - m(b)` gets a percentile interval and a two-sided p-value from the
    bootstrap distribution shifted to the null,
    :math:`p = (1 + \\#\\{|d^*_b - \\hat d| \\ge |\\hat d|\\}) / (B + 1)`.

    Parameters are those of :func:`bootstrap`, with the two models' predictions (``risk``:
    higher is worse, or ``surv``: survival probabilities) as ``pred_a`` and ``pred_b``.

    Returns
    -------
    PairedBootstrapResult
        ``diff``, ``low``, ``high``, ``p_value`` and the resampled differences.

    References
    ----------
    Efron B, Tibshirani RJ. An Introduction to the Bootstrap, ch. 16. Hall P, Wilson SR. Two
    guidelines for bootstrap hypothesis testing. Biometrics 1991; 47:757-762.
    """
    _check_options(n_resamples, ci, "percentile")
    stat = statistic or default_statistic
    est_a = stat(metric_fn(time, event, pred_a, **kwargs))
    est_b = stat(metric_fn(time, event, pred_b, **kwargs))
    diff = np.asarray(est_a, dtype=np.float64) - np.asarray(est_b, dtype=np.float64)
    n = check_survival_target(time, event)[0].shape[0]
    reps = []
    for pred in (pred_a, pred_b):
        draws = resample_indices(n, int(n_resamples), seed)
        reps.append(
            replicates(metric_fn, time, event, (pred,), kwargs, draws, statistic, vectorised)
        )
    d = reps[0] - reps[1]
    ok = _valid_rows(d)
    n_failed = int((~ok).sum())
    if not ok.any():
        raise SurvivalInputError(
            "every bootstrap resample gave an undefined metric for one of the models."
        )
    _warn_failed(n_failed, int(n_resamples), getattr(metric_fn, "__name__", "metric"))
    d = d[ok]
    low, high = _interval(diff, d, ci, "percentile", None)
    extreme = (np.abs(d - diff) >= np.abs(diff)).sum(axis=0)
    p = (1.0 + extreme) / (d.shape[0] + 1.0)
    if diff.ndim == 0:
        return PairedBootstrapResult(float(diff), low, high, float(p), d, n_failed)
    return PairedBootstrapResult(diff, low, high, p, d, n_failed)
