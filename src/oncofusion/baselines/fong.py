"""Clinical scores as comparators: the Fong clinical risk score and TNM stage alone.

The Fong clinical risk score for colorectal liver metastasis (Fong et al. 1999) gives one
point for each of

=====================  ==============================================  =====================
criterion              rule                                            ``column_map`` key
=====================  ==============================================  =====================
node-positive primary  the primary tumour had nodal metastases         ``node_positive``
disease-free interval  from primary to metastases < 12 months          ``dfi_months``
number of tumours      more than one hepatic tumour                    ``n_tumours``
size                   largest hepatic tumour > 5 cm                   ``largest_tumour_cm``
CEA                    preoperative CEA > 200 ng/mL                    ``cea_ng_ml``
=====================  ==============================================  =====================

so the score is 0-5 (higher is worse). :class:`FongBaseline` turns it into survival with a
Cox model on the score (default) or a Kaplan-Meier curve per score, fitted on training
patients. :class:`TNMStageBaseline` is a Cox model on the stage alone.

References
----------
Fong Y, Fortner J, Sun RL, Brennan MF, Blumgart LH. Clinical score for predicting recurrence
after hepatic resection for metastatic colorectal cancer: analysis of 1001 consecutive
cases. Ann Surg 1999;230(3):309-318.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._common import Baseline, step_matrix, survival_target
from oncofusion.baselines.cox import CoxFit, fit_cox
from oncofusion.baselines.features import TabularFeatures
from oncofusion.errors import CohortError, ConfigError
from oncofusion.registry import look_up_option
from oncofusion.survival.nonparametric import kaplan_meier

__all__ = ["FONG_CRITERIA", "FongBaseline", "TNMStageBaseline", "fong_score"]

#: criterion -> (rule, threshold); a point when value > threshold ("gt") or < threshold ("lt")
FONG_CRITERIA: dict[str, tuple[str, float | None]] = {
    "node_positive": ("yes", None),
    "dfi_months": ("lt", 12.0),
    "n_tumours": ("gt", 1.0),
    "largest_tumour_cm": ("gt", 5.0),
    "cea_ng_ml": ("gt", 200.0),
}
_YES = {"1", "1.0", "true", "yes", "y", "positive", "pos", "n+", "n1", "n2"}
_NO = {"0", "0.0", "false", "no", "n", "negative", "neg", "n0"}


def _binary(col: pd.Series, name: str, ids: pd.Series) -> np.ndarray:
    def one(v: Any) -> float:
        if pd.isna(v):
            return np.nan
        key = str(v).strip().lower()
        if key in _YES:
            return 1.0
        if key in _NO:
            return 0.0
        return -1.0

    vals = np.array([one(v) for v in col], dtype=float)
    bad = vals == -1.0
    if bad.any():
        raise CohortError(
            f"values {sorted(set(map(str, col[bad])))} are not a yes/no nodal status.",
            column=name,
            rows=ids[bad].tolist(),
            fix="code node-positive as 1/yes/positive/N1/N2 and node-negative as 0/no/negative/N0.",
        )
    return vals


def fong_score(
    df: pd.DataFrame, column_map: Mapping[str, str] | None = None, *, missing: str = "raise"
) -> np.ndarray:
    """Fong clinical risk score (0-5, higher is worse) per row of ``df``.

    .. math:: \\text{score} = 1\\{N+\\} + 1\\{\\text{DFI} < 12\\} + 1\\{n > 1\\} + 1\\{\\text{size} > 5\\}
              + 1\\{\\text{CEA} > 200\\}

    Parameters
    ----------
    df
        One row per patient (``patient_id`` is used in messages when present).
    column_map
        Criterion -> your column: keys ``node_positive`` (yes/no), ``dfi_months``
        (disease-free interval in months), ``n_tumours``, ``largest_tumour_cm`` (cm),
        ``cea_ng_ml`` (ng/mL). Criteria left out are looked up under their own names.
    missing
        ``"raise"``: a missing value is an error naming the patients; ``"zero"``: a
        missing criterion scores 0 (not met).

    Raises
    ------
    ConfigError
        A criterion is neither mapped nor present under its own name (the message lists
        what to map), or a key of ``column_map`` is not a criterion.
    CohortError
        Missing (with ``missing="raise"``) or unreadable values.
    """
    look_up_option(missing, ["raise", "zero"], what="missing-value rule")
    cmap = dict(column_map or {})
    for k in cmap:
        look_up_option(k, list(FONG_CRITERIA), what="Fong criterion")
    resolved = {c: cmap.get(c, c) for c in FONG_CRITERIA}
    absent = {c: col for c, col in resolved.items() if col not in df.columns}
    if absent:
        lines = ", ".join(f"'{c}' (looked for column '{col}')" for c, col in absent.items())
        raise ConfigError(
            f"the Fong score needs columns for {lines}. Fix: map each criterion to your column, e.g. "
            f"column_map={{{', '.join(repr(c) + ': ' + repr('<your column>') for c in absent)}}}; "
            f"available columns: {sorted(map(str, df.columns))}."
        )
    ids = (
        df["patient_id"].astype(str)
        if "patient_id" in df.columns
        else pd.Series(df.index.astype(str))
    )
    ids = ids.reset_index(drop=True)
    score = np.zeros(len(df))
    for crit, (rule, thr) in FONG_CRITERIA.items():
        col = df[resolved[crit]].reset_index(drop=True)
        if rule == "yes":
            v = _binary(col, resolved[crit], ids)
        else:
            v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            unreadable = col.notna().to_numpy() & np.isnan(v)
            if unreadable.any():
                raise CohortError(
                    f"values {sorted(set(map(str, col[unreadable])))} are not numbers.",
                    column=resolved[crit],
                    rows=ids[unreadable].tolist(),
                    fix=f"give '{crit}' as a number.",
                )
        miss = np.isnan(v)
        if miss.any() and missing == "raise":
            raise CohortError(
                f"the Fong criterion '{crit}' is missing.",
                column=resolved[crit],
                rows=ids[miss].tolist(),
                fix="fill it in, or pass missing='zero' to count a missing criterion as not met.",
            )
        v = np.where(miss, 0.0 if rule == "yes" else (np.inf if rule == "lt" else -np.inf), v)
        if rule == "yes":
            point = v == 1.0
        elif rule == "lt":
            point = v < thr
        else:
            point = v > thr
        score += point
    return score


class FongBaseline(Baseline):
    """The Fong clinical risk score turned into survival on training patients.

    Parameters
    ----------
    column_map
        Criterion -> column of ``patients`` (see :func:`fong_score`).
    method
        ``"cox"``: :math:`S(t\\mid k) = \\exp\\{-\\hat H_0(t) e^{\\beta k}\\}` from a Cox model
        on the score :math:`k`; ``"km"``: the Kaplan-Meier curve of the training patients
        with score :math:`k` (a score absent from training uses the nearest lower score
        present, else the nearest higher).
    missing
        As in :func:`fong_score`.
    """

    name = "fong"

    def __init__(
        self,
        column_map: Mapping[str, str] | None = None,
        method: str = "cox",
        missing: str = "raise",
    ) -> None:
        super().__init__()
        self.column_map = dict(column_map) if column_map else None
        self.method = look_up_option(str(method), ["cox", "km"], what="Fong survival method")
        self.missing = look_up_option(str(missing), ["raise", "zero"], what="missing-value rule")

    def score(self, cohort: Any) -> np.ndarray:
        """The Fong score of each patient (rows of ``cohort.patients``)."""
        return fong_score(cohort.patients, self.column_map, missing=self.missing)

    def fit(self, cohort: Any) -> FongBaseline:
        time, event = survival_target(cohort)
        k = self.score(cohort)
        if self.method == "cox":
            X = pd.DataFrame({"fong_score": k})
            if np.ptp(k) == 0:
                X = X.iloc[:, :0]
            self.cox_, _ = fit_cox(X, time, event)
        else:
            self.km_ = {}
            for g in np.unique(k):
                km = kaplan_meier(time[k == g], event[k == g])
                self.km_[int(g)] = (km.times, km.surv)
        self._remember(cohort)
        return self

    def predict_survival(self, cohort: Any, times: Any) -> np.ndarray:
        t = self._check_times(times)
        k = self.score(cohort)
        if self.method == "cox":
            X = k[:, None] if self.cox_.features else np.zeros((len(k), 0))
            return self.cox_.survival(X, t)
        out = np.empty((len(k), len(t)))
        groups = np.array(sorted(self.km_))
        for g in np.unique(k):
            lower = groups[groups <= g]
            use = int(lower.max()) if lower.size else int(groups.min())
            kt, ks = self.km_[use]
            out[k == g] = step_matrix(kt, ks[None, :], t)[0]
        return out

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        if self.method == "cox":
            return {"cox": self.cox_.to_dict()}
        return {
            "km": {
                str(g): {"times": v[0].tolist(), "surv": v[1].tolist()} for g, v in self.km_.items()
            }
        }

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        if self.method == "cox":
            self.cox_ = CoxFit.from_dict(state["cox"])
        else:
            self.km_ = {
                int(g): (np.asarray(v["times"], dtype=float), np.asarray(v["surv"], dtype=float))
                for g, v in state["km"].items()
            }


class TNMStageBaseline(Baseline):
    """Cox model on the TNM stage alone (one-hot, first level as reference).

    Parameters
    ----------
    stage_column
        The clinical column holding the stage (categorical, or continuous when coded as a
        number, which then enters linearly).
    """

    name = "tnm"

    def __init__(self, stage_column: str = "stage") -> None:
        super().__init__()
        self.stage_column = str(stage_column)

    def fit(self, cohort: Any) -> TNMStageBaseline:
        if self.stage_column not in cohort.schema.clinical.all:
            look_up_option(
                self.stage_column,
                cohort.schema.clinical.all or ["(no clinical column)"],
                what="stage column",
            )
        time, event = survival_target(cohort)
        self.features_ = TabularFeatures(
            cohort.schema,
            "clinical",
            columns=[self.stage_column],
            drop_first=True,
            standardize=False,
        ).fit(cohort)
        self.cox_, _ = fit_cox(self.features_.transform_frame(cohort), time, event)
        self._remember(cohort)
        return self

    def predict_survival(self, cohort: Any, times: Any) -> np.ndarray:
        t = self._check_times(times)
        return self.cox_.survival(self.features_.transform(cohort), t)

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {"features": self.features_.to_dict(), "cox": self.cox_.to_dict()}

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self.features_ = TabularFeatures.from_dict(state["features"])
        self.cox_ = CoxFit.from_dict(state["cox"])
