"""Classical comparators: Cox, elastic-net Cox, RSF, gradient boosting, XGBoost (Cox and
AFT), clinical + radiomics forests/boosting, landmarking, and clinical scores (Fong, TNM).

Each is built by name (``BASELINES.build("rsf", use="clinical")``), fitted on the training
cohort only (``.fit(train)``) and is then a
:class:`~oncofusion.models.base.FittedSurvivalModel` (``predict_survival``,
``predict_risk``, ``save``/``load``). Names load lazily so ``import oncofusion.baselines``
does not import lifelines, scikit-survival or XGBoost.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BASELINES": "oncofusion.baselines.registry",
    "build_baseline": "oncofusion.baselines.registry",
    "TabularFeatures": "oncofusion.baselines.features",
    "biomarker_summary": "oncofusion.baselines.features",
    "CoxBaseline": "oncofusion.baselines.cox",
    "CoxNetBaseline": "oncofusion.baselines.coxnet",
    "RSFBaseline": "oncofusion.baselines.trees",
    "GBSABaseline": "oncofusion.baselines.trees",
    "XGBCoxBaseline": "oncofusion.baselines.xgb",
    "XGBAFTBaseline": "oncofusion.baselines.xgb",
    "radiomic_features": "oncofusion.baselines.radiomics",
    "cohort_radiomics": "oncofusion.baselines.radiomics",
    "RFRadiomicsBaseline": "oncofusion.baselines.radiomics_models",
    "XGBRadiomicsBaseline": "oncofusion.baselines.radiomics_models",
    "landmark_data": "oncofusion.baselines.landmarking",
    "LandmarkCox": "oncofusion.baselines.landmarking",
    "LandmarkRSF": "oncofusion.baselines.landmarking",
    "LandmarkSupermodel": "oncofusion.baselines.landmark_supermodel",
    "fong_score": "oncofusion.baselines.fong",
    "FongBaseline": "oncofusion.baselines.fong",
    "TNMStageBaseline": "oncofusion.baselines.fong",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'oncofusion.baselines' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
