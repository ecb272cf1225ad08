"""Input checks and degenerate-batch handling shared by the survival losses.

The numpy-side checks of a survival target go through
:func:`oncofusion.survival.target.check_survival_target`; this module adds what is
specific to tensors: the prediction's shape and finiteness, interval indices against
the number of intervals, and the warning + graph-connected zero returned for a batch
that carries no information for a loss.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.target import check_survival_target

__all__ = [
    "DegenerateBatchWarning",
    "check_discrete_labels",
    "check_positive",
    "check_prediction",
    "connected_zero",
    "warn_degenerate",
]


class DegenerateBatchWarning(UserWarning):
    """A batch carries no information for a loss (no events, no comparable pair, ...).

    The loss then returns a zero that is still connected to the autograd graph, so
    ``backward()`` works and gives zero gradients; filter this class to silence it.
    """


def warn_degenerate(message: str) -> None:
    """Warn (once per call site, Python's default filter) about a degenerate batch."""
    warnings.warn(message, DegenerateBatchWarning, stacklevel=3)


def connected_zero(
    prediction: torch.Tensor, reduction: str, shape: int | tuple[int, ...]
) -> torch.Tensor:
    """A zero loss connected to ``prediction``'s graph: an empty slice summed.

    Unlike ``0 * prediction.sum()`` it stays 0 (not NaN) if ``prediction`` holds inf.
    Returns zeros of ``shape`` (the per-sample shape) for ``reduction="none"``, else a
    scalar.
    """
    empty = prediction.reshape(-1)[:0].sum()
    if reduction == "none":
        return empty + prediction.new_zeros(shape)
    return empty


def check_prediction(
    x: Any, name: str, *, ndim: int, n: int | None = None, squeeze_last: bool = False
) -> torch.Tensor:
    """Validate a floating-point prediction tensor with ``ndim`` dimensions, all finite.

    With ``squeeze_last`` a trailing dimension of size 1 is dropped first (``(n, 1)`` to
    ``(n,)``), the shape a linear layer with one output gives.
    """
    if not isinstance(x, torch.Tensor):
        raise SurvivalInputError(
            f"'{name}' must be a torch.Tensor (losses are tensor functions), got "
            f"{type(x).__name__}. Fix: wrap it with torch.as_tensor(...)."
        )
    if not torch.is_floating_point(x):
        raise SurvivalInputError(
            f"'{name}' must have a floating-point dtype, got {x.dtype}. Fix: pass the model "
            "output (float32/float64) or call .double()."
        )
    if squeeze_last and x.ndim == ndim + 1 and x.shape[-1] == 1:
        x = x.squeeze(-1)
    if x.ndim != ndim:
        raise SurvivalInputError(
            f"'{name}' must have {ndim} dimension(s), got shape {tuple(x.shape)}."
        )
    if n is not None and x.shape[0] != n:
        raise SurvivalInputError(
            f"'{name}' must have one row per sample ({n}), got shape {tuple(x.shape)}."
        )
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise SurvivalInputError(
            f"'{name}' contains NaN or inf. Fix: check the model output (learning rate, "
            "input scaling) before the loss."
        )
    return x


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Validate a positive (or non-negative) finite scalar hyper-parameter."""
    try:
        v = float(value)
    except (TypeError, ValueError) as e:
        raise SurvivalInputError(f"'{name}' must be a number, got {value!r}.") from e
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        rule = "non-negative" if allow_zero else "positive"
        raise SurvivalInputError(f"'{name}' must be a finite {rule} number, got {value!r}.")
    return v


def check_discrete_labels(
    interval_index: Any,
    event: Any,
    n_intervals: int,
    *,
    n: int,
    device: torch.device,
    n_event_types: int | None = None,
    name_event: str = "event",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate discrete-time labels and return them as ``(long, long)`` tensors.

    ``interval_index[i]`` is, for an event, the interval that holds it (``0..K-1``) and,
    for a censored sample, the number of intervals it was followed through completely
    (``0..K``; ``K`` = survived the whole grid), as made by
    :meth:`oncofusion.survival.discretize.Discretizer.transform`. ``event`` is 0/1, or
    ``0..n_event_types`` for competing risks (0 = censored).
    """
    idx_np = _to_numpy(interval_index)
    ev_np = _to_numpy(event)
    if n_event_types is not None:
        if ev_np.ndim == 1 and ev_np.size and np.issubdtype(ev_np.dtype, np.number):
            ev_f = ev_np.astype(np.float64)
            bad = (ev_f != np.round(ev_f)) | (ev_f < 0) | (ev_f > n_event_types)
            if bad.any():
                raise SurvivalInputError(
                    f"'{name_event}' must hold integers 0 (censored) to {n_event_types} (one per "
                    f"risk); positions {np.flatnonzero(bad)[:10].tolist()} do not."
                )
            ev_bin = ev_f > 0
        else:
            ev_bin = ev_np
        t, _ = check_survival_target(
            idx_np, ev_bin, name_time="interval_index", name_event=name_event
        )
        ev_out = ev_np.astype(np.int64)
    else:
        t, e = check_survival_target(
            idx_np, ev_np, name_time="interval_index", name_event=name_event
        )
        ev_out = e.astype(np.int64)
    if t.shape[0] != n:
        raise SurvivalInputError(
            f"'interval_index' must have one entry per prediction row ({n}), got {t.shape[0]}."
        )
    if (t != np.round(t)).any():
        raise SurvivalInputError(
            "'interval_index' must hold whole interval numbers; got fractional values. Fix: make "
            "labels with Discretizer.transform(time, event)."
        )
    over = t > n_intervals
    ev_last = (t >= n_intervals) & (ev_out > 0)
    if over.any() or ev_last.any():
        bad = np.flatnonzero(over | ev_last)[:10].tolist()
        raise SurvivalInputError(
            f"'interval_index' must be at most {n_intervals - 1} for an event and {n_intervals} "
            f"for a censored sample (the prediction has {n_intervals} intervals); positions "
            f"{bad} are out of range. Fix: discretize with the grid that sized the model "
            "(Discretizer.n_intervals), which censors times past the last cut."
        )
    idx_t = torch.as_tensor(t.astype(np.int64), device=device)
    ev_t = torch.as_tensor(ev_out, device=device)
    return idx_t, ev_t


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
