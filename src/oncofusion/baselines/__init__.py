"""Classical comparators: Cox, elastic-net Cox, RSF, gradient boosting, XGBoost (Cox and
AFT), clinical + radiomics forests/boosting, landmarking, and clinical scores (Fong, TNM).

Each is built by name (``BASELINES.build("rsf", use="clinical")``), fitted on the training
cohort only (``.fit(train)``) and is then a
:class:`~oncofusion.models.base.FittedSurvivalModel` (``predict_survival``,
``predict_risk``, ``save``/``load``). Names load lazily so ``import oncofusion.baselines``
does not import lifelines, scikit-survival or XGBoost.
"""

from __future__ import annotations

from oncofusion.utils.lazy import lazy_exports

_LAZY = {
    "BASELINES": "registry",
    "build_baseline": "registry",
    "TabularFeatures": "features",
    "biomarker_summary": "features",
    "CoxBaseline": "cox",
    "CoxNetBaseline": "coxnet",
    "RSFBaseline": "trees",
    "GBSABaseline": "trees",
    "XGBCoxBaseline": "xgb",
    "XGBAFTBaseline": "xgb",
    "radiomic_features": "radiomics",
    "cohort_radiomics": "radiomics",
    "RFRadiomicsBaseline": "radiomics_models",
    "XGBRadiomicsBaseline": "radiomics_models",
    "landmark_data": "landmarking",
    "LandmarkCox": "landmarking",
    "LandmarkRSF": "landmarking",
    "LandmarkSupermodel": "landmark_supermodel",
    "fong_score": "fong",
    "FongBaseline": "fong",
    "TNMStageBaseline": "fong",
}

__all__ = [
    "BASELINES",
    "CoxBaseline",
    "CoxNetBaseline",
    "FongBaseline",
    "GBSABaseline",
    "LandmarkCox",
    "LandmarkRSF",
    "LandmarkSupermodel",
    "RFRadiomicsBaseline",
    "RSFBaseline",
    "TNMStageBaseline",
    "TabularFeatures",
    "XGBAFTBaseline",
    "XGBCoxBaseline",
    "XGBRadiomicsBaseline",
    "biomarker_summary",
    "build_baseline",
    "cohort_radiomics",
    "fong_score",
    "landmark_data",
    "radiomic_features",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
