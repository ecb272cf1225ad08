"""Weighting by the propensity of treatment: overlap (positivity) checks and IPTW weights.

Given propensities :math:`e_k(x) = P(A = k \\mid x)` (from
:class:`~oncofusion.decide.PropensityModel`, or known from a trial's randomisation), these
functions flag patients outside the common support of the arms and weight each patient by the
inverse probability of the arm received (Austin & Stuart 2015).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.decide._checks import arm_indices, check_arm_names
from oncofusion.errors import ConfigError, SurvivalInputError

__all__ = ["effective_sample_size", "iptw_weights", "overlap_diagnostic"]


def _check_bounds(bounds: tuple[float, float], name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"'{name}' must be a pair (low, high), got {bounds!r}.") from exc
    if not 0 <= lo < hi <= 1:
        raise ConfigError(
            f"'{name}' must satisfy 0 <= low < high <= 1, got {bounds!r} (e.g. (0.05, 0.95))."
        )
    return lo, hi


def _propensity_matrix(propensity: Any, name: str = "propensity") -> np.ndarray:
    p = np.asarray(propensity, dtype=np.float64)
    if p.ndim == 1:  # binary shorthand: P(second arm)
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[1] < 2 or p.shape[0] == 0:
        raise SurvivalInputError(
            f"'{name}' must have shape (n_patients, n_arms) (or (n,) = P(second arm) for two "
            f"arms), got {np.shape(propensity)}."
        )
    if (~np.isfinite(p) | (p < 0) | (p > 1)).any():
        raise SurvivalInputError(f"'{name}' must hold probabilities in [0, 1] without NaN.")
    if np.abs(p.sum(axis=1) - 1.0).max() > 1e-6:
        raise SurvivalInputError(f"'{name}' rows must sum to 1 (one probability per arm).")
    return p


def overlap_diagnostic(
    propensity: Any,
    arms: Sequence[str],
    *,
    bounds: tuple[float, float] = (0.05, 0.95),
    patient_ids: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Flag patients outside the common support of the arms (a positivity check).

    A patient is *outside* when some arm's propensity is below ``bounds[0]`` or above
    ``bounds[1]``: the data then hold almost no comparable patients who received the other
    arm(s), and any estimate of their treatment effect is an extrapolation. A ``UserWarning``
    says how many patients are outside, per arm lacking support.

    Parameters
    ----------
    propensity
        (n, n_arms) propensities, columns in the order of ``arms`` (or (n,) = P(second arm)).
    arms
        The arm names.
    bounds
        (low, high); the common rule of thumb is (0.05, 0.95) or (0.1, 0.9) (Crump et al.).
    patient_ids
        Row labels (default 0..n-1).

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``patient_id``, ``propensity_<arm>`` per arm,
        ``min_propensity``, ``lacking_arm`` (the arm with the lowest propensity when outside,
        else ``""``) and ``outside`` (bool).

    References
    ----------
    Crump RK, Hotz VJ, Imbens GW, Mitnik OA. Dealing with limited overlap in estimation of
    average treatment effects. Biometrika 2009;96:187-199. Petersen ML et al. Diagnosing and
    responding to violations in the positivity assumption. Stat Methods Med Res 2012;21:31-54.
    """
    names = check_arm_names(arms)
    p = _propensity_matrix(propensity)
    if p.shape[1] != len(names):
        raise SurvivalInputError(
            f"'propensity' has {p.shape[1]} columns for {len(names)} arms {names}."
        )
    lo, hi = _check_bounds(bounds, "bounds")
    outside = ((p < lo) | (p > hi)).any(axis=1)
    lacking = np.where(outside, np.asarray(names, dtype=object)[p.argmin(axis=1)], "")
    ids = np.arange(p.shape[0]) if patient_ids is None else np.asarray(patient_ids)
    if ids.shape[0] != p.shape[0]:
        raise SurvivalInputError(
            f"'patient_ids' has {ids.shape[0]} entries for {p.shape[0]} patients."
        )
    out = pd.DataFrame({"patient_id": ids})
    for k, a in enumerate(names):
        out[f"propensity_{a}"] = p[:, k]
    out["min_propensity"] = p.min(axis=1)
    out["lacking_arm"] = lacking
    out["outside"] = outside
    n_out = int(outside.sum())
    if n_out:
        per_arm = ", ".join(
            f"{a}: {int((lacking == a).sum())}" for a in names if (lacking == a).any()
        )
        warnings.warn(
            f"{n_out} of {p.shape[0]} patients ({100 * n_out / p.shape[0]:.1f}%) lie outside the "
            f"common support (an arm's propensity outside [{lo:g}, {hi:g}]); lacking support "
            f"for {per_arm}. Their treatment effects are extrapolated: consider trimming them "
            "(Crump et al. 2009) or reporting them separately.",
            UserWarning,
            stacklevel=2,
        )
    return out


def iptw_weights(
    propensity: Any,
    arm_index: Any,
    *,
    stabilised: bool = True,
    clip: tuple[float, float] | None = (0.01, 0.99),
    arms: Sequence[str] | None = None,
) -> np.ndarray:
    """Inverse-probability-of-treatment weights for the arm each patient received.

    .. math:: w_i = \\frac{1}{\\tilde e_{A_i}(x_i)}, \\qquad
              w_i^{s} = \\frac{\\hat P(A = A_i)}{\\tilde e_{A_i}(x_i)}, \\qquad
              \\tilde e = \\min(\\max(e, c_{lo}), c_{hi})

    The stabilised weights :math:`w^s` multiply by the marginal share of the received arm in
    these patients, so that they average about 1 within each arm and the weighted sample keeps
    the original size (Robins et al. 2000; Austin & Stuart 2015). Clipping the propensity to
    ``clip`` bounds the weights (at most :math:`1/c_{lo}`) at the price of a little bias
    (Lee, Lessler & Stuart 2011); ``clip=None`` turns it off.

    Parameters
    ----------
    propensity
        (n, n_arms) propensities (or (n,) = P(second arm) for two arms).
    arm_index
        Received arm per patient: indices into the propensity columns, or arm names together
        with ``arms``.
    stabilised, clip
        See above.
    arms
        Arm names in column order, needed when ``arm_index`` holds names.

    Returns
    -------
    numpy.ndarray
        Weights, shape (n,), all positive.

    References
    ----------
    Austin PC, Stuart EA. Moving towards best practice when using inverse probability of
    treatment weighting (IPTW) using the propensity score to estimate causal treatment effects
    in observational studies. Stat Med 2015;34:3661-3679. Robins JM, Hernan MA, Brumback B.
    Marginal structural models and causal inference in epidemiology. Epidemiology
    2000;11:550-560. Lee BK, Lessler J, Stuart EA. Weight trimming and propensity score
    weighting. PLoS One 2011;6:e18174.
    """
    p = _propensity_matrix(propensity)
    names = check_arm_names(arms) if arms is not None else [str(k) for k in range(p.shape[1])]
    if len(names) != p.shape[1]:
        raise SurvivalInputError(
            f"'propensity' has {p.shape[1]} columns for {len(names)} arms {names}."
        )
    a = arm_indices(arm_index, names, p.shape[0], name="arm_index")
    e = p[np.arange(p.shape[0]), a]
    if clip is not None:
        lo, hi = _check_bounds(clip, "clip")
        if lo <= 0:
            raise ConfigError(f"'clip' low bound must be > 0 to keep weights finite, got {clip!r}.")
        e = np.clip(e, lo, hi)
    elif (e <= 0).any():
        raise SurvivalInputError(
            f"propensity of the received arm is 0 for patient(s) {np.flatnonzero(e <= 0)[:10].tolist()}: "
            "their weight is infinite. Fix: use clip=(0.01, 0.99) or drop them (positivity fails)."
        )
    w = 1.0 / e
    if stabilised:
        share = np.bincount(a, minlength=p.shape[1]) / p.shape[0]
        w = w * share[a]
    return w


def effective_sample_size(weights: Any) -> float:
    """Kish's effective sample size :math:`(\\sum w)^2 / \\sum w^2` of a weighted sample.

    References
    ----------
    Kish L. Survey Sampling. Wiley, 1965.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or (~np.isfinite(w) | (w < 0)).any() or w.sum() <= 0:
        raise SurvivalInputError(
            "'weights' must be a non-empty 1-D array of finite, non-negative numbers with a positive sum."
        )
    return float(w.sum() ** 2 / (w**2).sum())
