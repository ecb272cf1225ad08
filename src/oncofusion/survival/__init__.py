"""Survival building blocks: target checks, Kaplan-Meier, time discretisation,
hazard <-> survival conversions and losses (pure tensor functions).

Names are imported lazily (PEP 562), so ``import oncofusion.survival`` does not pull in
torch until a torch-based name is used.
"""

from __future__ import annotations

from oncofusion.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # target.py
    "check_survival_target": "target",
    "check_risk": "target",
    "check_same_length": "target",
    # nonparametric.py
    "KaplanMeier": "nonparametric",
    "kaplan_meier": "nonparametric",
    "censoring_kaplan_meier": "nonparametric",
    "step_at": "nonparametric",
    # discretize.py
    "Discretizer": "discretize",
    "DiscreteLabels": "discretize",
    # transforms.py
    "survival_from_hazard": "transforms",
    "survival_from_logit_hazard": "transforms",
    "cumulative_risk_from_hazard": "transforms",
    "cumulative_hazard_from_hazard": "transforms",
    "pmf_from_hazard": "transforms",
    "hazard_from_pmf": "transforms",
    "hazard_from_survival": "transforms",
    "hazard_rate_from_hazard": "transforms",
    "interpolate_survival": "transforms",
    "restricted_mean_survival_time": "transforms",
    "landmark_conditional": "transforms",
    "check_grid": "transforms",
    # losses/
    "DegenerateBatchWarning": "losses",
    "CensoringWeights": "losses",
    "HorizonLabels": "losses",
    "at_risk_and_targets": "losses",
    "binary_outcome_loss": "losses",
    "censoring_weights": "losses",
    "cox_partial_likelihood": "losses",
    "deephit_competing_loss": "losses",
    "deephit_loss": "losses",
    "discrete_nll": "losses",
    "hazard_smoothness": "losses",
    "horizon_labels": "losses",
    "ipcw_brier_loss": "losses",
    "ranking_loss": "losses",
}

__all__ = [
    "CensoringWeights",
    "DegenerateBatchWarning",
    "DiscreteLabels",
    "Discretizer",
    "HorizonLabels",
    "KaplanMeier",
    "at_risk_and_targets",
    "binary_outcome_loss",
    "censoring_kaplan_meier",
    "censoring_weights",
    "check_grid",
    "check_risk",
    "check_same_length",
    "check_survival_target",
    "cox_partial_likelihood",
    "cumulative_hazard_from_hazard",
    "cumulative_risk_from_hazard",
    "deephit_competing_loss",
    "deephit_loss",
    "discrete_nll",
    "hazard_from_pmf",
    "hazard_from_survival",
    "hazard_rate_from_hazard",
    "hazard_smoothness",
    "horizon_labels",
    "interpolate_survival",
    "ipcw_brier_loss",
    "kaplan_meier",
    "landmark_conditional",
    "pmf_from_hazard",
    "ranking_loss",
    "restricted_mean_survival_time",
    "step_at",
    "survival_from_hazard",
    "survival_from_logit_hazard",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
