"""The MM-Care decision report: what drove the recommendation, in words, tables and maps.

:func:`decision_view` turns a :class:`~oncofusion.explain.decision.DecisionExplanation` and
the recommendation row of the report into the values of the "Why this recommendation"
section of ``patient.html``: one sentence on what drove the recommendation, the SHAP table of
the clinical and genomic variables (the benefit of the recommended arm and :math:`P_{OS}`
under each arm, signed, in the cohort's clinical words), the modality contributions and the
Grad-CAM overlays on the CT slices through the tumour. Formatting only; the numbers come
from :func:`oncofusion.explain.explain_decision`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from oncofusion.report._style import pct, signed_points

__all__ = ["decision_sentence", "decision_view"]

_MODALITY_WORDS = {"imaging": "CT", "clinical": "clinical data", "genomics": "genomics", "biomarkers": "biomarkers"}


def _pts(v: float) -> str:
    return f"{signed_points(v)} points"


def _driver(row: Any, names: Mapping[str, str]) -> str:
    from oncofusion.report.charts import shap_value_text

    return f"{names.get(row['variable'], row['variable'])} = {shap_value_text(row)} ({_pts(row['benefit'])})"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def decision_sentence(dec: Any, rec: Mapping[str, Any], names: Mapping[str, str], unit: str, *,
                      n_drivers: int = 3) -> str:
    """What drove the recommendation, in a few sentences: the arms' utilities and where the
    difference comes from (OS, LC), the variables with the largest SHAP values for the
    benefit, and what the CT and the genomics add (by masking)."""
    a, b = dec.recommended, dec.versus
    h = f"{dec.horizon:g} {unit}".strip()
    clear = rec.get("preference") == a
    head = (f"MM-Care recommends {a} over {b}" if clear else
            f"MM-Care has no clear preference; its best estimate is {a} over {b}")
    weights = f"{dec.alpha:g}·P_OS" + (f" + {dec.beta:g}·P_LC" if dec.beta > 0 else "")
    d_os = dec.values[f"os_{a}"] - dec.values[f"os_{b}"]
    parts = [f"overall survival ({pct(dec.values[f'os_{a}'])} vs {pct(dec.values[f'os_{b}'])}, {_pts(d_os)})"]
    if dec.beta > 0 and f"lc_{a}" in dec.values:
        d_lc = dec.values[f"lc_{a}"] - dec.values[f"lc_{b}"]
        parts.append(f"local control ({pct(dec.values[f'lc_{a}'])} vs {pct(dec.values[f'lc_{b}'])}, {_pts(d_lc)})")
    text = [f"{head}: its expected utility at {h} ({weights}) is {_pts(dec.benefit)} higher, from "
            + " and ".join(parts) + "."]
    if dec.has_shap:
        table = dec.shap_table(top=n_drivers)
        up = [_driver(r, names) for _, r in table.iterrows() if r["benefit"] > 0]
        down = [_driver(r, names) for _, r in table.iterrows() if r["benefit"] < 0]
        said = []
        if up:
            said.append(f"{_join(up)} raised it most")
        if down:
            said.append(f"{_join(down)} lowered it most")
        if said:
            base = dec.explanations["benefit"].shap_base_value
            text.append(f"What drove the benefit of {a}: " + "; ".join(said) + " (SHAP values against the "
                        f"average over the training patients, {_pts(base)}).")
    mods = []
    for m in ("imaging", "clinical", "genomics"):
        c = dec.contribution(m)
        if c is not None:
            mods.append(f"the {_MODALITY_WORDS[m]} {_pts(c)}")
    if mods:
        text.append("Leaving each modality out changes the benefit by: " + ", ".join(mods) + ".")
    if not dec.present.get("genomics", True):
        text.append("Genomics were not available for this patient and played no part.")
    return " ".join(text)


def _shap_rows(dec: Any, names: Mapping[str, str], top: int) -> tuple[list[str], list[dict[str, Any]]]:
    from oncofusion.report.charts import shap_value_text

    keys = ["benefit"] + [k for k in dec.shap_keys() if k != "benefit"]
    table = dec.shap_table(top=top, labels=names)
    rows = []
    for _, r in table.iterrows():
        rows.append({
            "label": r["label"], "modality": r["modality"], "value": shap_value_text(r),
            "cells": [(signed_points(r[k]), "up" if r[k] > 0 else ("down" if r[k] < 0 else "")) for k in keys],
        })  # fmt: skip
    return keys, rows


def _column_name(dec: Any, key: str) -> str:
    t = dec.targets[key]
    if t.kind == "benefit":
        return f"Benefit of {t.arm} over {t.versus}"
    return f"P<sub>{'OS' if t.kind == 'os' else 'LC'}</sub> under {t.arm}"


def decision_view(dec: Any, rec: Mapping[str, Any], names: Mapping[str, str], unit: str, *,
                  kind: str = "slice", top: int = 10) -> dict[str, Any]:
    """Template values of the decision section (see the module docstring)."""
    from markupsafe import Markup

    from oncofusion.report.static import decision_gradcam_png

    view: dict[str, Any] = {
        "sentence": decision_sentence(dec, rec, names, unit),
        "notes": list(dec.notes),
        "horizon": f"{dec.horizon:g} {unit}".strip(),
        "gradcam": None, "shap_keys": [], "shap_columns": [], "shap_rows": [], "shap_footer": [],
        "n_variables": 0, "inside": "",
    }  # fmt: skip
    if dec.cam() is not None and dec.slices is not None and len(dec.slices):
        view["gradcam"] = decision_gradcam_png(dec, kind)
        view["slices"] = ", ".join(str(int(s) + 1) for s in dec.slices)
        view["n_slices"] = len(dec.slices)
        view["n_total"] = int(dec.image.shape[0])
        view["slice_basis"] = dec.slice_basis
        inside, vol = dec.inside_share(), dec.roi_volume_share()
        if inside is not None and vol is not None and vol < 0.999:
            view["inside"] = (f"{pct(inside)} of the benefit map's attribution lies inside the ROI, which is "
                              f"{pct(vol)} of the volume.")
    if dec.has_shap:
        keys, rows = _shap_rows(dec, names, top)
        view["shap_keys"] = keys
        view["shap_columns"] = [Markup(_column_name(dec, k)) for k in keys]
        view["shap_rows"] = rows
        view["n_variables"] = len(dec.explanations["benefit"].shap)
        view["shap_footer"] = [
            ("average over the background patients",
             [_value(dec, k, dec.explanations[k].shap_base_value) for k in keys]),
            ("this patient", [_value(dec, k, dec.values[k]) for k in keys]),
        ]  # fmt: skip
    contrib = []
    keys = ["benefit"] + [f"os_{a}" for a in dec.arms]
    view["contribution_columns"] = [Markup(_column_name(dec, k)) for k in keys]
    for m in dec.explanations["benefit"].contributions["modality"]:
        cells = []
        for k in keys:
            c = dec.contribution(m, k)
            cells.append(("not available", "") if c is None else (signed_points(c), "up" if c > 0 else "down"))
        contrib.append({"modality": _MODALITY_WORDS.get(m, m), "cells": cells})
    view["contributions"] = contrib
    return view


def _value(dec: Any, key: str, v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    return pct(v) if dec.targets[key].is_probability else _pts(v)
