"""Everything one patient's report shows, computed once and rendered twice (HTML and PDF).

:func:`build_patient_data` scores the patient (baseline curve with its MC-dropout band,
the tier, the update after each follow-up visit, per-arm outcomes and the recommendation
for a model with arms), explains the baseline prediction (Grad-CAM, SHAP, modality
contributions; :mod:`oncofusion.explain`) or, for MM-Care, the treatment decision
(:func:`oncofusion.explain.explain_decision`: the benefit of the recommended arm and
:math:`P_{OS}`/:math:`P_{LC}` under each arm), reads the temporal attention after the last
visit, and checks the data (:mod:`oncofusion.report.quality`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError, ConfigError, OncofusionError
from oncofusion.report.arms import PatientArms, patient_arms
from oncofusion.report.context import RunContext, training_ranges, used_modalities
from oncofusion.report.outcomes import (
    Curve,
    band_label,
    curve_on_grid,
    has_dropout,
    predict_outcomes,
    risk_at,
    surv_at,
    surv_draws_of,
)
from oncofusion.report.quality import Flag, patch_unseen_categories, quality_flags
from oncofusion.report.tiers import Tier, assign_tier, tier_thresholds

__all__ = ["ArmsView", "PatientReportData", "VisitUpdate", "build_patient_data"]


@dataclass
class VisitUpdate:
    """The prediction after a follow-up visit at ``time``: risk by the horizon given
    event-free at ``time`` (None when the visit is at or past the horizon)."""

    time: float
    risk: float | None
    curve: Curve
    measured: dict[str, float]


@dataclass
class ArmsView:
    """Per-arm outcomes of one patient and the recommendation (MM-Care)."""

    arms: list[str]
    os_curves: dict[str, Curve]
    lc: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None] | None]
    decision_horizon: float
    lc_horizon: float | None
    p_os: dict[str, tuple[float, float | None, float | None]]
    p_lc: dict[str, tuple[float, float | None, float | None]]
    recommendation: dict[str, Any]
    received: str | None
    reference: str
    outside_support: bool | None = None
    propensity: dict[str, float] | None = None


@dataclass
class PatientReportData:
    """The content of a patient report (see the module docstring)."""

    patient_id: str
    cohort_name: str
    time_unit: str
    generated: str
    ctx: RunContext
    horizon: float
    horizons: list[float]
    curve: Curve
    n_draws: int
    band_text: str
    horizon_risks: list[tuple[float, float, float | None, float | None]]
    tier: Tier | None
    headline: str
    updates: list[VisitUpdate]
    arms: ArmsView | None
    explanation: Any
    explanation_note: str
    biomarkers: pd.DataFrame | None
    attention: pd.DataFrame | None
    attention_landmark: float | None
    flags: list[Flag] = field(default_factory=list)
    decision: Any = None
    labels: dict[str, str] = field(default_factory=dict)


def _patient(cohort: Any, patient_id: str) -> Any:
    pid = str(patient_id)
    ids = [str(p) for p in cohort.patient_ids]
    if pid not in set(ids):
        import difflib

        close = difflib.get_close_matches(pid, ids, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise CohortError(f"patient '{pid}' is not in cohort '{cohort.name}' ({len(ids)} patients).{hint}",
                          file="patients.csv", column="patient_id", fix="pass an id from the cohort's patients.csv.")
    return cohort.subset([pid])


def _draw_stats(value: float, draws: np.ndarray | None) -> tuple[float, float | None, float | None]:
    if draws is None or len(draws) < 2:
        return float(value), None, None
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return float(value), float(min(lo, value)), float(max(hi, value))


def _quantiles(draws: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    if draws is None or len(draws) < 2:
        return None, None
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    return lo, hi


def _arms_view(pa: PatientArms, baseline: float) -> ArmsView:
    rec = pa.recommendation
    dh = float(rec["horizon"])
    os_curves: dict[str, Curve] = {}
    lc: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None] | None] = {}
    p_os: dict[str, tuple[float, float | None, float | None]] = {}
    p_lc: dict[str, tuple[float, float | None, float | None]] = {}
    lc_h = None
    j = 0
    if pa.lc_times is not None:
        j = int(np.argmin(np.abs(pa.lc_times - dh)))
        lc_h = float(pa.lc_times[j])
    for a, arm in enumerate(pa.arms):
        draws = None if pa.os_surv_draws is None else pa.os_surv_draws[:, a]
        os_curves[arm] = curve_on_grid(pa.os_hazard[a], pa.cuts, surv_draws=draws, baseline=baseline)
        point = float(surv_at(np.cumprod(1 - pa.os_hazard[a])[None], pa.cuts, dh)[0])
        p_os[arm] = _draw_stats(point, None if draws is None else surv_at(draws, pa.cuts, dh))
        lc[arm] = None
        if pa.lc_control is not None and pa.lc_times is not None:
            ld = None if pa.lc_draws is None else pa.lc_draws[:, a]
            lo, hi = _quantiles(ld)
            lc[arm] = (pa.lc_times, pa.lc_control[a], lo, hi)
            p_lc[arm] = _draw_stats(float(pa.lc_control[a, j]), None if ld is None else ld[:, j])
    reference = pa.received if pa.received in pa.arms else str(rec["recommended"])
    return ArmsView(arms=pa.arms, os_curves=os_curves, lc=lc, decision_horizon=dh, lc_horizon=lc_h, p_os=p_os,
                    p_lc=p_lc, recommendation=rec, received=pa.received, reference=reference,
                    outside_support=pa.outside_support, propensity=pa.propensity)


def _horizons(model_horizons: Any, primary: float) -> list[float]:
    """The model's horizons and the primary one, without near-duplicates (an evaluation
    horizon set just before the end of follow-up, 11.999999, is the horizon 12)."""
    out = [float(primary)]
    for h in sorted(float(x) for x in model_horizons):
        if not any(np.isclose(h, o, atol=1e-3) for o in out):
            out.append(h)
    return sorted(out)


def _on_grid(t: float, cuts: np.ndarray) -> float:
    """``t`` snapped to the nearest cut when within 1e-3 (so an explanation target "risk at
    12" is the risk at the cut 12, not at the cut before it)."""
    k = int(np.argmin(np.abs(cuts - t)))
    return float(cuts[k]) if abs(cuts[k] - t) <= 1e-3 * max(1.0, abs(t)) else float(t)


def _presence(model: Any, patient: Any) -> dict[str, bool]:
    """Modality -> whether the model gets it for this patient (its sample's modality mask,
    or the patient's tables for a model without ``make_dataset``)."""
    if hasattr(model, "make_dataset"):
        return {m: bool(v) for m, v in model.make_dataset(patient)[0]["modality_mask"].items()}
    bm = patient.biomarkers
    markers = list(patient.schema.biomarkers)
    clinical = list(patient.schema.clinical.all)
    return {
        "imaging": patient.imaging is not None and len(patient.imaging) > 0,
        "biomarkers": bm is not None and len(bm) > 0 and bool(bm[markers].notna().any().any()),
        "genomics": patient.genomics is not None and len(patient.genomics) > 0,
        "clinical": bool(patient.patients[clinical].notna().any(axis=1).iloc[0]) if clinical else False,
    }


def _updates(model: Any, patient: Any, horizon: float, baseline: float, key: str | None) -> list[VisitUpdate]:
    bm = patient.biomarkers
    if bm is None or not len(bm) or "biomarkers" not in used_modalities(model) or not hasattr(model, "make_dataset"):
        return []
    cuts = np.asarray(model.cuts, dtype=float)
    markers = list(patient.schema.biomarkers)
    updates = []
    for t in sorted({float(x) for x in bm["time"]}):
        if t < baseline or t >= cuts[-1]:
            continue
        out = predict_outcomes(model, patient, max_visit_time=t)
        curve = curve_on_grid(out.blocks[key].hazard[0], cuts, landmark=t, baseline=baseline)
        row = bm[bm["time"] == t].iloc[0]
        measured = {m: float(row[m]) for m in markers if m in row and pd.notna(row[m])}
        risk = risk_at(curve.times, curve.risk, horizon) if t < horizon else None
        updates.append(VisitUpdate(time=t, risk=risk, curve=curve, measured=measured))
    return updates


def _background(ctx: RunContext, patched: Any, pid: str, seed: int) -> tuple[Any, str]:
    """The SHAP background (the run's training patients) and the sentence that says what it is."""
    background = ctx.split("train")
    note = ""
    if background is None:
        others = [p for p in patched.patient_ids if p != pid]
        background = patched.subset(others) if others else None
        note = ("SHAP background: other patients of this cohort (the run's training patients were not available)."
                if background is not None else "No SHAP values: no background patients are available.")
    elif len(background) > 50:
        note = f"SHAP background: 50 training patients drawn at random (seed {seed})."
    else:
        note = f"SHAP background: the {len(background)} training patients."
    return background, note


def _explain(ctx: RunContext, patched: Any, pid: str, horizon: float, arm: str | None,
             seed: int, shap_nsamples: int | str) -> tuple[Any, str]:
    from oncofusion.explain import explain_with_predictor, make_target

    model = ctx.model
    cuts = np.asarray(model.cuts, dtype=float)
    target = make_target("risk", time=_on_grid(horizon, cuts), cuts=cuts, arm=arm)
    background, note = _background(ctx, patched, pid, seed)
    expl = explain_with_predictor(model, patched, pid, target=target, background=background, n_frames=3,
                                  shap_nsamples=shap_nsamples, seed=seed)
    return expl, note


def _explain_decision(ctx: RunContext, patched: Any, pid: str, view: ArmsView, seed: int,
                      shap_nsamples: int | str) -> tuple[Any, str]:
    """The MM-Care decision explained: the recommended arm against the runner-up, with the
    weights and horizon of the recommendation the report shows."""
    from oncofusion.explain import explain_decision

    rec = view.recommendation
    best = str(rec["recommended"])
    others = [a for a in view.arms if a != best]
    versus = max(others, key=lambda a: float(rec[f"utility_{a}"]))
    background, note = _background(ctx, patched, pid, seed)

    def given(key: str) -> float | None:  # the recommendation's own weights and horizon, when it has them
        v = rec.get(key)
        return float(v) if isinstance(v, int | float) and np.isfinite(v) else None

    dec = explain_decision(ctx.model, patched, pid, background=background, recommended=best, versus=versus,
                           alpha=given("alpha"), beta=given("beta"), horizon=given("horizon"), n_slices=3,
                           shap_nsamples=shap_nsamples, seed=seed)
    return dec, note


def build_patient_data(ctx: RunContext, cohort: Any, patient_id: str, *, n_draws: int = 40,
                       explain: bool = True, seed: int = 0,
                       shap_nsamples: int | str = "auto") -> PatientReportData:
    """Score, explain and check one patient for the report.

    Parameters
    ----------
    ctx
        The run (:func:`~oncofusion.report.context.run_context`).
    cohort
        A cohort holding the patient, in the model's format.
    patient_id
        The patient.
    n_draws
        Monte-Carlo-dropout passes for the band (0: no band).
    explain
        Compute Grad-CAM/SHAP/contributions (the slowest part).
    seed
        Seed of the dropout draws and of SHAP.
    shap_nsamples
        Kernel SHAP coalitions (``"auto"``: every coalition up to 11 variables, else
        ``2 M + 2048`` for ``M`` variables).
    """
    model = ctx.model
    patient = _patient(cohort, patient_id)
    pid = str(patient.patient_ids[0])
    patched, unseen = patch_unseen_categories(patient, model.preprocessor)
    config = getattr(model, "config", None)
    baseline = float(config.data.baseline) if config is not None else 0.0
    horizon = ctx.horizon
    cuts = np.asarray(model.cuts, dtype=float)
    draws = int(n_draws) if has_dropout(model.network) else 0
    out = None
    if hasattr(model, "make_dataset") and not hasattr(model, "predict_arms"):
        out = predict_outcomes(model, patched, n_draws=draws, seed=seed)
    pa = patient_arms(model, patched, n_draws=draws, seed=seed, horizon=horizon, outcomes=out)
    arms_view = None
    key: str | None = None
    if pa is not None:
        arms_view = _arms_view(pa, baseline)
        key = arms_view.reference
        a = pa.arms.index(key)
        hazard, surv_draws = pa.os_hazard[a], None if pa.os_surv_draws is None else pa.os_surv_draws[:, a]
    elif out is not None:
        hazard, surv_draws = out.blocks[None].hazard[0], surv_draws_of(out.blocks[None].hazard_draws)
        surv_draws = None if surv_draws is None else surv_draws[:, 0]
    else:
        raise ConfigError(f"reports need a model with make_dataset() or predict_arms(); {type(model).__name__} "
                          "has neither.")
    curve = curve_on_grid(hazard, cuts, surv_draws=surv_draws, baseline=baseline)
    horizon_risks = []
    for h in _horizons(getattr(model, "horizons", []), horizon):
        if cuts[0] < h <= cuts[-1]:
            point = risk_at(curve.times, curve.risk, h)
            lo = None if curve.low is None else risk_at(curve.times, curve.low, h)
            hi = None if curve.high is None else risk_at(curve.times, curve.high, h)
            horizon_risks.append((h, point, lo, hi))
    thresholds = tier_thresholds(ctx)
    headline_risk = risk_at(curve.times, curve.risk, horizon)
    tier = assign_tier(headline_risk, thresholds) if thresholds is not None else None
    unit = model.schema.time_unit
    headline = f"Risk of the event by {horizon:g} {unit}"
    if arms_view is not None:
        why = "received arm" if arms_view.reference == arms_view.received else "recommended arm"
        headline = f"Risk of death by {horizon:g} {unit} under {arms_view.reference} ({why})"

    present = _presence(model, patched)
    flags = unseen + quality_flags(model, patient, present, training_ranges(ctx), arms=pa.arms if pa else [],
                                   outside_support=pa.outside_support if pa else None,
                                   propensity=pa.propensity if pa else None)

    expl, decision, note = None, None, "Explanations were not requested."
    if explain and hasattr(model, "model_inputs") and arms_view is not None:
        try:
            decision, note = _explain_decision(ctx, patched, pid, arms_view, seed, shap_nsamples)
        except OncofusionError as e:
            note = f"Explanations are not available for this patient: {e}"
    elif explain and not hasattr(model, "make_dataset"):
        note = (f"Explanations are not available for {type(model).__name__} yet: it exposes neither "
                "make_dataset() nor model_inputs(), which Grad-CAM and SHAP need to rebuild the model's input.")
    elif explain:
        try:
            expl, note = _explain(ctx, patched, pid, horizon, key, seed, shap_nsamples)
        except OncofusionError as e:
            note = f"Explanations are not available for this patient: {e}"

    attention, att_time = None, None
    bm = patched.biomarkers
    if bm is not None and len(bm) and "biomarkers" in used_modalities(model) and hasattr(model, "make_dataset"):
        from oncofusion.data.collate import collate_patients
        from oncofusion.explain import attention_tables

        att_time = float(min(bm["time"].max(), cuts[-1]))
        late = model.make_dataset(patched, max_visit_time=att_time)
        tables = attention_tables(model.network, collate_patients([late[0]]),
                                  feature_names=model.preprocessor.clinical_feature_names, k=3)
        attention = tables.visits
    return PatientReportData(
        patient_id=pid, cohort_name=str(cohort.name), time_unit=unit,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), ctx=ctx, horizon=horizon,
        horizons=[h for h, *_ in horizon_risks], curve=curve, n_draws=draws,
        band_text=band_label(draws) if draws else "no band: this model has no dropout layers to sample",
        horizon_risks=horizon_risks, tier=tier, headline=headline,
        updates=_updates(model, patched, horizon, baseline, key), arms=arms_view, explanation=expl,
        explanation_note=note, biomarkers=None if bm is None or not len(bm) else bm.reset_index(drop=True),
        attention=attention, attention_landmark=att_time, flags=flags, decision=decision,
        labels={**getattr(model.schema, "labels", {}), **getattr(patched.schema, "labels", {})},
    )
