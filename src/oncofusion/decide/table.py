"""The recommendation-quality table (MM-Care Table 7): the model's policy against comparators.

Rows: the model, a fixed guideline rule (when given), "everyone <arm>" for each arm, random
choice and, when the truth is known, the oracle. Columns: with simulated truth, agreement with
the optimal arm and the true value (:func:`~oncofusion.decide.policy_report`); with observed
outcomes, the IPW estimate of the event-free probability at the horizon with its bootstrap
interval (:func:`~oncofusion.decide.ipw_policy_value`). Both when both are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.decide._checks import check_arm_names
from oncofusion.decide.ipw_value import ipw_policy_value
from oncofusion.decide.policy import constant_policy, policy_report, random_policy
from oncofusion.errors import ConfigError, SurvivalInputError

__all__ = ["comparator_policies", "value_table"]


def comparator_policies(
    n: int,
    arms: Sequence[str],
    *,
    guideline: Any | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The standard comparators: guideline (if given), everyone in each arm, random choice.

    ``guideline`` is one arm per patient, e.g. from :func:`~oncofusion.decide.guideline_policy`;
    the random policy draws arms uniformly with ``seed``.
    """
    names = check_arm_names(arms)
    out: dict[str, np.ndarray] = {}
    if guideline is not None:
        g = np.asarray(guideline, dtype=object)
        if g.shape != (n,):
            raise SurvivalInputError(
                f"'guideline' must have one arm per patient ({n}), got shape {g.shape}."
            )
        out["guideline"] = g
    for a in names:
        out[f"everyone {a}"] = constant_policy(n, a)
    out["random"] = random_policy(n, names, seed=seed)
    return out


def value_table(
    model_policy: Any,
    arms: Sequence[str],
    *,
    model_name: str = "model",
    true_utility: Any | None = None,
    optimal: Any | None = None,
    time: Any | None = None,
    event: Any | None = None,
    received: Any | None = None,
    horizon: float | None = None,
    propensity: Any | None = None,
    guideline: Any | None = None,
    extra_policies: dict[str, Any] | None = None,
    seed: int = 0,
    n_resamples: int = 1000,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Compare the model's recommendations with the comparator policies (MM-Care Table 7).

    Parameters
    ----------
    model_policy
        The model's arm per patient, e.g. ``recommend(...)["recommended"]``.
    arms
        Arm names, in the column order of ``true_utility`` and ``propensity``.
    model_name
        Row label of the model (e.g. "MM-Care").
    true_utility, optimal
        Simulated truth: (n, n_arms) true utilities and (optionally) the true optimal arm.
        Gives the columns of :func:`~oncofusion.decide.policy_report`.
    time, event, received, horizon, propensity
        Observed outcomes, the arm actually received and the horizon: gives ``ipw_value``,
        ``ipw_low``, ``ipw_high`` and ``n_matched`` from
        :func:`~oncofusion.decide.ipw_policy_value` (``propensity`` None for a randomised trial).
    guideline
        The guideline rule's arm per patient (:func:`~oncofusion.decide.guideline_policy`).
    extra_policies
        More named policies to include (e.g. "expert consensus").
    seed
        Seeds the random policy and the bootstrap.
    n_resamples, ci
        Bootstrap resamples and interval level (for the IPW value and agreement intervals).

    Returns
    -------
    pandas.DataFrame
        One row per policy (``policy`` column first), the model first and the oracle last.
    """
    names = check_arm_names(arms)
    pol = np.asarray(
        model_policy.to_numpy() if hasattr(model_policy, "to_numpy") else model_policy, dtype=object
    )
    if pol.ndim != 1 or pol.size == 0:
        raise SurvivalInputError(
            f"'model_policy' must be one arm per patient, got shape {pol.shape}."
        )
    n = pol.shape[0]
    has_truth = true_utility is not None
    outcome = (time, event, received, horizon)
    has_outcome = any(v is not None for v in outcome)
    if has_outcome and any(v is None for v in outcome):
        raise ConfigError(
            "observed-outcome evaluation needs all of 'time', 'event', 'received' and 'horizon'."
        )
    if not has_truth and not has_outcome:
        raise ConfigError(
            "nothing to evaluate against: pass 'true_utility' (simulated truth) and/or "
            "'time', 'event', 'received', 'horizon' (observed outcomes)."
        )
    policies: dict[str, Any] = {str(model_name): pol}
    for name, p in comparator_policies(n, names, guideline=guideline, seed=seed).items():
        if name in policies:
            raise ConfigError(f"'model_name' {model_name!r} clashes with a comparator's name.")
        policies[name] = p
    for name, p in (extra_policies or {}).items():
        if name in policies:
            raise ConfigError(f"'extra_policies' name {name!r} is already used.")
        policies[name] = p

    if has_truth:
        table = policy_report(
            policies, true_utility, optimal, arms=names, ci=ci, include_oracle=True
        )
        oracle_arms = (
            np.asarray(true_utility, dtype=np.float64).argmax(axis=1)
            if optimal is None
            else optimal
        )
    else:
        table = pd.DataFrame({"policy": list(policies)})
        oracle_arms = None
    if has_outcome:
        rows = dict(policies)
        if oracle_arms is not None:
            rows["oracle (true optimal)"] = oracle_arms
        assert horizon is not None  # checked above with the other outcome arguments
        vals = [
            ipw_policy_value(
                time,
                event,
                received,
                p,
                horizon,
                propensity,
                arms=names,
                n_resamples=n_resamples,
                ci=ci,
                seed=seed,
            )
            for p in rows.values()
        ]
        ipw = pd.DataFrame(
            {
                "policy": list(rows),
                "ipw_value": [v.value for v in vals],
                "ipw_low": [v.low for v in vals],
                "ipw_high": [v.high for v in vals],
                "n_matched": [v.n_matched for v in vals],
            }
        )
        table = table.merge(ipw, on="policy", how="left", sort=False)
    table.attrs.update({"n": n, "arms": names, "horizon": horizon, "model": str(model_name)})
    return table
