"""The landmark super model (van Houwelingen & Putter 2011): one stacked Cox model.

See :mod:`oncofusion.baselines.landmarking` for landmark data sets and the interface
(``predict_survival(cohort, times, landmark=s)`` with ``times`` the horizons after ``s``).

References
----------
van Houwelingen HC, Putter H. Dynamic Prediction in Clinical Survival Analysis. CRC 2011,
chapters 7-8.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._common import step_matrix
from oncofusion.baselines.cox import CoxFit, fit_cox, resolve_use
from oncofusion.baselines.features import TabularFeatures
from oncofusion.baselines.landmarking import _Landmarking
from oncofusion.errors import ConfigError

__all__ = ["LandmarkSupermodel"]


class LandmarkSupermodel(_Landmarking):
    """Stacked landmark Cox super model with landmark-dependent effects (van Houwelingen & Putter 2011).

    Parameters
    ----------
    landmarks, window, use
        As in :class:`LandmarkCox`.
    degree
        Landmark terms :math:`f_1, \\ldots` used: 0 (landmark-constant effects and
        baseline), 1 (:math:`s`) or 2 (:math:`s, s^2`).
    penalizer
        lifelines penalty of the stacked Cox model.

    Attributes
    ----------
    summary_
        lifelines' coefficient table with robust (patient-clustered) standard errors.
    stacked_rows_
        Number of (patient, landmark) rows of the stacked data set.
    """

    name = "landmark_supermodel"

    def __init__(
        self,
        landmarks: Sequence[float] | None = None,
        window: float | None = None,
        use: str | Sequence[str] | None = None,
        degree: int = 2,
        penalizer: float = 0.0,
    ) -> None:
        super().__init__(landmarks, window, use)
        if int(degree) not in (0, 1, 2):
            raise ConfigError(f"degree must be 0, 1 or 2, got {degree}.")
        self.degree = int(degree)
        self.penalizer = float(penalizer)

    def _f(self, s: float) -> list[float]:
        u = s / self.s_last_ if self.s_last_ > 0 else 0.0
        return [u, u * u][: self.degree_]

    def _design(self, X: pd.DataFrame, s: float) -> pd.DataFrame:
        f = self._f(s)
        cols: dict[str, np.ndarray] = {c: X[c].to_numpy(dtype=np.float64) for c in X.columns}
        for k, fk in enumerate(f, start=1):
            cols[f"f{k}(s)"] = np.full(len(X), fk)
            for c in X.columns:
                cols[f"{c}*f{k}(s)"] = X[c].to_numpy(dtype=np.float64) * fk
        return pd.DataFrame(cols, index=X.index)

    def fit(self, cohort: Any) -> LandmarkSupermodel:
        lms, w = self._resolve(cohort)
        use = resolve_use(self.use, cohort.schema)
        self.landmarks_, self.window_ = [], w
        self.features_ = TabularFeatures(cohort.schema, use, lms[0], drop_first=True)
        raws, parts = [], []
        for s, sub, t, e in self._landmark_sets(cohort, lms, w):
            raws.append(self.features_.raw(sub, landmark=s))
            parts.append((s, sub.patients["patient_id"].to_numpy(), t, e))
            self.landmarks_.append(s)
        self.s_last_ = self.landmarks_[-1]
        self.degree_ = self.degree if len(self.landmarks_) > self.degree and self.s_last_ > 0 else 0
        self.features_.fit_raw(pd.concat([r[0] for r in raws]), pd.concat([r[1] for r in raws]))
        designs = [
            self._design(self.features_.transform_raw(*r), p[0])
            for r, p in zip(raws, parts, strict=True)
        ]
        D = pd.concat(designs, ignore_index=True)
        D = D.loc[:, D.std(ddof=0) > 0]
        entry = np.concatenate([np.full(len(p[2]), p[0]) for p in parts])
        time = np.concatenate([p[2] for p in parts])
        event = np.concatenate([p[3] for p in parts])
        cluster = np.concatenate([p[1] for p in parts])
        self.fit_, cph = fit_cox(
            D, time, event, penalizer=self.penalizer, entry=entry, cluster=cluster
        )
        self.summary_ = cph.summary if cph is not None else None
        self.stacked_rows_ = len(D)
        self._remember(cohort)
        return self

    def predict_survival(
        self, cohort: Any, times: Any, landmark: float | None = None
    ) -> np.ndarray:
        t = self._check_times(times)
        s = self._s(landmark)
        if s > self.s_last_:
            raise ConfigError(
                f"landmark {s} is past the last fitted landmark {self.s_last_}; the super model does not "
                f"extrapolate. Fix: predict at a landmark in [{self.landmarks_[0]}, {self.s_last_}]."
            )
        self._check_horizon(t)
        X = self._design(self.features_.transform_frame(cohort, landmark=s), s)
        eta = self.fit_.eta(X.reindex(columns=self.fit_.features).to_numpy(dtype=np.float64))
        grid = np.concatenate([[s], s + np.minimum(t, self.window_)])
        H = step_matrix(self.fit_.base_times, self.fit_.base_cumhaz[None, :], grid, before=0.0)[0]
        return np.exp(-np.exp(eta)[:, None] * (H[1:] - H[0])[None, :])

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {
            "landmarks": self.landmarks_,
            "window": self.window_,
            "s_last": self.s_last_,
            "degree": self.degree_,
            "features": self.features_.to_dict(),
            "cox": self.fit_.to_dict(),
        }

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self.landmarks_, self.window_ = list(state["landmarks"]), float(state["window"])
        self.s_last_, self.degree_ = float(state["s_last"]), int(state["degree"])
        self.features_ = TabularFeatures.from_dict(state["features"])
        self.fit_ = CoxFit.from_dict(state["cox"])
