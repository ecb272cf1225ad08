"""Dynamic prediction by landmarking (van Houwelingen 2007; van Houwelingen & Putter 2011).

At a landmark time :math:`s` the patients still alive and uncensored (:math:`T_i > s`)
form the landmark data set; their features are the baseline clinical variables plus, per
biomarker, the last value, slope and count of observations up to :math:`s`
(:func:`~oncofusion.baselines.features.biomarker_summary`); the outcome is
administratively censored at the horizon :math:`s + w` (``window``). A model fitted on
that set predicts

.. math:: S(s + \\Delta \\mid T > s, \\text{data up to } s), \\qquad 0 \\le \\Delta \\le w.

* :class:`LandmarkCox` / :class:`LandmarkRSF`: one Cox model / random survival forest per
  landmark (time measured from :math:`s`). At prediction a landmark between two fitted
  ones uses the model of the latest fitted landmark at or before it (features are still
  taken at the requested :math:`s`).
* :class:`~oncofusion.baselines.landmark_supermodel.LandmarkSupermodel`: one Cox model on the stacked landmark data sets, on the
  absolute time scale with left truncation at :math:`s`, landmark-dependent effects and
  baseline

  .. math:: h(t \\mid x, s) = h_0(t) \\exp\\{\\theta_1 f_1(s) + \\theta_2 f_2(s) +
            x^T(\\beta + \\gamma_1 f_1(s) + \\gamma_2 f_2(s))\\},

  :math:`f_1(s) = s/s_L`, :math:`f_2(s) = (s/s_L)^2` (:math:`s_L` the last landmark), and a
  robust sandwich variance clustered on patients (each patient appears in several
  landmark sets). Then :math:`S(s+\\Delta\\mid s) = \\exp\\{-[H_0(s+\\Delta) - H_0(s)]
  e^{\\eta(x,s)}\\}`; it predicts at any :math:`s` in the fitted landmark range.

``predict_survival(cohort, times, landmark=s)`` takes ``times`` as horizons :math:`\\Delta`
after :math:`s` (``landmark`` defaults to the first fitted landmark). Past :math:`s + w`
nothing was observed, so curves are flat there (a warning says so).

References
----------
van Houwelingen HC. Dynamic prediction by landmarking in event history analysis. Scand J
Stat 2007;34:70-85.
van Houwelingen HC, Putter H. Dynamic Prediction in Clinical Survival Analysis. CRC 2011,
chapters 7-8.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from oncofusion.baselines._common import (
    Baseline,
    survival_target,
    warn_once,
)
from oncofusion.baselines.cox import CoxFit, fit_cox, resolve_use, use_param
from oncofusion.baselines.features import TabularFeatures
from oncofusion.baselines.trees import SksurvEnsemble
from oncofusion.errors import ConfigError

__all__ = ["LandmarkCox", "LandmarkRSF", "landmark_data"]


def landmark_data(
    cohort: Any, s: float, window: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The landmark data set at ``s``: who is at risk, and the outcome censored at ``s + window``.

    Returns
    -------
    (at_risk, time, event)
        ``at_risk``: boolean mask over ``cohort.patients`` (:math:`T_i > s`); ``time``:
        :math:`\\min(T_i, s + w)` on the absolute scale and ``event``:
        :math:`\\delta_i 1\\{T_i \\le s + w\\}`, both for the at-risk patients only.
    """
    T = cohort.patients["time"].to_numpy(dtype=np.float64)
    E = cohort.patients["event"].to_numpy().astype(bool)
    at_risk = T > s
    horizon = s + window
    return at_risk, np.minimum(T[at_risk], horizon), E[at_risk] & (T[at_risk] <= horizon)


class _Landmarking(Baseline):
    """Shared parameters, landmark resolution, landmark data sets and prediction dispatch."""

    landmarks_: list[float]
    window_: float

    def __init__(
        self,
        landmarks: Sequence[float] | None,
        window: float | None,
        use: str | Sequence[str] | None,
    ) -> None:
        super().__init__()
        self.landmarks = None if landmarks is None else [float(s) for s in landmarks]
        lms = self.landmarks
        if lms is not None and (not lms or any(s < 0 for s in lms) or sorted(set(lms)) != lms):
            raise ConfigError(
                f"landmarks must be non-negative and strictly increasing, got {landmarks}."
            )
        self.window = None if window is None else float(window)
        if self.window is not None and not self.window > 0:
            raise ConfigError(f"window must be > 0, got {window}.")
        self.use = use_param(use)

    def _resolve(self, cohort: Any) -> tuple[list[float], float]:
        time, event = survival_target(cohort)
        if self.landmarks is not None:
            lms = list(self.landmarks)
        else:
            q = np.quantile(time[event], [0.25, 0.5])
            lms = sorted({0.0, *[float(np.round(v, 2)) for v in q if v > 0]})
        w = (
            self.window
            if self.window is not None
            else (
                float(max(cohort.schema.horizons))
                if cohort.schema.horizons
                else float(np.median(time))
            )
        )
        return lms, w

    def _landmark_sets(
        self, cohort: Any, landmarks: list[float], window: float
    ) -> Iterator[tuple[float, Any, np.ndarray, np.ndarray]]:
        """The landmark data sets to fit on, in order: ``(s, at_risk_cohort, time, event)``.

        ``time`` and ``event`` are those of :func:`landmark_data`. A landmark without an
        event in :math:`(s, s + w]` is skipped with a warning; when none has one, a
        :class:`~oncofusion.errors.ConfigError` is raised once all were tried.
        """
        usable = False
        for s in landmarks:
            at_risk, t, e = landmark_data(cohort, s, window)
            if not e.any():
                warn_once(
                    f"lm-skip-{s}",
                    f"landmark {s}: no event in (s, s + {window}]; it is skipped.",
                    stacklevel=4,  # the caller of fit, as when fit itself warned
                )
                continue
            usable = True
            yield s, cohort.subset(cohort.patients["patient_id"][at_risk].tolist()), t, e
        if not usable:
            raise ConfigError(
                f"no landmark in {landmarks} has an event within the window {window}. "
                "Fix: choose earlier landmarks."
            )

    def _s(self, landmark: float | None) -> float:
        self._check_fitted()
        s = float(self.landmarks_[0] if landmark is None else landmark)
        if s < self.landmarks_[0]:
            raise ConfigError(
                f"landmark {s} is before the first fitted landmark {self.landmarks_[0]}. "
                f"Fix: predict at a landmark in {self.landmarks_}."
            )
        return s

    def _check_horizon(self, t: np.ndarray) -> None:
        if t.size and t[-1] > self.window_:
            warn_once(
                f"lm-window-{self.name}",
                f"horizons beyond the window {self.window_} were not observed in the landmark data: "
                "survival is flat past s + window.",
            )

    def _at_or_before(self, s: float) -> int:
        return (
            int(
                np.searchsorted(
                    np.asarray(self.landmarks_, dtype=np.float64), float(s), side="right"
                )
            )
            - 1
        )


class _PerLandmark(_Landmarking):
    """One model per landmark: ``models_[k]`` is the ``(features, model)`` of ``landmarks_[k]``."""

    models_: list[tuple[TabularFeatures, Any]]

    @abc.abstractmethod
    def _fit_landmark(
        self, cohort: Any, use: tuple[str, ...], s: float, time: np.ndarray, event: np.ndarray
    ) -> tuple[TabularFeatures, Any]:
        """Features and model fitted on the landmark data set at ``s`` (``time`` from ``s``);
        the model has ``survival(X, times)``."""

    def fit(self, cohort: Any) -> Self:
        lms, w = self._resolve(cohort)
        use = resolve_use(self.use, cohort.schema)
        self.landmarks_, self.window_, self.models_ = [], w, []
        for s, sub, t, e in self._landmark_sets(cohort, lms, w):
            self.landmarks_.append(s)
            self.models_.append(self._fit_landmark(sub, use, s, t - s, e))
        self._remember(cohort)
        return self

    def predict_survival(
        self, cohort: Any, times: Any, landmark: float | None = None
    ) -> np.ndarray:
        t = self._check_times(times)
        s = self._s(landmark)
        self._check_horizon(t)
        feats, model = self.models_[self._at_or_before(s)]
        return model.survival(feats.transform(cohort, landmark=s), t)


class LandmarkCox(_PerLandmark):
    """One Cox model per landmark (van Houwelingen 2007).

    Parameters
    ----------
    landmarks
        Landmark times (cohort unit), increasing; default ``0`` and the 25th and 50th
        percentiles of the training event times.
    window
        Prediction window :math:`w`; default the largest cohort horizon (else the median
        follow-up).
    use
        Modalities; ``None`` = all tabular modalities the cohort declares.
    penalizer
        lifelines penalty of each Cox model.
    """

    name = "landmark_cox"

    def __init__(
        self,
        landmarks: Sequence[float] | None = None,
        window: float | None = None,
        use: str | Sequence[str] | None = None,
        penalizer: float = 0.0,
    ) -> None:
        super().__init__(landmarks, window, use)
        self.penalizer = float(penalizer)

    def _fit_landmark(
        self, cohort: Any, use: tuple[str, ...], s: float, time: np.ndarray, event: np.ndarray
    ) -> tuple[TabularFeatures, CoxFit]:
        feats = TabularFeatures(cohort.schema, use, s, drop_first=True).fit(cohort)
        cox, _ = fit_cox(feats.transform_frame(cohort), time, event, penalizer=self.penalizer)
        return feats, cox

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {
            "landmarks": self.landmarks_,
            "window": self.window_,
            "models": [{"features": f.to_dict(), "cox": c.to_dict()} for f, c in self.models_],
        }

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self.landmarks_, self.window_ = list(state["landmarks"]), float(state["window"])
        self.models_ = [
            (TabularFeatures.from_dict(m["features"]), CoxFit.from_dict(m["cox"]))
            for m in state["models"]
        ]


class LandmarkRSF(_PerLandmark):
    """One random survival forest per landmark (scikit-survival; refitted on load).

    Parameters
    ----------
    landmarks, window, use
        As in :class:`LandmarkCox`.
    n_estimators, min_samples_leaf, max_features, seed
        Forest settings (``random_state = seed``).
    """

    name = "landmark_rsf"

    def __init__(
        self,
        landmarks: Sequence[float] | None = None,
        window: float | None = None,
        use: str | Sequence[str] | None = None,
        n_estimators: int = 100,
        min_samples_leaf: int = 3,
        max_features: str | float | None = "sqrt",
        seed: int = 0,
    ) -> None:
        super().__init__(landmarks, window, use)
        self.n_estimators = int(n_estimators)
        self.min_samples_leaf = int(min_samples_leaf)
        self.max_features = max_features
        self.seed = int(seed)

    def _fit_landmark(
        self, cohort: Any, use: tuple[str, ...], s: float, time: np.ndarray, event: np.ndarray
    ) -> tuple[TabularFeatures, SksurvEnsemble]:
        params = {
            "n_estimators": self.n_estimators,
            "min_samples_leaf": self.min_samples_leaf,
            "max_features": self.max_features,
            "random_state": self.seed,
        }
        feats = TabularFeatures(cohort.schema, use, s, standardize=False).fit(cohort)
        return feats, SksurvEnsemble("rsf", params).fit(feats.transform_frame(cohort), time, event)

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {
            "landmarks": self.landmarks_,
            "window": self.window_,
            "models": [
                {"features": f.to_dict(), "ensemble": m.dump(run_dir, prefix=f"landmark{i}_")}
                for i, (f, m) in enumerate(self.models_)
            ],
        }

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self.landmarks_, self.window_ = list(state["landmarks"]), float(state["window"])
        self.models_ = [
            (
                TabularFeatures.from_dict(m["features"]),
                SksurvEnsemble.restore(m["ensemble"], run_dir),
            )
            for m in state["models"]
        ]
