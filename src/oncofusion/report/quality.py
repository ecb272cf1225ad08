"""Data-quality flags of one patient, checked against what the model was trained on.

* missing modalities (a modality the model uses that this patient lacks, so the model
  predicts without it) and modalities present but not used by the model;
* missing clinical values (imputed with the training median or mode);
* values outside the training range (continuous clinical variables, biomarker values at
  any visit, gene features), against the training patients' minimum and maximum;
* categories training never saw: the model cannot represent them, so the value is treated
  as missing (imputed with the training mode) and the prediction is flagged;
* treatment out of support: an arm the model does not know, an arm no training patient
  received, or (when the model exposes ``overlap(cohort)``) a propensity outside the
  common support.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Flag", "patch_unseen_categories", "quality_flags"]


@dataclass(frozen=True)
class Flag:
    """One finding: ``severity`` is ``"warning"`` (may make the prediction unreliable) or
    ``"info"``; ``category`` groups findings; ``message`` is what the reader sees."""

    severity: str
    category: str
    message: str


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def patch_unseen_categories(cohort: Any, preprocessor: Any) -> tuple[Any, list[Flag]]:
    """Set categorical values that training never saw to missing; one warning for each.

    Returns the patched cohort (a copy; the input is unchanged) and the flags.
    """
    state = preprocessor.to_dict()
    pts = cohort.patients.copy()
    flags: list[Flag] = []
    for col, st in state.get("categorical", {}).items():
        if col not in pts:
            continue
        known = {str(x) for x in st["levels"]}
        for i, v in pts[col].items():
            if v is None or (isinstance(v, float) and np.isnan(v)) or str(v) in known:
                continue
            fill = st.get("mode")
            flags.append(Flag("warning", "unseen category",
                              f"{col} = '{v}' did not occur in the training patients (levels: "
                              f"{', '.join(sorted(known))}); the model treated it as missing "
                              f"(imputed '{fill}'). Read this prediction with caution."))
            pts.at[i, col] = None
    return dataclasses.replace(cohort, patients=pts), flags


def _range_flags(kind: str, values: dict[str, np.ndarray], ranges: dict[str, list[float]]) -> list[Flag]:
    flags = []
    for col, v in values.items():
        if col not in ranges:
            continue
        lo, hi = ranges[col]
        v = v[np.isfinite(v)]
        out = v[(v < lo) | (v > hi)]
        if out.size:
            where = "above" if out.max() > hi else "below"
            shown = ", ".join(_fmt(x) for x in out[:3]) + (" …" if out.size > 3 else "")
            flags.append(Flag("warning", "outside training range",
                              f"{kind} '{col}' = {shown} is {where} the training range "
                              f"[{_fmt(lo)}, {_fmt(hi)}]; the model extrapolates."))
    return flags


def _z_flags(kind: str, values: dict[str, np.ndarray], stats: dict[str, dict[str, float]], limit: float = 4.0) -> list[Flag]:
    flags = []
    for col, v in values.items():
        st = stats.get(col)
        if not st or not st.get("sd"):
            continue
        v = v[np.isfinite(v)]
        z = (v - st["mean"]) / st["sd"]
        if v.size and np.abs(z).max() > limit:
            flags.append(Flag("warning", "outside training range",
                              f"{kind} '{col}' = {_fmt(v[np.abs(z).argmax()])} is more than {limit:g} SD from "
                              f"the training mean ({_fmt(st['mean'])}); the training range itself is not "
                              "available, so this is the closest check."))
    return flags


def _values(df: pd.DataFrame | None, cols: list[str]) -> dict[str, np.ndarray]:
    if df is None or len(df) == 0:
        return {}
    return {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in cols if c in df}


def quality_flags(model: Any, patient: Any, present: dict[str, bool], ranges: dict[str, Any] | None,
                  *, arms: list[str] | None = None, outside_support: bool | None = None,
                  propensity: dict[str, float] | None = None) -> list[Flag]:
    """Flags for one patient (a one-patient cohort, before :func:`patch_unseen_categories`).

    Parameters
    ----------
    model
        The fitted model (``preprocessor``, ``network.modalities``, ``schema``).
    patient
        The patient as a one-patient :class:`~oncofusion.data.Cohort`.
    present
        Modality -> whether the model got it for this patient (the sample's modality mask).
    ranges
        :func:`~oncofusion.report.context.training_ranges`, or None.
    arms
        The arms of a per-arm model ([] otherwise).
    outside_support, propensity
        The model's overlap flag and the propensity of each arm for this patient (MM-Care's
        propensity model), where available.
    """
    flags: list[Flag] = []
    from oncofusion.report.context import used_modalities

    used = used_modalities(model)
    for m in used:
        if not present.get(m, False):
            flags.append(Flag("warning", "missing modality",
                              f"no {m} data: the model predicted without this modality (it is masked, "
                              "not filled in), so the prediction rests on the other modalities."))
    available = {"biomarkers": patient.biomarkers, "genomics": patient.genomics, "imaging": patient.imaging}
    for m, table in available.items():
        if m not in used and table is not None and len(table):
            flags.append(Flag("info", "not used", f"{m} data are available but this model does not use them."))

    state = model.preprocessor.to_dict()
    row = patient.patients.iloc[0]
    schema = patient.schema
    if "clinical" in used:
        for col in schema.clinical.all:
            v = row.get(col)
            if v is None or (isinstance(v, float) and np.isnan(v)):
                if col in state.get("continuous", {}):
                    fill = _fmt(state["continuous"][col]["median"])
                else:
                    fill = f"'{state.get('categorical', {}).get(col, {}).get('mode')}'"
                flags.append(Flag("info", "missing value", f"{col} is missing; imputed with the training value {fill}."))

    values = {
        "clinical variable": _values(patient.patients, list(schema.clinical.continuous) if "clinical" in used else []),
        "biomarker": _values(patient.biomarkers, list(schema.biomarkers) if "biomarkers" in used else []),
        "gene feature": _values(patient.genomics, list(schema.genomics) if "genomics" in used else []),
    }
    keys = {"clinical variable": "clinical", "biomarker": "biomarkers", "gene feature": "genomics"}
    stats = {"clinical variable": state.get("continuous", {}), "biomarker": state.get("biomarkers", {}),
             "gene feature": state.get("genomics", {})}
    for kind, vals in values.items():
        if ranges is not None:
            flags += _range_flags(kind, vals, ranges.get(keys[kind], {}))
        else:
            flags += _z_flags(kind, vals, stats[kind])

    arm = row.get("arm") if "arm" in patient.patients else None
    if arm is not None and not (isinstance(arm, float) and np.isnan(arm)):
        arm = str(arm)
        if arms and arm not in arms:
            flags.append(Flag("warning", "treatment out of support",
                              f"the patient's treatment '{arm}' is not one of the model's arms ({', '.join(arms)})."))
        counts = (ranges or {}).get("arms") or {}
        if counts and counts.get(arm, 0) == 0:
            flags.append(Flag("warning", "treatment out of support",
                              f"no training patient received '{arm}' (training: "
                              f"{', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); the prediction "
                              "extrapolates to a treatment the model never saw."))
    if outside_support:
        lacking = min(propensity, key=propensity.__getitem__) if propensity else None
        detail = (f"the propensity of '{lacking}' is {_fmt(propensity[lacking])}: " if propensity and lacking else "")
        flags.append(Flag("warning", "treatment out of support",
                          f"{detail}hardly any similar training patient received "
                          f"{'it' if lacking else 'one of the arms'}, so the comparison of arms is an extrapolation."))
    return flags
