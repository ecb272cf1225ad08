"""The registry of classical comparators, by name.

``BASELINES.build("rsf", n_estimators=200)`` builds an unfitted baseline from a config; an
unknown name fails with a did-you-mean message. Every class is also registered in
:data:`oncofusion.models.registry.MODELS` under the same name, so a saved baseline loads
back with :func:`oncofusion.load` once this module is imported.

=======================  =====================================================
name                     class
=======================  =====================================================
``cox``                  :class:`~oncofusion.baselines.cox.CoxBaseline`
``coxnet``               :class:`~oncofusion.baselines.coxnet.CoxNetBaseline`
``rsf``                  :class:`~oncofusion.baselines.trees.RSFBaseline`
``gbsa``                 :class:`~oncofusion.baselines.trees.GBSABaseline`
``xgb_cox``              :class:`~oncofusion.baselines.xgb.XGBCoxBaseline`
``xgb_aft``              :class:`~oncofusion.baselines.xgb.XGBAFTBaseline`
``rf_radiomics``         :class:`~oncofusion.baselines.radiomics_models.RFRadiomicsBaseline`
``xgb_radiomics``        :class:`~oncofusion.baselines.radiomics_models.XGBRadiomicsBaseline`
``landmark_cox``         :class:`~oncofusion.baselines.landmarking.LandmarkCox`
``landmark_rsf``         :class:`~oncofusion.baselines.landmarking.LandmarkRSF`
``landmark_supermodel``  :class:`~oncofusion.baselines.landmark_supermodel.LandmarkSupermodel`
``fong``                 :class:`~oncofusion.baselines.fong.FongBaseline`
``tnm``                  :class:`~oncofusion.baselines.fong.TNMStageBaseline`
=======================  =====================================================
"""

from __future__ import annotations

from oncofusion.baselines._common import Baseline
from oncofusion.baselines.cox import CoxBaseline
from oncofusion.baselines.coxnet import CoxNetBaseline
from oncofusion.baselines.fong import FongBaseline, TNMStageBaseline
from oncofusion.baselines.landmark_supermodel import LandmarkSupermodel
from oncofusion.baselines.landmarking import LandmarkCox, LandmarkRSF
from oncofusion.baselines.radiomics_models import RFRadiomicsBaseline, XGBRadiomicsBaseline
from oncofusion.baselines.trees import GBSABaseline, RSFBaseline
from oncofusion.baselines.xgb import XGBAFTBaseline, XGBCoxBaseline
from oncofusion.models.registry import MODELS
from oncofusion.registry import Registry

__all__ = ["BASELINES", "build_baseline"]

#: classical comparators by registered name
BASELINES: Registry[type[Baseline]] = Registry("baseline")

for _cls in (
    CoxBaseline,
    CoxNetBaseline,
    RSFBaseline,
    GBSABaseline,
    XGBCoxBaseline,
    XGBAFTBaseline,
    RFRadiomicsBaseline,
    XGBRadiomicsBaseline,
    LandmarkCox,
    LandmarkRSF,
    LandmarkSupermodel,
    FongBaseline,
    TNMStageBaseline,
):
    BASELINES.register(_cls.name)(_cls)
    if _cls.name not in MODELS:
        MODELS.register(_cls.name)(_cls)


def build_baseline(name: str, /, **params: object) -> Baseline:
    """An unfitted baseline ``name`` with hyperparameters ``params`` (did-you-mean on typos)."""
    return BASELINES.build(name, **params)  # type: ignore[no-any-return]
