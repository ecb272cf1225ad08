"""Risk tiers (low / intermediate / high) with thresholds fixed on the validation split.

The two cut-offs are the tertiles of the predicted risk by the primary horizon among the
run's validation patients (baseline predictions, the same quantity the patient report
tiers): a third of validation patients fall in each tier. They are computed from
validation data only, never from test patients or the patient being reported, so a tier
means "in the lowest / middle / highest third of comparable validation patients". For a
per-arm model the validation risk is that of the arm each patient received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TIER_NAMES", "Tier", "TierThresholds", "assign_tier", "tier_thresholds"]

TIER_NAMES = ("low", "intermediate", "high")


@dataclass(frozen=True)
class TierThresholds:
    """``low_below`` and ``high_from``: risk < low_below is low, >= high_from is high."""

    low_below: float
    high_from: float
    horizon: float
    n_validation: int
    rule: str = "tertiles of the predicted risk of the validation patients"


@dataclass(frozen=True)
class Tier:
    """A patient's tier with the thresholds that made it."""

    name: str
    risk: float
    thresholds: TierThresholds


def assign_tier(risk: float, thresholds: TierThresholds) -> Tier:
    """The tier of a risk (a probability; higher is worse)."""
    if risk >= thresholds.high_from:
        name = "high"
    elif risk < thresholds.low_below:
        name = "low"
    else:
        name = "intermediate"
    return Tier(name=name, risk=float(risk), thresholds=thresholds)


def _validation_risk(model: Any, cohort: Any, horizon: float) -> np.ndarray:
    """Baseline risk by ``horizon`` of every validation patient (under the arm received,
    for a per-arm model; the first arm where it is unknown)."""
    from oncofusion.report.outcomes import predict_outcomes, surv_at

    if hasattr(model, "predict_arms"):
        import warnings

        with warnings.catch_warnings():  # the validation patients' overlap is not this report's news
            warnings.simplefilter("ignore", UserWarning)
            ap = model.predict_arms(cohort, mc_samples=0)
        idx = np.maximum(ap.received_index(), 0)
        hazard, cuts = ap.os_hazard[np.arange(len(idx)), idx], ap.cuts
    else:
        out = predict_outcomes(model, cohort)
        cuts = out.cuts
        if out.arms:
            received = cohort.patients.set_index("patient_id")["arm"] if "arm" in cohort.patients else None
            rows = []
            for i, pid in enumerate(out.patient_ids):
                arm = None if received is None else received.get(pid)
                key = str(arm) if arm is not None and str(arm) in out.arms else out.arms[0]
                rows.append(out.blocks[key].hazard[i])
            hazard = np.asarray(rows)
        else:
            hazard = out.blocks[None].hazard
    return 1.0 - surv_at(np.cumprod(1.0 - hazard, axis=1), cuts, horizon)


def tier_thresholds(ctx: Any) -> TierThresholds | None:
    """The tier cut-offs of a run (:class:`~oncofusion.report.context.RunContext`).

    Read from ``metrics.json``'s ``risk_tiers`` when the evaluation stored them, else
    computed from the validation split of the run's cohort; None when the validation
    patients are not available (the report then says so instead of inventing tiers).
    """
    stored = ctx.metrics.get("risk_tiers")
    if stored:
        return TierThresholds(float(stored["low_below"]), float(stored["high_from"]), float(stored["horizon"]),
                              int(stored.get("n_validation", 0)))

    def compute() -> TierThresholds | None:
        val = ctx.split("val")
        if val is None or len(val) < 3:
            return None
        horizon = ctx.horizon
        risk = _validation_risk(ctx.model, val, horizon)
        risk = risk[np.isfinite(risk)]
        if risk.size < 3:
            return None
        lo, hi = np.quantile(risk, [1 / 3, 2 / 3])
        return TierThresholds(float(lo), float(hi), horizon, int(risk.size))

    return ctx.memo("tiers", compute)
