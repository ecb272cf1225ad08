"""Treatment assignment and potential outcomes (OS, local control) of the simulated NSCLC cohort.

Propensity of SBRT (confounding by fitness: older, lower FEV1/DLCO, more comorbidity and
worse ECOG lean to SBRT; central tumours lean to surgery):

.. math::

    \\mathrm{logit}\\, e(x) = \\alpha_e + 0.06(\\text{age} - 69) - 0.025(\\text{FEV1} - 80)
        - 0.015(\\text{DLCO} - 75) + 0.3(\\text{CCI} - 1.5) + 0.35\\,\\text{ECOG}
        - 0.4\\,\\text{central} + \\text{site}

Potential outcomes under arm :math:`a`: Weibull proportional hazards, common random numbers
across arms (the same uniform draw gives both potential times),

.. math::

    \\Lambda_a(t) = t^{k} e^{\\eta_a}, \\qquad \\eta^{OS}_a = \\alpha^{OS}_a + b^{OS}(x) + \\tau^{OS}_a(x),
    \\qquad \\eta^{LC}_a = \\alpha^{LC}_a + b^{LC}(x) + \\tau^{LC}_a(x)

with :math:`b` the prognostic part and :math:`\\tau_a` the arm-specific (effect-modifying)
part (coefficients in :func:`linear_predictors`): surgery carries a risk that grows with
frailty; SBRT does worse for larger and central tumours and for radioresistant biology
(STK11, NRF2 activity, proliferation). The intercepts :math:`\\alpha` are solved on a fixed
reference population so that, among patients treated with each arm, 3-year OS is 69%
(surgery) and 54% (SBRT) and 3-year local control 88% (surgery) and 85% (SBRT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

__all__ = ["NSCLCParams", "linear_predictors", "propensity_logit", "solve_intercepts"]

ARMS: tuple[str, ...] = ("sbrt", "surgery")


@dataclass(frozen=True)
class NSCLCParams:
    """Parameters of the NSCLC simulator (months; defaults after MM-Care, seed paper 002)."""

    p_sbrt: float = 0.40
    os_3y_surgery: float = 0.69
    os_3y_sbrt: float = 0.54
    lc_3y_surgery: float = 0.88
    lc_3y_sbrt: float = 0.85
    os_shape: float = 1.1
    lc_shape: float = 0.9
    accrual_min: float = 24.0
    accrual_max: float = 96.0
    ltfu_rate: float = 0.003
    lc_horizon: float = 36.0
    p_genomics_surgery: float = 0.72
    p_genomics_sbrt: float = 0.45
    p_no_ct: float = 0.01
    os_weight: float = 0.7
    lc_weight: float = 0.3


def _frailty_index(x: pd.DataFrame) -> np.ndarray:
    return (
        (x["age"] - 69) / 8.0 + (x["charlson"] - 1.5) / 1.3 - (x["fev1_pct"] - 80) / 18.0
        - (x["dlco_pct"] - 75) / 14.0
    ).to_numpy(np.float64) / 2.0  # fmt: skip


def propensity_logit(x: pd.DataFrame) -> np.ndarray:
    """The propensity's linear predictor without its intercept (complete clinical values)."""
    site = x["site"].map({"site_a": -0.3, "site_b": 0.0, "site_c": 0.5}).to_numpy(np.float64)
    return (
        0.06 * (x["age"] - 69) - 0.025 * (x["fev1_pct"] - 80) - 0.015 * (x["dlco_pct"] - 75)
        + 0.3 * (x["charlson"] - 1.5) + 0.35 * x["ecog"] - 0.4 * x["central"]
    ).to_numpy(np.float64) + site  # fmt: skip


def linear_predictors(x: pd.DataFrame) -> dict[str, np.ndarray]:
    """Log relative hazards of OS and LC under each arm, without the intercepts.

    ``x`` holds the complete clinical values, the imaging latents (``spic_z``, ``solid_z``,
    ``het_z``), the mutations and the module activities (every patient, observed or not).
    """
    f = lambda c: x[c].to_numpy(np.float64)
    size = f("tumour_size") - 2.2
    log_suv = np.log(f("suv_max") / 5.0)
    squam = (x["histology"] == "squamous").to_numpy(np.float64)
    central = f("central")
    prolif, immune, emt, hypoxia, nrf2 = (
        f(c) for c in ("proliferation", "immune", "emt", "hypoxia", "nrf2")
    )
    base_os = (
        0.03 * (f("age") - 69) + 0.12 * (f("charlson") - 1.5) - 0.008 * (f("fev1_pct") - 80)
        - 0.004 * (f("dlco_pct") - 75) + 0.2 * f("ecog") + 0.2 * (x["smoking_status"] == "current")
        + 0.3 * (f("bmi") < 20) + 0.35 * size + 0.25 * f("spic_z") + 0.15 * f("solid_z")
        + 0.1 * f("het_z") + 0.12 * squam + 0.15 * log_suv + 0.2 * f("tp53") + 0.3 * f("stk11")
        + 0.1 * f("kras") - 0.25 * f("egfr") + 0.2 * prolif - 0.15 * immune + 0.12 * emt
        + 0.1 * hypoxia + 0.12 * nrf2
    )  # fmt: skip
    base_lc = (
        0.4 * size + 0.35 * f("spic_z") + 0.35 * f("solid_z") + 0.15 * f("het_z") + 0.2 * squam
        + 0.2 * prolif + 0.15 * log_suv
    )  # fmt: skip
    frail = _frailty_index(x)
    return {
        "os_surgery": base_os + 0.5 * frail - 0.1 * size,
        "os_sbrt": base_os
        + 0.2 * size
        + 0.25 * central
        + 0.2 * f("stk11")
        + 0.15 * nrf2
        + 0.1 * prolif,
        "lc_surgery": base_lc + 0.2 * f("spic_z") + 0.15 * emt,
        "lc_sbrt": base_lc
        + 0.2 * size
        + 0.35 * nrf2
        + 0.3 * f("stk11")
        + 0.25 * central
        + 0.1 * hypoxia,
    }


def _weibull_surv(t: float, eta: np.ndarray, shape: float) -> np.ndarray:
    return np.exp(-(t**shape) * np.exp(eta))


def solve_intercepts(ref: pd.DataFrame, params: NSCLCParams) -> dict[str, float]:
    """Intercepts of the propensity and of the four outcome models on a reference population.

    :math:`\\alpha_e` gives :math:`E\\,e(x) =` ``p_sbrt``; each outcome intercept gives the
    target 3-year probability averaged over the patients treated with that arm (weights
    :math:`e(x)` for SBRT, :math:`1 - e(x)` for surgery).
    """
    lin_e = propensity_logit(ref)
    a_e = brentq(lambda a: float(expit(a + lin_e).mean()) - params.p_sbrt, -20.0, 20.0)
    e = expit(a_e + lin_e)
    lp = linear_predictors(ref)
    out = {"propensity": float(a_e)}
    targets = {
        "os_surgery": (params.os_3y_surgery, params.os_shape, 1.0 - e),
        "os_sbrt": (params.os_3y_sbrt, params.os_shape, e),
        "lc_surgery": (params.lc_3y_surgery, params.lc_shape, 1.0 - e),
        "lc_sbrt": (params.lc_3y_sbrt, params.lc_shape, e),
    }
    for key, (target, shape, w) in targets.items():

        def excess(
            a: float,
            eta: np.ndarray = lp[key],
            k: float = shape,
            wt: np.ndarray = w,
            tg: float = target,
        ) -> float:
            return float(np.average(_weibull_surv(36.0, a + eta, k), weights=wt)) - tg

        out[key] = float(brentq(excess, -40.0, 10.0, xtol=1e-10))
    return out
