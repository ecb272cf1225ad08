"""Treatment recommendation and its evaluation.

* :mod:`.propensity`: :class:`PropensityModel` (logistic model of the received arm, JSON
  state), :func:`overlap_diagnostic`, :func:`iptw_weights`, :func:`effective_sample_size`.
* :mod:`.recommend`: :func:`utility` (:math:`\\alpha P_{OS} + \\beta P_{LC}` per arm) and
  :func:`recommend` (best arm, benefit over the runner-up with an interval from draws).
* :mod:`.policy`: true policy value and agreement with the optimal arm in simulations
  (:func:`policy_value_oracle`, :func:`agreement`, :func:`policy_report`) and comparator
  policies (:func:`guideline_policy`, :func:`random_policy`, :func:`constant_policy`).
* :mod:`.ipw_value`: :func:`ipw_policy_value`, the event-free probability at a horizon under
  a policy, estimated on real data by IPW with IPCW and a bootstrap interval.
* :mod:`.table`: :func:`value_table`, the MM-Care Table 7 comparison.

Conventions: arms are named (``["sbrt", "surgery"]``) and every (n, n_arms) array has its
columns in that order; probabilities and utilities are of good outcomes (higher is better);
a policy is one arm per patient, given as names or as column indices.
"""

from __future__ import annotations

from oncofusion.decide.ipw_value import PolicyValue, ipw_policy_value
from oncofusion.decide.policy import (
    agreement,
    constant_policy,
    guideline_policy,
    policy_report,
    policy_value_oracle,
    random_policy,
)
from oncofusion.decide.propensity import (
    PropensityModel,
    effective_sample_size,
    iptw_weights,
    overlap_diagnostic,
)
from oncofusion.decide.recommend import NO_CLEAR_PREFERENCE, recommend, utility
from oncofusion.decide.table import comparator_policies, value_table

__all__ = [
    "NO_CLEAR_PREFERENCE",
    "PolicyValue",
    "PropensityModel",
    "agreement",
    "comparator_policies",
    "constant_policy",
    "effective_sample_size",
    "guideline_policy",
    "iptw_weights",
    "ipw_policy_value",
    "overlap_diagnostic",
    "policy_report",
    "policy_value_oracle",
    "random_policy",
    "recommend",
    "utility",
    "value_table",
]
