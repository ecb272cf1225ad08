"""Per-patient treatment recommendation from predicted outcomes under each arm.

MM-Care (seed paper, section 4.7) recommends the arm with the larger weighted prognosis
:math:`U_k = \\alpha P_{OS,k}(3y) + \\beta P_{LC,k}(3y)` with :math:`\\alpha = 0.7,
\\beta = 0.3`. Here the weights are parameters, the margin over the runner-up arm is
reported, and when draws of the predictions are available (MC dropout, bootstrap or an
ensemble) the margin gets an interval: a recommendation whose interval includes zero is
"no clear preference".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.decide._checks import check_arm_names, check_ci, check_prob_matrix
from oncofusion.errors import ConfigError, SurvivalInputError

__all__ = ["NO_CLEAR_PREFERENCE", "recommend", "utility"]

NO_CLEAR_PREFERENCE = "no clear preference"


def _check_weights(alpha: float, beta: float) -> tuple[float, float]:
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
            raise ConfigError(
                f"'{name}' must be a finite, non-negative weight, got {v!r}: a negative weight "
                "would reward a worse outcome. Fix: use e.g. alpha=0.7, beta=0.3."
            )
    if alpha == 0 and beta == 0:
        raise ConfigError(
            "'alpha' and 'beta' are both 0, so every arm has utility 0. Fix: give at least one a positive weight."
        )
    return float(alpha), float(beta)


def utility(p_os: Any, p_lc: Any | None, *, alpha: float = 0.7, beta: float = 0.3) -> np.ndarray:
    """Weighted prognosis per arm, :math:`U = \\alpha P_{OS} + \\beta P_{LC}`.

    Works elementwise on arrays of any matching shape (e.g. (n, n_arms) or
    (n_draws, n, n_arms)). ``p_lc`` may be None only when ``beta == 0``.
    """
    a, b = _check_weights(alpha, beta)
    os_ = np.asarray(p_os, dtype=np.float64)
    if p_lc is None:
        if b != 0:
            raise ConfigError(
                f"'p_lc' is None but beta={b:g} weights local control. Fix: pass p_lc or set beta=0."
            )
        return a * os_
    lc = np.asarray(p_lc, dtype=np.float64)
    if lc.shape != os_.shape:
        raise SurvivalInputError(
            f"'p_os' and 'p_lc' must have the same shape, got {os_.shape} and {lc.shape}."
        )
    return a * os_ + b * lc


def _margin(u: np.ndarray, best: np.ndarray) -> np.ndarray:
    """:math:`U_{best} - \\max_{k \\ne best} U_k` along the last axis (best fixed per patient)."""
    n = u.shape[-2]
    rows = np.arange(n)
    u_best = u[..., rows, best]
    others = u.copy()
    others[..., rows, best] = -np.inf
    return u_best - others.max(axis=-1)


def recommend(
    p_os: Any,
    p_lc: Any | None,
    arms: Sequence[str],
    *,
    alpha: float = 0.7,
    beta: float = 0.3,
    p_os_draws: Any | None = None,
    p_lc_draws: Any | None = None,
    ci: float = 0.95,
    patient_ids: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Recommend, per patient, the arm with the highest expected utility.

    .. math::

        U_k = \\alpha\\, P_{OS,k}(\\tau) + \\beta\\, P_{LC,k}(\\tau), \\qquad
        \\hat k = \\arg\\max_k U_k, \\qquad
        B = U_{\\hat k} - \\max_{k \\ne \\hat k} U_k \\ge 0

    With draws :math:`U^{(d)}` of the predictions, the benefit of the recommended arm in
    draw :math:`d` is :math:`B^{(d)} = U^{(d)}_{\\hat k} - \\max_{k \\ne \\hat k} U^{(d)}_k`
    (the recommended arm stays fixed, so draws in which another arm wins give a negative
    benefit), and ``low``/``high`` are its ``(1 - ci)/2`` and ``(1 + ci)/2`` quantiles. The
    preference is the recommended arm when ``low > 0`` and "no clear preference" otherwise.
    Without draws no interval exists: ``low``/``high`` are NaN, the column ``interval`` says
    "unavailable", and the preference is the recommended arm unless the utilities tie.

    Parameters
    ----------
    p_os, p_lc
        Predicted probabilities of overall survival and local control at the decision horizon
        (3 years in MM-Care) under each arm, shape (n, n_arms), columns in the order of
        ``arms``. Both are probabilities of a *good* outcome (higher is better). ``p_lc`` may
        be None when ``beta == 0``.
    arms
        Arm names, e.g. ``["sbrt", "surgery"]``.
    alpha, beta
        Non-negative weights of OS and LC (MM-Care: 0.7 and 0.3).
    p_os_draws, p_lc_draws
        Optional draws of the predictions, shape (n_draws, n, n_arms) (MC dropout passes,
        bootstrap refits, ensemble members). Both are needed when ``beta > 0``.
    ci
        Level of the benefit interval.
    patient_ids
        Row labels (default 0..n-1).

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``patient_id``, ``utility_<arm>`` per arm, ``recommended``,
        ``benefit``, ``low``, ``high``, ``preference`` (an arm name or "no clear
        preference") and ``interval`` (how the interval was obtained, or "unavailable").

    References
    ----------
    MM-Care (seed paper 002), section 4.7. Gal Y, Ghahramani Z. Dropout as a Bayesian
    approximation. ICML 2016 (MC-dropout draws).
    """
    names = check_arm_names(arms)
    alpha, beta = _check_weights(alpha, beta)
    level = check_ci(ci)
    k = len(names)
    os_ = check_prob_matrix(p_os, name="p_os", k=k)
    n = os_.shape[0]
    lc = None if p_lc is None else check_prob_matrix(p_lc, name="p_lc", n=n, k=k)
    u = utility(os_, lc, alpha=alpha, beta=beta)
    best = u.argmax(axis=1)
    benefit = _margin(u, best)

    use_lc_draws = beta > 0
    if p_os_draws is None and p_lc_draws is None:
        low = high = np.full(n, np.nan)
        interval = "unavailable"
        preference = np.where(
            benefit > 0, np.asarray(names, dtype=object)[best], NO_CLEAR_PREFERENCE
        )
    else:
        if p_os_draws is None or (use_lc_draws and p_lc_draws is None):
            missing = "p_os_draws" if p_os_draws is None else "p_lc_draws"
            raise SurvivalInputError(
                f"'{missing}' is missing while the other draws are given; the interval would "
                f"ignore that outcome's uncertainty. Fix: pass both (or neither)."
            )
        os_d = check_prob_matrix(p_os_draws, name="p_os_draws", n=n, k=k, ndim=3)
        lc_d = None
        if use_lc_draws:
            lc_d = check_prob_matrix(p_lc_draws, name="p_lc_draws", n=n, k=k, ndim=3)
            if lc_d.shape[0] != os_d.shape[0]:
                raise SurvivalInputError(
                    f"'p_os_draws' and 'p_lc_draws' must have the same number of draws, got "
                    f"{os_d.shape[0]} and {lc_d.shape[0]}."
                )
        n_draws = os_d.shape[0]
        if n_draws < 2:
            raise SurvivalInputError(f"at least 2 draws are needed for an interval, got {n_draws}.")
        if n_draws < 2.0 / (1.0 - level):
            warnings.warn(
                f"{n_draws} draws are few for a {level:.0%} interval (fewer than one draw in each "
                f"tail); use at least {int(np.ceil(2.0 / (1.0 - level)))}.",
                UserWarning,
                stacklevel=2,
            )
        b_draws = _margin(utility(os_d, lc_d, alpha=alpha, beta=beta), best)
        low, high = np.quantile(b_draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        interval = f"{level:.0%} percentile of {n_draws} draws"
        preference = np.where(low > 0, np.asarray(names, dtype=object)[best], NO_CLEAR_PREFERENCE)

    ids = np.arange(n) if patient_ids is None else np.asarray(patient_ids)
    if ids.shape[0] != n:
        raise SurvivalInputError(f"'patient_ids' has {ids.shape[0]} entries for {n} patients.")
    out = pd.DataFrame({"patient_id": ids})
    for j, a in enumerate(names):
        out[f"utility_{a}"] = u[:, j]
    out["recommended"] = np.asarray(names, dtype=object)[best]
    out["benefit"] = benefit
    out["low"] = low
    out["high"] = high
    out["preference"] = preference
    out["interval"] = interval
    out.attrs.update({"alpha": alpha, "beta": beta, "ci": level, "arms": names})
    return out
