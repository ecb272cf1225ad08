"""Input checks shared by the decision modules: arm names, per-patient arms, probability arrays.

Every check names the argument, the rule it broke and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from oncofusion.errors import ConfigError, SurvivalInputError, UnknownOptionError
from oncofusion.registry import look_up_option

__all__ = ["arm_indices", "check_arm_names", "check_ci", "check_prob_matrix"]


def _rows(mask: np.ndarray, limit: int = 10) -> str:
    pos = np.flatnonzero(mask)
    shown = ", ".join(str(int(p)) for p in pos[:limit])
    return shown + (f" (and {pos.size - limit} more)" if pos.size > limit else "")


def check_arm_names(arms: Sequence[str], *, name: str = "arms") -> list[str]:
    """Validate the list of treatment-arm names: at least two, distinct, non-empty text."""
    if isinstance(arms, str) or not isinstance(arms, Sequence | np.ndarray):
        raise ConfigError(
            f"'{name}' must be a list of arm names such as ['sbrt', 'surgery'], got {arms!r}."
        )
    out = [str(a) for a in arms]
    if len(out) < 2:
        raise ConfigError(f"'{name}' must name at least two arms to choose between, got {out}.")
    if len(set(out)) != len(out) or any(a == "" for a in out):
        raise ConfigError(f"'{name}' must hold distinct, non-empty arm names, got {out}.")
    return out


def arm_indices(values: Any, arms: Sequence[str], n: int | None = None, *, name: str) -> np.ndarray:
    """Map per-patient arms to column indices ``0..len(arms)-1``.

    ``values`` holds arm names (or integer indices). A single name (a string) means the same
    arm for every patient and needs ``n``. Unknown names raise a did-you-mean error.
    """
    k = len(arms)
    if isinstance(values, str):
        if n is None:
            raise SurvivalInputError(
                f"'{name}' must be one arm per patient, got the single {values!r}."
            )
        idx = look_up_option(values, list(arms), what=f"arm in '{name}'")
        return np.full(n, list(arms).index(idx), dtype=np.int64)
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SurvivalInputError(
            f"'{name}' must be a 1-D array with one arm per patient, got shape {arr.shape}."
        )
    if n is not None and arr.shape[0] != n:
        raise SurvivalInputError(
            f"'{name}' must have one entry per patient ({n}), got {arr.shape[0]}."
        )
    if arr.shape[0] == 0:
        raise SurvivalInputError(f"'{name}' is empty: at least one patient is needed.")
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        bad = (arr < 0) | (arr >= k)
        if bad.any():
            raise SurvivalInputError(
                f"'{name}' holds arm indices outside 0..{k - 1} at positions {_rows(bad)}. "
                f"Fix: use indices into {list(arms)} or the arm names themselves."
            )
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.isnan(arr.astype(np.float64)).any():
        raise SurvivalInputError(
            f"'{name}' is missing at positions {_rows(np.isnan(arr.astype(np.float64)))}. "
            "Fix: drop those patients or assign them an arm."
        )
    labels = arr.astype(str)
    lookup = {a: i for i, a in enumerate(arms)}
    known = np.isin(labels, list(arms))
    if not known.all():
        first = labels[~known][0]
        try:
            look_up_option(first, list(arms), what=f"arm in '{name}'")
        except UnknownOptionError as exc:  # re-raised with the rows added
            raise UnknownOptionError(
                f"{exc} Found at positions {_rows(~known)} of '{name}'."
            ) from exc
    return np.array([lookup[v] for v in labels], dtype=np.int64)


def check_prob_matrix(
    p: Any, *, name: str, n: int | None = None, k: int | None = None, ndim: int = 2
) -> np.ndarray:
    """Validate an array of probabilities in [0, 1] with ``ndim`` dimensions, last axis ``k``."""
    if hasattr(p, "detach"):
        p = p.detach().cpu().numpy()
    if hasattr(p, "to_numpy"):
        p = p.to_numpy()
    arr = np.asarray(p, dtype=np.float64)
    shape = "(n_patients, n_arms)" if ndim == 2 else "(n_draws, n_patients, n_arms)"
    if arr.ndim != ndim:
        raise SurvivalInputError(f"'{name}' must have shape {shape}, got shape {arr.shape}.")
    if n is not None and arr.shape[-2] != n:
        raise SurvivalInputError(
            f"'{name}' must have {n} patients (axis {ndim - 2}), got {arr.shape[-2]}."
        )
    if k is not None and arr.shape[-1] != k:
        raise SurvivalInputError(
            f"'{name}' must have one column per arm ({k}), got {arr.shape[-1]} columns."
        )
    if arr.shape[-2] == 0:
        raise SurvivalInputError(f"'{name}' has no patients.")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        where = np.argwhere(bad)[:5].tolist()
        raise SurvivalInputError(
            f"'{name}' must hold probabilities in [0, 1]; entries at {where} are NaN, inf or out "
            "of range. Fix: pass probabilities (e.g. S(t) at the horizon), not risks or logits."
        )
    return arr


def check_ci(ci: float) -> float:
    """The interval level, strictly between 0 and 1."""
    if not isinstance(ci, int | float) or not 0 < ci < 1:
        raise ConfigError(f"'ci' must lie strictly between 0 and 1, got {ci!r} (e.g. 0.95).")
    return float(ci)
