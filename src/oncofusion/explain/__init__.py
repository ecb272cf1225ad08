"""Explanations: Grad-CAM/Grad-CAM++ (3D), SHAP, attention summaries, modality contributions.

Every explainer takes a network and a collated batch (``docs/internals.md``) and explains
one scalar per patient, a :class:`Target` (hazard, cumulative risk or survival at a time;
P_OS / P_LC under an arm for per-arm models) or a :class:`DecisionTarget` (P_OS, P_LC at the
decision horizon, the expected benefit of the recommended treatment).
:func:`explain_patient` bundles them for the report; :func:`explain_decision` explains an
MM-Care treatment decision. Names are imported lazily (PEP 562): ``import oncofusion.explain`` pulls in neither
torch nor shap.
"""

from __future__ import annotations

from oncofusion.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # targets.py
    "TARGET_KINDS": "targets",
    "Target": "targets",
    "make_target": "targets",
    "target_log_odds": "targets",
    "target_values": "targets",
    "AnyTarget": "targets",
    "DECISION_KINDS": "targets",
    "DecisionTarget": "targets",
    "decision_targets": "targets",
    # gradcam.py
    "CamResult": "gradcam",
    "ImageOnlyModel": "gradcam",
    "RepresentativeFrames": "gradcam",
    "grad_cam": "gradcam",
    "representative_frames": "gradcam",
    # shap_values.py
    "ShapResult": "shap_values",
    "feature_groups": "_features",
    "shap_attributions": "shap_values",
    "shap_attributions_many": "shap_values",
    # attention.py
    "AttentionTables": "attention",
    "attention_tables": "attention",
    "critical_windows": "attention",
    "modality_contributions": "attention",
    # patient.py
    "PatientExplanation": "patient",
    "explain_patient": "patient",
    "explain_with_predictor": "patient",
    "predictor_batch": "patient",
    # decision.py
    "DecisionExplanation": "decision",
    "explain_decision": "decision",
    "tumour_slices": "decision",
    # _batch.py
    "select_rows": "_batch",
}

__all__ = [
    "DECISION_KINDS",
    "TARGET_KINDS",
    "AnyTarget",
    "AttentionTables",
    "CamResult",
    "DecisionExplanation",
    "DecisionTarget",
    "ImageOnlyModel",
    "PatientExplanation",
    "RepresentativeFrames",
    "ShapResult",
    "Target",
    "attention_tables",
    "critical_windows",
    "decision_targets",
    "explain_decision",
    "explain_patient",
    "explain_with_predictor",
    "feature_groups",
    "grad_cam",
    "make_target",
    "modality_contributions",
    "predictor_batch",
    "representative_frames",
    "select_rows",
    "shap_attributions",
    "shap_attributions_many",
    "target_log_odds",
    "target_values",
    "tumour_slices",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
