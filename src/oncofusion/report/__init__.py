"""Cohort and patient reports (HTML + PDF) and the model card shown in them.

* :func:`patient_report`: one self-contained page per patient: the risk curve with its
  MC-dropout band and tier (thresholds fixed on validation), the update after each
  follow-up visit, per-arm outcomes and the recommendation (models with arms), Grad-CAM,
  SHAP, biomarker trajectories with attention, data-quality flags and the model card. For
  MM-Care the explanation is of the treatment decision (:mod:`oncofusion.report.decision`):
  what drove the recommendation, Grad-CAM on the CT slices through the tumour, and SHAP
  values of the benefit of the recommended arm and of overall survival under each arm.
* :func:`cohort_report`: the run's evaluation tables and figures, interactive calibration
  and decision curves, and the model card.

Both work offline (plotly.js inlined, images as data URIs, no external fonts) and write a
PDF from a print variant with static charts. plotly, jinja2, matplotlib and WeasyPrint are
imported lazily.
"""

from __future__ import annotations

from oncofusion.utils.lazy import lazy_exports

_EXPORTS = {
    "patient_report": "patient",
    "cohort_report": "cohort",
    "build_patient_data": "patient_data",
    "PatientReportData": "patient_data",
    "run_context": "context",
    "RunContext": "context",
    "Flag": "quality",
    "quality_flags": "quality",
    "TierThresholds": "tiers",
    "tier_thresholds": "tiers",
}

__all__ = [
    "Flag",
    "PatientReportData",
    "RunContext",
    "TierThresholds",
    "build_patient_data",
    "cohort_report",
    "patient_report",
    "quality_flags",
    "run_context",
    "tier_thresholds",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
