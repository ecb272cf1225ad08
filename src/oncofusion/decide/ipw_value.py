"""Value of a treatment policy on real (randomised or observational) data with censoring.

Without counterfactual truth, a policy :math:`d` is evaluated on the patients whose received
arm happens to equal :math:`d(x_i)`; weighting them by the inverse probability of that arm
makes them stand for everyone (Zhang et al. 2012). Outcomes are right-censored, so the
event-free status at the horizon is known only for some patients; those are weighted by the
inverse probability of remaining uncensored long enough to know it (IPCW; Bai, Tsiatis &
O'Brien 2013). The interval comes from a patient-level bootstrap, all resamples at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.decide._checks import arm_indices, check_arm_names, check_ci
from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.metrics._resample import resample_indices
from oncofusion.metrics.ipcw import kaplan_meier_rows
from oncofusion.survival.target import check_survival_target

__all__ = ["PolicyValue", "ipw_policy_value"]

_IDENTITY_TOL = 1e-8  # the IPCW weights of an arm sum to its size when its status at tau is known


@dataclass(frozen=True)
class PolicyValue:
    """Estimated probability of being event-free at ``horizon`` if everyone followed a policy.

    Attributes
    ----------
    value
        The IPW estimate :math:`\\hat V(d)`.
    low, high
        Percentile bootstrap interval (NaN when ``n_resamples == 0``).
    horizon
        The horizon :math:`\\tau`.
    n_matched
        Patients whose received arm equals the policy's arm (the only ones that inform it).
    resamples
        :math:`\\hat V` on each valid bootstrap resample.
    n_failed
        Resamples dropped because the value was undefined there (no matched patient drawn in
        an arm, or nobody of an arm followed up to the horizon).
    """

    value: float
    low: float
    high: float
    horizon: float
    n_matched: int
    resamples: np.ndarray
    n_failed: int = 0

    def __float__(self) -> float:
        return self.value


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """Case weights (B, n) from resample indices (B, n)."""
    b = idx.shape[0]
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def _values(
    time: np.ndarray,
    event: np.ndarray,
    a: np.ndarray,
    d: np.ndarray,
    horizon: float,
    e_received: np.ndarray | None,
    k: int,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Hajek IPW-IPCW values for case-weight rows ``w`` (B, n).

    Returns the values (B,) and, per row, the arms whose status at the horizon is not
    determined although the policy uses them (B, k) boolean.
    """
    b, n = w.shape
    matched = a == d
    s = np.minimum(time, horizon)
    had_event = event & (time <= horizon)
    known = had_event | (time >= horizon)
    free = ~had_event
    inv_g = np.zeros((b, n))
    undetermined = np.zeros((b, k), dtype=bool)
    for arm in range(k):
        m = a == arm
        if not m.any():
            continue
        uniq, g = kaplan_meier_rows(time[m], event[m], w[:, m], reverse=True)
        idx = np.searchsorted(uniq, s[m], side="left") - 1  # left limit G(s-)
        g_left = np.where(idx >= 0, g[:, np.clip(idx, 0, None)], 1.0)
        with np.errstate(divide="ignore"):
            inv_g[:, m] = np.where(known[m], 1.0 / g_left, 0.0)
        size = w[:, m].sum(axis=1)
        total = (w[:, m] * inv_g[:, m]).sum(axis=1)
        used = (w[:, m & matched].sum(axis=1) > 0) & (size > 0)
        undetermined[:, arm] = used & (np.abs(total - size) > _IDENTITY_TOL * np.maximum(size, 1.0))
    if e_received is None:  # randomised: the arm shares of this (re)sample
        shares = np.stack([w[:, a == arm].sum(axis=1) for arm in range(k)], axis=1) / w.sum(
            axis=1, keepdims=True
        )
        inv_e = 1.0 / np.where(shares[:, a] > 0, shares[:, a], np.inf)
    else:
        inv_e = np.broadcast_to(1.0 / e_received, (b, n))
    weight = w * matched * inv_e * inv_g
    num = (weight * free).sum(axis=1)
    den = weight.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return values, undetermined


def ipw_policy_value(
    time: Any,
    event: Any,
    arm: Any,
    policy: Any,
    horizon: float,
    propensity: Any | None = None,
    *,
    arms: Sequence[str] | None = None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> PolicyValue:
    """Probability of being event-free at ``horizon`` under a policy, by IPW with IPCW.

    .. math::

        \\hat V(d) = \\frac{\\sum_i \\frac{1\\{A_i = d_i\\}}{\\hat e_{A_i}(x_i)}
            \\frac{\\Delta^\\tau_i}{\\hat G_{A_i}(\\min(T_i, \\tau)-)} 1\\{T_i > \\tau\\}}
            {\\sum_i \\frac{1\\{A_i = d_i\\}}{\\hat e_{A_i}(x_i)}
            \\frac{\\Delta^\\tau_i}{\\hat G_{A_i}(\\min(T_i, \\tau)-)}}

    where :math:`\\Delta^\\tau_i = 1` when the status at :math:`\\tau` is known (an event at
    :math:`T_i \\le \\tau`, or follow-up :math:`T_i \\ge \\tau`), a censoring at exactly
    :math:`\\tau` counts as event-free, and :math:`\\hat G_a` is the Kaplan-Meier estimate of
    the censoring distribution among patients who received arm :math:`a` (censoring may
    differ between arms). The weights are normalised (Hajek form, as in Zhang et al. 2012).
    For a policy that sends everyone to arm :math:`a` of a randomised trial the estimate
    equals the Kaplan-Meier estimate of arm :math:`a` at :math:`\\tau` (Satten & Datta 2001).

    Parameters
    ----------
    time, event
        Follow-up time and event indicator (1 = event, 0 = censored).
    arm
        The arm each patient received (names from ``arms``, or indices).
    policy
        The arm the policy chooses for each patient, or one arm name for everyone.
    horizon
        :math:`\\tau`, in the unit of ``time``; every arm the policy uses must have follow-up
        reaching it (or no survivor left before it).
    propensity
        (n, n_arms) probabilities of receiving each arm given the patient's features (from
        :class:`~oncofusion.decide.PropensityModel` for observational data). Default
        (randomised trial): the arm shares of the sample, re-estimated in every resample.
        A given propensity is held fixed across resamples.
    arms
        Arm names in the column order of ``propensity`` (default: sorted names in ``arm``).
    n_resamples, ci, seed
        Patient-level bootstrap (0 resamples: no interval); resample ``b`` is drawn as in
        :func:`oncofusion.metrics.bootstrap` with the same seed.

    Returns
    -------
    PolicyValue

    References
    ----------
    Zhang B, Tsiatis AA, Laber EB, Davidian M. A robust method for estimating optimal treatment
    regimes. Biometrics 2012;68:1010-1018. Bai X, Tsiatis AA, O'Brien SM. Doubly-robust
    estimators of treatment-specific survival distributions in observational studies with
    stratified sampling. Biometrics 2013;69:830-839. Satten GA, Datta S. The Kaplan-Meier
    estimator as an inverse-probability-of-censoring weighted average. Am Stat 2001;55:207-210.
    """
    t, e = check_survival_target(time, event)
    n = t.shape[0]
    if arms is None:
        seen = {str(v) for v in np.asarray(arm, dtype=object)}
        if isinstance(policy, str) or np.asarray(policy).dtype.kind in "OUS":
            seen |= {str(v) for v in np.atleast_1d(np.asarray(policy, dtype=object))}
        arms = sorted(seen)
    names = check_arm_names(arms)
    k = len(names)
    a = arm_indices(arm, names, n, name="arm")
    d = arm_indices(policy, names, n, name="policy")
    if (
        isinstance(horizon, bool)
        or not isinstance(horizon, int | float)
        or not np.isfinite(horizon)
        or horizon <= 0
    ):
        raise ConfigError(f"'horizon' must be a positive, finite time, got {horizon!r}.")
    horizon = float(horizon)
    level = check_ci(ci)
    if int(n_resamples) != n_resamples or n_resamples < 0 or n_resamples == 1:
        raise ConfigError(
            f"'n_resamples' must be 0 (no interval) or an integer >= 2, got {n_resamples!r}."
        )
    e_rec = None
    if propensity is not None:
        p = np.asarray(propensity, dtype=np.float64)
        if p.shape != (n, k):
            raise SurvivalInputError(
                f"'propensity' must have shape (n_patients, n_arms) = ({n}, {k}), got {p.shape}."
            )
        e_rec = p[np.arange(n), a]
        bad = ~np.isfinite(e_rec) | (e_rec <= 0) | (e_rec > 1)
        if bad.any():
            raise SurvivalInputError(
                f"the propensity of the received arm must lie in (0, 1]; patient(s) "
                f"{np.flatnonzero(bad)[:10].tolist()} break this. Fix: clip propensities "
                "(e.g. to [0.01, 0.99]) or drop patients outside the common support."
            )
    matched = a == d
    if not matched.any():
        raise SurvivalInputError(
            "no patient received the arm the policy chooses for them, so its value cannot be "
            "estimated from these data."
        )
    value, undetermined = _values(t, e, a, d, horizon, e_rec, k, np.ones((1, n)))
    if undetermined[0].any():
        bad_arms = [names[j] for j in np.flatnonzero(undetermined[0])]
        last = {names[j]: float(t[a == j].max()) for j in np.flatnonzero(undetermined[0])}
        raise SurvivalInputError(
            f"'horizon' {horizon:g} lies past the follow-up of arm(s) {bad_arms} (last times "
            f"{last}, ending censored): whether their patients are event-free at the horizon is "
            "unknown. Fix: choose a horizon within every arm's follow-up."
        )
    est = float(value[0])
    reps = np.empty(0)
    n_failed = 0
    low = high = float("nan")
    if n_resamples:
        chunks = []
        for idx in resample_indices(n, int(n_resamples), seed):
            vals, und = _values(t, e, a, d, horizon, e_rec, k, _counts(idx, n))
            chunks.append(np.where(und.any(axis=1), np.nan, vals))
        allreps = np.concatenate(chunks)
        ok = np.isfinite(allreps)
        n_failed = int((~ok).sum())
        reps = allreps[ok]
        if reps.size < 2:
            raise SurvivalInputError(
                "fewer than 2 bootstrap resamples gave a defined policy value; the data are too "
                "small for an interval. Fix: use n_resamples=0."
            )
        if n_failed:
            warnings.warn(
                f"{n_failed} of {n_resamples} bootstrap resamples had no matched patient or no "
                "follow-up to the horizon in an arm the policy uses and were dropped.",
                UserWarning,
                stacklevel=2,
            )
        low, high = (float(q) for q in np.quantile(reps, [(1 - level) / 2, (1 + level) / 2]))
    return PolicyValue(
        value=est,
        low=low,
        high=high,
        horizon=horizon,
        n_matched=int(matched.sum()),
        resamples=reps,
        n_failed=n_failed,
    )
