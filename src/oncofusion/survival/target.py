"""The one validator for a right-censored survival target, used by every loss and metric.

After scikit-survival's ``check_y_survival``: it names the argument and the rule broken.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oncofusion.errors import SurvivalInputError

__all__ = ["check_survival_target", "check_risk", "check_same_length"]


def _as_1d(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise SurvivalInputError(f"'{name}' must be a 1-D array, got a scalar.")
    if arr.ndim != 1:
        raise SurvivalInputError(f"'{name}' must be a 1-D array, got shape {arr.shape}.")
    return arr


def check_survival_target(
    time: Any,
    event: Any,
    *,
    name_time: str = "time",
    name_event: str = "event",
    allow_zero_time: bool = True,
    require_event: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(time, event)`` and return them as ``float64`` and ``bool`` arrays.

    Rules: both 1-D and of equal non-zero length; ``time`` finite and non-negative
    (strictly positive if ``allow_zero_time`` is false); ``event`` only 0/1 (or bool);
    at least one event when ``require_event``.
    """
    t = _as_1d(time, name_time)
    e = _as_1d(event, name_event)
    if t.shape[0] != e.shape[0]:
        raise SurvivalInputError(
            f"'{name_time}' and '{name_event}' must have the same length, got {t.shape[0]} and {e.shape[0]}."
        )
    if t.shape[0] == 0:
        raise SurvivalInputError(f"'{name_time}' is empty: at least one sample is needed.")
    if not np.issubdtype(t.dtype, np.number) or t.dtype == bool:
        raise SurvivalInputError(f"'{name_time}' must be numeric, got dtype {t.dtype}.")
    t = t.astype(np.float64, copy=False)
    bad = ~np.isfinite(t)
    if bad.any():
        raise SurvivalInputError(
            f"'{name_time}' must be finite; positions {np.flatnonzero(bad)[:10].tolist()} are NaN or inf."
        )
    neg = t < 0 if allow_zero_time else t <= 0
    if neg.any():
        rule = "non-negative" if allow_zero_time else "strictly positive"
        raise SurvivalInputError(
            f"'{name_time}' must be {rule}; positions {np.flatnonzero(neg)[:10].tolist()} are not."
        )
    if e.dtype == bool:
        ev = e
    else:
        if not np.issubdtype(e.dtype, np.number):
            raise SurvivalInputError(f"'{name_event}' must be 0/1 or boolean, got dtype {e.dtype}.")
        ef = e.astype(np.float64)
        badv = ~np.isin(ef, (0.0, 1.0))
        if badv.any():
            raise SurvivalInputError(
                f"'{name_event}' must contain only 0 (censored) and 1 (event); positions "
                f"{np.flatnonzero(badv)[:10].tolist()} do not."
            )
        ev = ef.astype(bool)
    if require_event and not ev.any():
        raise SurvivalInputError(f"'{name_event}' has no event: all samples are censored.")
    return t, ev


def check_risk(risk: Any, n: int, *, name: str = "risk") -> np.ndarray:
    """Validate a 1-D finite risk score (higher means worse) of length ``n``."""
    r = _as_1d(risk, name).astype(np.float64, copy=False)
    check_same_length(n, r.shape[0], "time", name)
    if not np.isfinite(r).all():
        raise SurvivalInputError(f"'{name}' must be finite; it contains NaN or inf.")
    return r


def check_same_length(n_expected: int, n_got: int, name_expected: str, name_got: str) -> None:
    if n_expected != n_got:
        raise SurvivalInputError(
            f"'{name_got}' must have one entry per sample of '{name_expected}' ({n_expected}), got {n_got}."
        )
