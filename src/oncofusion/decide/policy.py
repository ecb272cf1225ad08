"""Evaluating a treatment policy (one arm per patient) against the truth of a simulation.

In a simulated cohort the true utility of every arm is known for every patient, so a policy
:math:`d` has a true value :math:`V(d) = n^{-1} \\sum_i U_i(d_i)` and can be compared with
the oracle :math:`d^*_i = \\arg\\max_k U_i(k)`. MM-Care's Table 7 reports the agreement of a
policy with the optimal arm ("recommendation accuracy") for the model and for comparators
(random choice, a fixed clinical guideline); agreement alone hides how much is lost when a
policy errs, so the value and its share of the oracle's value are reported beside it.
Real data (no truth) are evaluated with :func:`oncofusion.decide.ipw_policy_value`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.decide._checks import arm_indices, check_arm_names, check_ci
from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.metrics._wilson import wilson_interval

__all__ = [
    "agreement",
    "constant_policy",
    "guideline_policy",
    "policy_report",
    "policy_value_oracle",
    "random_policy",
]


def _utility_matrix(true_utility: Any) -> np.ndarray:
    u = np.asarray(true_utility, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] < 2 or u.shape[0] == 0:
        raise SurvivalInputError(
            f"'true_utility' must have shape (n_patients, n_arms) with n_arms >= 2, got {u.shape}."
        )
    if not np.isfinite(u).all():
        raise SurvivalInputError("'true_utility' must be finite; it contains NaN or inf.")
    return u


def _arm_names(arms: Sequence[str] | None, k: int) -> list[str]:
    if arms is None:
        return [str(j) for j in range(k)]
    names = check_arm_names(arms)
    if len(names) != k:
        raise SurvivalInputError(f"'true_utility' has {k} columns for {len(names)} arms {names}.")
    return names


def policy_value_oracle(
    policy: Any, true_utility: Any, *, arms: Sequence[str] | None = None
) -> float:
    """True value of a policy: the mean true utility of the arms it chooses.

    .. math:: V(d) = \\frac{1}{n} \\sum_{i=1}^n U_i(d_i)

    Parameters
    ----------
    policy
        One arm per patient: names (with ``arms``) or column indices of ``true_utility``.
    true_utility
        (n, n_arms) true utilities, e.g. :math:`0.7 P_{OS} + 0.3 P_{LC}` from the simulator's
        true probabilities (:func:`oncofusion.decide.utility`); higher is better.
    arms
        Arm names in the column order of ``true_utility``.
    """
    u = _utility_matrix(true_utility)
    d = arm_indices(policy, _arm_names(arms, u.shape[1]), u.shape[0], name="policy")
    return float(u[np.arange(u.shape[0]), d].mean())


def agreement(policy: Any, optimal: Any, *, arms: Sequence[str] | None = None) -> float:
    """Share of patients whose policy arm is the optimal arm (MM-Care's "Rec. Acc.").

    .. math:: \\mathrm{agreement}(d) = \\frac{1}{n} \\sum_i 1\\{d_i = d^*_i\\}

    Both arguments hold arm names, or indices; with ``arms`` names and indices may be mixed.
    """
    if arms is None:
        o = np.asarray(optimal)
        p = np.asarray(policy)
        if o.ndim != 1 or o.shape[0] == 0:
            raise SurvivalInputError(
                f"'optimal' must be a non-empty 1-D array of arms, got shape {o.shape}."
            )
        if p.shape != o.shape:
            raise SurvivalInputError(
                f"'policy' must have one arm per patient ({o.shape[0]}), got shape {p.shape}."
            )
        return float((p.astype(str) == o.astype(str)).mean())
    names = check_arm_names(arms)
    o_idx = arm_indices(optimal, names, name="optimal")
    p_idx = arm_indices(policy, names, o_idx.shape[0], name="policy")
    return float((p_idx == o_idx).mean())


def constant_policy(n: int, arm: str) -> np.ndarray:
    """Everyone receives ``arm`` (the "everyone surgery" / "everyone SBRT" comparators)."""
    if int(n) != n or n < 1:
        raise ConfigError(f"'n' must be a positive number of patients, got {n!r}.")
    return np.full(int(n), str(arm), dtype=object)


def random_policy(
    n: int, arms: Sequence[str], *, seed: int = 0, p: Sequence[float] | None = None
) -> np.ndarray:
    """Each patient gets an arm drawn at random (uniformly, or with probabilities ``p``).

    Its expected agreement with any fixed optimal assignment is :math:`\\sum_k p_k \\pi^*_k`
    (1/2 for two arms drawn uniformly, MM-Care's "Random Choice 50.0%").
    """
    names = check_arm_names(arms)
    if int(n) != n or n < 1:
        raise ConfigError(f"'n' must be a positive number of patients, got {n!r}.")
    probs = None
    if p is not None:
        probs = np.asarray(p, dtype=np.float64)
        if probs.shape != (len(names),) or (probs < 0).any() or abs(probs.sum() - 1) > 1e-9:
            raise ConfigError(
                f"'p' must be {len(names)} non-negative probabilities summing to 1, got {p!r}."
            )
    rng = np.random.default_rng(seed)
    return np.asarray(names, dtype=object)[rng.choice(len(names), size=int(n), p=probs)]


def guideline_policy(
    df: pd.DataFrame,
    fev1_col: str = "fev1",
    charlson_col: str = "charlson",
    *,
    fev1_min: float = 80.0,
    charlson_max: float = 2.0,
    operable_arm: str = "surgery",
    inoperable_arm: str = "sbrt",
) -> np.ndarray:
    """A fixed operability rule: fit patients get surgery, the others SBRT.

    .. math:: d_i = \\text{surgery if } \\mathrm{FEV1}_i \\ge \\text{fev1\\_min} \\text{ and }
              \\mathrm{CCI}_i \\le \\text{charlson\\_max}, \\text{ else SBRT}

    Parameters
    ----------
    df
        Patient table with the two columns.
    fev1_col
        FEV1 in **% of predicted** (as in MM-Care's Table 8).
    charlson_col
        Charlson comorbidity index (integer score, 0 = no comorbidity).
    fev1_min
        Lowest FEV1 (% predicted) for surgery. Default 80: with FEV1 (and DLCO) above 80% of
        predicted, lobectomy is possible without further physiological testing (BTS 2001;
        ACCP, Brunelli et al. 2013).
    charlson_max
        Highest comorbidity index for surgery. Default 2: a CCI of 3 or more is the usual
        "high comorbidity" band, with markedly higher post-operative mortality (Charlson et
        al. 1987; Birim et al. 2003).
    operable_arm, inoperable_arm
        The arm names for the two outcomes of the rule.

    Returns
    -------
    numpy.ndarray
        One arm name per row of ``df``.

    References
    ----------
    British Thoracic Society. Guidelines on the selection of patients with lung cancer for
    surgery. Thorax 2001;56:89-108. Brunelli A et al. Physiologic evaluation of the patient
    with lung cancer being considered for resectional surgery: ACCP guidelines (3rd ed.).
    Chest 2013;143(5 Suppl):e166S-e190S. Birim O et al. Charlson comorbidity index as a
    predictor of long-term outcome after surgery for NSCLC. Eur J Cardiothorac Surg
    2003;23:30-34.
    """
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"'df' must be a pandas DataFrame of patients, got {type(df).__name__}.")
    cols = {}
    for arg, col in (("fev1_col", fev1_col), ("charlson_col", charlson_col)):
        if col not in df.columns:
            raise SurvivalInputError(
                f"'{arg}' names the column '{col}', which the patient table lacks; it has "
                f"{list(df.columns)[:20]}. Fix: pass the right column name."
            )
        vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(vals)
        if bad.any():
            raise SurvivalInputError(
                f"column '{col}' is missing or not numeric in row(s) "
                f"{np.flatnonzero(bad)[:10].tolist()}, so the guideline cannot decide there. "
                "Fix: impute it or drop those patients."
            )
        cols[arg] = vals
    fev1, cci = cols["fev1_col"], cols["charlson_col"]
    if fev1_min > 10 and fev1.max() <= 10:
        raise SurvivalInputError(
            f"column '{fev1_col}' has values up to {fev1.max():g}, which look like litres, but "
            f"fev1_min={fev1_min:g} is in % of predicted. Fix: pass FEV1 % predicted, or set "
            "fev1_min in litres (e.g. 1.5, the BTS threshold for lobectomy)."
        )
    fit = (fev1 >= fev1_min) & (cci <= charlson_max)
    return np.where(fit, str(operable_arm), str(inoperable_arm)).astype(object)


def policy_report(
    policies: Mapping[str, Any],
    true_utility: Any,
    optimal: Any | None = None,
    *,
    arms: Sequence[str] | None = None,
    ci: float = 0.95,
    include_oracle: bool = True,
) -> pd.DataFrame:
    """MM-Care Table 7 with values: agreement with the optimal arm and true policy value.

    For each policy :math:`d`: agreement with the optimal arm (with its Wilson interval), the
    true value :math:`V(d)`, its share of the oracle's value :math:`V(d)/V(d^*)` and the
    regret :math:`V(d^*) - V(d)`, where :math:`d^*_i = \\arg\\max_k U_i(k)`.

    Parameters
    ----------
    policies
        Name -> one arm per patient (e.g. ``{"MM-Care": rec["recommended"], "everyone
        surgery": ..., "guideline": guideline_policy(...), "random": random_policy(...)}``).
    true_utility
        (n, n_arms) true utilities (higher is better), columns in the order of ``arms``.
    optimal
        The true optimal arm per patient (default: the argmax of ``true_utility``; pass the
        simulator's own when it breaks ties differently).
    arms
        Arm names in column order (needed when policies hold names).
    ci
        Level of the agreement intervals.
    include_oracle
        Add a last row for the optimal policy itself.

    Returns
    -------
    pandas.DataFrame
        Columns ``policy``, ``agreement``, ``agreement_low``, ``agreement_high``, ``value``,
        ``value_share``, ``regret``, and ``share_<arm>`` (fraction of patients the policy
        sends to each arm).
    """
    level = check_ci(ci)
    u = _utility_matrix(true_utility)
    n, k = u.shape
    names = _arm_names(arms, k)
    if not isinstance(policies, Mapping) or not policies:
        raise ConfigError(
            "'policies' must be a non-empty dict mapping a policy name to one arm per patient."
        )
    opt = u.argmax(axis=1) if optimal is None else arm_indices(optimal, names, n, name="optimal")
    oracle_value = float(u[np.arange(n), opt].mean())
    if oracle_value <= 0:
        raise SurvivalInputError(
            f"the oracle policy has value {oracle_value:g} <= 0, so a share of it is meaningless. "
            "Fix: use non-negative utilities (weighted probabilities of good outcomes)."
        )
    rows = list(policies.items()) + ([("oracle (true optimal)", opt)] if include_oracle else [])
    records = []
    for name, pol in rows:
        d = arm_indices(pol, names, n, name=f"policies['{name}']")
        hits = int((d == opt).sum())
        agree, lo, hi = wilson_interval(hits, n, level)
        value = float(u[np.arange(n), d].mean())
        rec = {
            "policy": str(name),
            "agreement": agree,
            "agreement_low": lo,
            "agreement_high": hi,
            "value": value,
            "value_share": value / oracle_value,
            "regret": oracle_value - value,
        }
        share = np.bincount(d, minlength=k) / n
        rec.update({f"share_{a}": float(share[j]) for j, a in enumerate(names)})
        records.append(rec)
    out = pd.DataFrame.from_records(records)
    out.attrs.update({"n": n, "oracle_value": oracle_value, "ci": level, "arms": names})
    return out
