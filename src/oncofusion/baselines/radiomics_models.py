"""Clinical + handcrafted-radiomics comparators (the MM-Care machine-learning baselines).

MM-Care compares its deep model with a random forest on clinical + radiomic features and
XGBoost on the same inputs. For a right-censored endpoint the survival analogues are used:

* :class:`RFRadiomicsBaseline`: random survival forest (scikit-survival);
* :class:`XGBRadiomicsBaseline`: XGBoost with the Cox objective and a Breslow baseline.

The radiomic block is :func:`~oncofusion.baselines.radiomics.cohort_radiomics` (features
per imaging phase), median-imputed with training medians plus ``radiomics__missing`` for
patients without any image; columns constant or entirely missing on the training
patients are dropped. Saved like :mod:`~oncofusion.baselines.trees` (refit on load,
fingerprint-checked) and :mod:`~oncofusion.baselines.xgb` (XGBoost JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._ensemble import EnsembleBaseline
from oncofusion.baselines.features import TabularFeatures
from oncofusion.baselines.radiomics import cohort_radiomics
from oncofusion.baselines.trees import SksurvEnsemble
from oncofusion.baselines.xgb import XGBSurvival
from oncofusion.errors import ConfigError

__all__ = ["RFRadiomicsBaseline", "XGBRadiomicsBaseline"]


class _RadiomicsBaseline(EnsembleBaseline):
    def __init__(
        self,
        use: str | Sequence[str] | None,
        n_estimators: int,
        seed: int,
        bins: int,
        glcm_levels: int,
    ) -> None:
        super().__init__(use, n_estimators, seed)
        self.bins = int(bins)
        self.glcm_levels = int(glcm_levels)

    # -- features --------------------------------------------------------------------------
    def _radiomics(self, cohort: Any) -> pd.DataFrame:
        return cohort_radiomics(cohort, bins=self.bins, glcm_levels=self.glcm_levels)

    def _fit_features(self, cohort: Any) -> pd.DataFrame:
        if cohort.imaging is None or not len(cohort.imaging):
            raise ConfigError(
                f"{type(self).__name__} needs images, but cohort '{cohort.name}' has no imaging table. "
                "Fix: use a clinical-only baseline (rsf, xgb_cox) for this cohort."
            )
        use = ("clinical",) if self.use is None else self.use
        self.features_ = TabularFeatures(cohort.schema, use, standardize=False).fit(cohort)
        rad = self._radiomics(cohort)
        medians = rad.median(skipna=True)
        cols = [c for c in rad.columns if np.isfinite(medians[c])]
        filled = rad[cols].fillna(medians[cols])
        cols = [c for c in cols if filled[c].nunique() > 1]
        absent = rad.isna().all(axis=1)
        self.radiomics_state_: dict[str, Any] = {
            "columns": cols,
            "medians": {c: float(medians[c]) for c in cols},
            "indicator": bool(absent.any() and not absent.all()),
        }
        return self._combine(cohort, rad)

    def _combine(self, cohort: Any, rad: pd.DataFrame) -> pd.DataFrame:
        st = self.radiomics_state_
        cols = st["columns"]
        block = rad.reindex(columns=cols).astype(float).fillna(pd.Series(st["medians"]))
        if st["indicator"]:
            block["radiomics__missing"] = rad.isna().all(axis=1).astype(float)
        clin = self.features_.transform_frame(cohort)
        return pd.concat([clin, block.set_axis(clin.index)], axis=1)

    def _features(self, cohort: Any) -> np.ndarray:
        return self._combine(cohort, self._radiomics(cohort)).to_numpy(dtype=np.float64)

    @property
    def feature_names(self) -> list[str]:
        extra = ["radiomics__missing"] if self.radiomics_state_["indicator"] else []
        return [*self.features_.feature_names, *self.radiomics_state_["columns"], *extra]

    def _features_state(self) -> dict[str, Any]:
        return {"features": self.features_.to_dict(), "radiomics": self.radiomics_state_}

    def _set_features_state(self, state: dict[str, Any]) -> None:
        self.features_ = TabularFeatures.from_dict(state["features"])
        self.radiomics_state_ = dict(state["radiomics"])


class RFRadiomicsBaseline(_RadiomicsBaseline):
    """Random survival forest on clinical + handcrafted radiomic features (MM-Care RF).

    Parameters
    ----------
    use
        Tabular modalities besides radiomics (default ``("clinical",)``).
    n_estimators, min_samples_leaf, max_features
        As in ``sksurv.ensemble.RandomSurvivalForest``.
    seed
        ``random_state``.
    bins, glcm_levels
        Radiomics histogram bins and GLCM grey levels.
    """

    name = "rf_radiomics"
    model_class = SksurvEnsemble
    model_key = "ensemble"

    def __init__(
        self,
        use: str | Sequence[str] | None = ("clinical",),
        n_estimators: int = 100,
        min_samples_leaf: int = 3,
        max_features: str | float | None = "sqrt",
        seed: int = 0,
        bins: int = 32,
        glcm_levels: int = 32,
    ) -> None:
        super().__init__(use, n_estimators, seed, bins, glcm_levels)
        self.min_samples_leaf = int(min_samples_leaf)
        self.max_features = max_features

    def _new_model(self) -> SksurvEnsemble:
        params = {
            "n_estimators": self.n_estimators,
            "min_samples_leaf": self.min_samples_leaf,
            "max_features": self.max_features,
            "random_state": self.seed,
        }
        return SksurvEnsemble("rsf", params)


class XGBRadiomicsBaseline(_RadiomicsBaseline):
    """XGBoost (Cox objective, Breslow baseline) on clinical + radiomic features (MM-Care XGB).

    Parameters
    ----------
    use
        Tabular modalities besides radiomics (default ``("clinical",)``).
    n_estimators, learning_rate, max_depth
        Booster rounds, ``eta`` and tree depth.
    seed
        Booster seed.
    bins, glcm_levels
        Radiomics histogram bins and GLCM grey levels.
    """

    name = "xgb_radiomics"
    model_class = XGBSurvival
    model_key = "xgb"

    def __init__(
        self,
        use: str | Sequence[str] | None = ("clinical",),
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        seed: int = 0,
        bins: int = 32,
        glcm_levels: int = 32,
    ) -> None:
        super().__init__(use, n_estimators, seed, bins, glcm_levels)
        if not float(learning_rate) > 0:
            raise ConfigError(f"learning_rate must be > 0, got {learning_rate}.")
        self.learning_rate = float(learning_rate)
        self.max_depth = int(max_depth)

    def _new_model(self) -> XGBSurvival:
        params = {"eta": self.learning_rate, "max_depth": self.max_depth, "seed": self.seed}
        return XGBSurvival("survival:cox", params, self.n_estimators)
