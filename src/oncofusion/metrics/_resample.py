"""The resampling engine behind :mod:`oncofusion.metrics.resampling`.

Resample indices (one generator per resample, spawned from the seed), case weights, the
vectorised evaluators of the core metrics and the generic loop that calls any metric on each
resampled data set. Both paths see the same resamples, so they give the same numbers.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics.auc import AUCResult, AUCRows, time_dependent_auc
from oncofusion.metrics.brier import BrierRows, brier_score, integrated_brier_score
from oncofusion.metrics.concordance import (
    ConcordanceResult,
    ConcordanceRows,
    concordance_index,
    concordance_index_uno,
)
from oncofusion.survival.target import check_survival_target

__all__ = ["default_statistic", "jackknife_blocks", "replicates", "resample_indices"]

_MAX_JACKKNIFE = 1000  # above this many patients BCa uses a grouped (delete-d) jackknife
_CHUNK_ELEMENTS = 2_000_000  # resamples x patients evaluated at once


def resample_indices(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield blocks of resample indices, shape (block, n); resample b has its own stream."""
    children = np.random.SeedSequence(seed).spawn(n_resamples)
    block = max(1, min(n_resamples, _CHUNK_ELEMENTS // max(n, 1)))
    for start in range(0, n_resamples, block):
        kids = children[start : start + block]
        yield np.stack([np.random.default_rng(k).integers(0, n, n) for k in kids])


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """Case weights (B, n) from resample indices (B, n)."""
    b = idx.shape[0]
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# statistics


def default_statistic(result: Any) -> Any:
    """float(result) for result objects and scalars; per-time arrays as they are."""
    if isinstance(result, np.ndarray):
        return result.astype(np.float64)
    return float(result)


@dataclass
class _Fast:
    """A vectorised evaluator for one of the core metrics."""

    rows: Any
    key: str
    build: Callable[[dict[str, np.ndarray], int], Any] | None


def _conc_result(out: dict[str, np.ndarray], b: int) -> ConcordanceResult:
    return ConcordanceResult(
        value=float(out["value"][b]),
        concordant=round(float(out["concordant"][b])),
        discordant=round(float(out["discordant"][b])),
        tied_risk=round(float(out["tied_risk"][b])),
        tied_time=round(float(out["tied_time"][b])),
        comparable=round(float(out["comparable"][b])),
    )


def _make_fast(metric_fn: Callable[..., Any], args: dict[str, Any]) -> _Fast | None:
    """The vectorised evaluator for ``metric_fn`` called with bound ``args``, if any."""
    a = dict(args)
    if metric_fn is concordance_index:
        rows = ConcordanceRows(a.pop("time"), a.pop("event"), a.pop("risk"), **a)
        return _Fast(rows, "value", _conc_result)
    if metric_fn is concordance_index_uno:
        rows = ConcordanceRows(a.pop("time"), a.pop("event"), a.pop("risk"), uno=True, **a)
        return _Fast(rows, "value", _conc_result)
    if metric_fn is time_dependent_auc:
        auc_rows = AUCRows(**a)
        times = auc_rows.p.times

        def build_auc(out: dict[str, np.ndarray], b: int) -> AUCResult:
            return AUCResult(times=times, auc=out["auc"][b], mean_auc=float(out["mean_auc"][b]))

        return _Fast(auc_rows, "mean_auc", build_auc)
    if metric_fn is brier_score:
        return _Fast(BrierRows(**a), "brier", None)
    if metric_fn is integrated_brier_score:
        if np.atleast_1d(np.asarray(a["times"])).shape[0] < 2:
            return None  # let the metric raise its own message
        return _Fast(BrierRows(**a), "ibs", None)
    return None


_PREDICTION_NAMES = ("risk", "surv")


def _bind(
    metric_fn: Callable[..., Any],
    time: Any,
    event: Any,
    predictions: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[dict[str, Any] | None, Callable[[np.ndarray], tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Bound arguments of a core metric (or None) and a function giving resampled call args."""
    core = (
        concordance_index,
        concordance_index_uno,
        time_dependent_auc,
        brier_score,
        integrated_brier_score,
    )
    if metric_fn in core:
        bound = inspect.signature(metric_fn).bind(time, event, *predictions, **kwargs)
        args = dict(bound.arguments)
        per_patient = {"time", "event"} | {k for k in _PREDICTION_NAMES if k in args}

        def call_args(idx: np.ndarray) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return (), {k: (np.asarray(v)[idx] if k in per_patient else v) for k, v in args.items()}

        return args, call_args

    def call_args_generic(idx: np.ndarray) -> tuple[tuple[Any, ...], dict[str, Any]]:
        resampled = tuple(np.asarray(p)[idx] for p in predictions)
        return (np.asarray(time)[idx], np.asarray(event)[idx], *resampled), kwargs

    return None, call_args_generic


def _safe_call(metric_fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    """The metric on one resample, or None where it is undefined there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return metric_fn(*args, **kw)
        except SurvivalInputError:
            return None


def replicates(
    metric_fn: Callable[..., Any],
    time: Any,
    event: Any,
    predictions: tuple[Any, ...],
    kwargs: dict[str, Any],
    weight_blocks: Iterator[np.ndarray],
    statistic: Callable[[Any], Any] | None,
    vectorised: bool,
    as_weights: bool = False,
) -> np.ndarray:
    """The statistic for every row of every block (NaN where undefined).

    ``weight_blocks`` yields resample indices (``as_weights=False``) or case weights.
    """
    n = check_survival_target(time, event)[0].shape[0]
    args, call_args = _bind(metric_fn, time, event, predictions, kwargs)
    fast = _make_fast(metric_fn, args) if (vectorised and args is not None) else None
    stat = statistic or default_statistic
    out: list[Any] = []
    for block in weight_blocks:
        if fast is not None:
            w = block if as_weights else _counts(block, n)
            res = fast.rows.evaluate(w)
            if statistic is None:
                out.extend(np.asarray(res[fast.key], dtype=np.float64))
                continue
            if fast.build is None:
                vals = res[fast.key]
                out.extend(_nan_guard(stat, vals[b]) for b in range(vals.shape[0]))
                continue
            for b in range(w.shape[0]):
                r = fast.build(res, b)
                out.append(_nan_guard(stat, r))
            continue
        for row in block:
            idx = np.repeat(np.arange(n), row.astype(np.int64)) if as_weights else row
            a, kw = call_args(idx)
            r = _safe_call(metric_fn, a, kw)
            out.append(np.nan if r is None else _nan_guard(stat, r))
    return _stack(out)


def _nan_guard(stat: Callable[[Any], Any], r: Any) -> Any:
    """Apply the statistic; a NaN-valued resample result stays NaN."""
    if isinstance(r, ConcordanceResult) and not np.isfinite(r.value):
        return np.nan
    if isinstance(r, AUCResult) and not np.isfinite(r.auc).all():
        return np.nan
    if isinstance(r, np.ndarray) and not np.isfinite(r).all():
        return np.full(r.shape, np.nan)
    return stat(r)


def _stack(values: list[Any]) -> np.ndarray:
    shapes = {np.shape(v) for v in values if np.ndim(v) > 0}
    if not shapes:
        return np.asarray(values, dtype=np.float64)
    shape = shapes.pop()
    return np.stack(
        [np.full(shape, np.nan) if np.ndim(v) == 0 else np.asarray(v, float) for v in values]
    )


def jackknife_blocks(n: int, seed: int) -> Iterator[np.ndarray]:
    """Case-weight rows leaving out one patient (or one of 1000 random groups when n > 1000)."""
    if n <= _MAX_JACKKNIFE:
        groups = [np.array([i]) for i in range(n)]
    else:
        perm = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]).permutation(n)
        groups = np.array_split(perm, _MAX_JACKKNIFE)
    block = max(1, min(len(groups), _CHUNK_ELEMENTS // max(n, 1)))
    for start in range(0, len(groups), block):
        gs = groups[start : start + block]
        w = np.ones((len(gs), n))
        for r, g in enumerate(gs):
            w[r, g] = 0.0
        yield w
