"""Preprocessing of the tabular modalities, fitted on training patients only.

=============  ===========================================================================
clinical       continuous: impute the training median, then z-score with the training mean
               and standard deviation (both from observed training values, ``ddof=0``).
               categorical: one-hot over the training levels (sorted, no level dropped).
               A missing category is imputed with the training mode (``"mode"``, default)
               or gets its own ``<column>=missing`` indicator (``"level"``). Every feature
               has a missing flag (``clinical_missing``): True where the raw value was
               missing and was imputed (all one-hot columns of that variable).
biomarkers     per marker z-score from all training visits (optional ``log1p`` first);
               an unmeasured marker is 0 (the training mean) and ``observed`` False.
genomics       per gene z-score from training patients; a missing value is 0 (the mean).
=============  ===========================================================================

A standard deviation of 0 (a constant column) is replaced by 1. Categorical values are
compared as text, with integral numbers written without a decimal part (``2.0 -> "2"``), so
``stage`` read as 2 or as "2" is the same level. The fitted state is JSON
(:meth:`TabularPreprocessor.to_json`), saved with a run and read back exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError, ConfigError
from oncofusion.registry import look_up_option

__all__ = ["TabularPreprocessor"]

_FORMAT_VERSION = 1


def _level(value: Any) -> str | None:
    """A categorical value as text (None when missing)."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _stats(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (sd 1 when constant) of the finite entries."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 1.0
    mean, sd = float(v.mean()), float(v.std())
    return mean, (sd if sd > 1e-12 else 1.0)


def _ids(df: pd.DataFrame) -> np.ndarray:
    return df["patient_id"].astype(str).to_numpy()


class TabularPreprocessor:
    """Turns clinical, biomarker and genomic tables into model-ready arrays.

    Parameters
    ----------
    log_biomarkers
        ``True`` to ``log1p``-transform every biomarker before the z-score, or the names of
        the markers to transform (values must then be >= 0).
    categorical_missing
        ``"mode"``: impute a missing category with the training mode; ``"level"``: add a
        ``<column>=missing`` one-hot column. Either way ``clinical_missing`` flags it.

    Examples
    --------
    >>> prep = TabularPreprocessor().fit(cohort, patient_ids=splits["train"])  # doctest: +SKIP
    >>> x, missing = prep.transform_clinical(cohort.patients)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        log_biomarkers: bool | Sequence[str] = False,
        categorical_missing: Literal["mode", "level"] = "mode",
    ) -> None:
        look_up_option(categorical_missing, ["mode", "level"], what="categorical_missing strategy")
        self.log_biomarkers = (
            log_biomarkers if isinstance(log_biomarkers, bool) else list(log_biomarkers)
        )
        self.categorical_missing = categorical_missing
        self._state: dict[str, Any] | None = None

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        cohort: Cohort,
        patient_ids: Sequence[str] | None = None,
        *,
        vocabulary_from_cohort: bool = False,
    ) -> TabularPreprocessor:
        """Learn imputation values, scales and levels from the training patients.

        Parameters
        ----------
        cohort
            The cohort; its schema names the columns.
        patient_ids
            The training patients. ``None`` uses every patient of ``cohort`` (pass an
            already-subset cohort then). Never include validation or test patients.
        vocabulary_from_cohort
            Take the *list* of categorical levels from every patient of ``cohort`` (values
            only: no outcome, no statistic), so a rare level that the split put only in the
            validation or test part is a known, all-zero-in-training one-hot column rather
            than an error. Imputation modes and all scales still come from the training
            patients. Used by the training pipeline on its own internal splits; a level
            absent from the whole training cohort still raises at predict time.
        """
        full = cohort
        if patient_ids is not None:
            cohort = cohort.subset(list(patient_ids))
        if len(cohort) == 0:
            raise CohortError(
                "no training patient to fit the preprocessing on.",
                file="patients.csv",
                fix="pass the ids of the training patients (at least one).",
            )
        schema = cohort.schema
        markers = list(schema.biomarkers)
        if self.log_biomarkers is True:
            log_markers = markers
        elif self.log_biomarkers is False:
            log_markers = []
        else:
            log_markers = [
                look_up_option(m, markers, what="biomarker") for m in self.log_biomarkers
            ]

        patients = cohort.patients
        continuous: dict[str, dict[str, float]] = {}
        for col in schema.clinical.continuous:
            values = self._numeric(patients, col, "patients.csv")
            observed = values[np.isfinite(values)]
            if observed.size == 0:
                raise self._all_missing(col, "patients.csv")
            mean, sd = _stats(observed)
            continuous[col] = {"median": float(np.median(observed)), "mean": mean, "sd": sd}

        categorical: dict[str, dict[str, Any]] = {}
        for col in schema.clinical.categorical:
            levels = pd.Series([_level(v) for v in self._column(patients, col, "patients.csv")])
            counts = levels.dropna().value_counts()
            if counts.empty:
                raise self._all_missing(col, "patients.csv")
            mode = min(counts.index[counts == counts.max()])
            vocabulary = set(counts.index)
            if vocabulary_from_cohort:
                every = pd.Series([_level(v) for v in self._column(full.patients, col, "patients.csv")])
                vocabulary |= set(every.dropna())
                vocabulary |= set(full.categorical_levels().get(col, []))
            categorical[col] = {"levels": sorted(vocabulary), "mode": mode}

        biomarkers: dict[str, dict[str, Any]] = {}
        for m in markers:
            table = cohort.biomarkers
            values = (
                np.array([], dtype=float)
                if table is None
                else self._numeric(table, m, "biomarkers.csv")
            )
            if m in log_markers and table is not None:
                values = self._log(values, table, m)
            mean, sd = _stats(values)
            biomarkers[m] = {"mean": mean, "sd": sd, "log": m in log_markers}

        genomics: dict[str, dict[str, float]] = {}
        for g in schema.genomics:
            table = cohort.genomics
            values = (
                np.array([], dtype=float)
                if table is None
                else self._numeric(table, g, "genomics.csv")
            )
            mean, sd = _stats(values)
            genomics[g] = {"mean": mean, "sd": sd}

        self._state = {
            "version": _FORMAT_VERSION,
            "categorical_missing": self.categorical_missing,
            "continuous": continuous,
            "categorical": categorical,
            "biomarkers": biomarkers,
            "genomics": genomics,
            "n_train_patients": len(cohort),
        }
        return self

    # ------------------------------------------------------------------ names
    @property
    def is_fitted(self) -> bool:
        return self._state is not None

    def _fitted(self) -> dict[str, Any]:
        if self._state is None:
            raise ConfigError(
                "TabularPreprocessor is not fitted: call fit(cohort, patient_ids=train_ids) "
                "or load a saved state with TabularPreprocessor.from_json."
            )
        return self._state

    def _levels(self, col: str) -> list[str]:
        levels = list(self._fitted()["categorical"][col]["levels"])
        return [*levels, "missing"] if self.categorical_missing == "level" else levels

    @property
    def clinical_feature_names(self) -> list[str]:
        """Names of the columns of the clinical vector: ``age``, ``sex=F``, ``sex=M``, ..."""
        state = self._fitted()
        names = list(state["continuous"])
        for col in state["categorical"]:
            names += [f"{col}={lv}" for lv in self._levels(col)]
        return names

    @property
    def biomarker_names(self) -> list[str]:
        return list(self._fitted()["biomarkers"])

    @property
    def genomic_names(self) -> list[str]:
        return list(self._fitted()["genomics"])

    # ------------------------------------------------------------------ transforms
    def transform_clinical(
        self, patients: pd.DataFrame, *, file: str = "patients.csv"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Clinical features of each row of ``patients``.

        Returns
        -------
        values
            ``(n, F)`` float32, columns as :attr:`clinical_feature_names`.
        missing
            ``(n, F)`` bool, True where the raw value was missing and was imputed.

        Raises
        ------
        CohortError
            A categorical level that training never saw (naming the patients), a missing
            column, or a non-numeric value in a continuous column.
        """
        state = self._fitted()
        n = len(patients)
        blocks: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        for col, st in state["continuous"].items():
            raw = self._numeric(patients, col, file)
            miss = ~np.isfinite(raw)
            blocks.append(((np.where(miss, st["median"], raw) - st["mean"]) / st["sd"])[:, None])
            masks.append(miss[:, None])
        ids = _ids(patients) if "patient_id" in patients else np.arange(1, n + 1)
        for col in state["categorical"]:
            levels = self._levels(col)
            values = [_level(v) for v in self._column(patients, col, file)]
            miss = np.array([v is None for v in values], dtype=bool)
            known = set(state["categorical"][col]["levels"])
            unseen = sorted({v for v in values if v is not None and v not in known})
            if unseen:
                rows = [str(i) for i, v in zip(ids, values, strict=True) if v in unseen]
                raise CohortError(
                    f"level(s) {unseen} of '{col}' did not occur in the training patients.",
                    file=file,
                    column=col,
                    rows=rows,
                    fix=f"map it to one of the training levels {state['categorical'][col]['levels']} "
                    "or retrain",
                )
            fill = (
                "missing"
                if self.categorical_missing == "level"
                else state["categorical"][col]["mode"]
            )
            index = {lv: j for j, lv in enumerate(levels)}
            onehot = np.zeros((n, len(levels)))
            onehot[np.arange(n), [index[fill if v is None else v] for v in values]] = 1.0
            blocks.append(onehot)
            masks.append(np.repeat(miss[:, None], len(levels), axis=1))
        if not blocks:
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), bool)
        return np.hstack(blocks).astype(np.float32), np.hstack(masks)

    def transform_biomarkers(self, biomarkers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Z-scored marker values of each visit (row) and whether each was measured.

        Returns ``values`` ``(n_visits, M)`` float32 (0 where unmeasured) and ``observed``
        ``(n_visits, M)`` bool.
        """
        state = self._fitted()
        n = len(biomarkers)
        values = np.zeros((n, len(state["biomarkers"])), np.float32)
        observed = np.zeros(values.shape, bool)
        for j, (m, st) in enumerate(state["biomarkers"].items()):
            raw = self._numeric(biomarkers, m, "biomarkers.csv")
            if st["log"]:
                raw = self._log(raw, biomarkers, m)
            ok = np.isfinite(raw)
            values[:, j] = np.where(ok, (np.where(ok, raw, 0.0) - st["mean"]) / st["sd"], 0.0)
            observed[:, j] = ok
        return values, observed

    def transform_genomics(self, genomics: pd.DataFrame) -> np.ndarray:
        """Z-scored gene features ``(n, G)`` float32; a missing value becomes 0 (the mean)."""
        state = self._fitted()
        out = np.zeros((len(genomics), len(state["genomics"])), np.float32)
        for j, (g, st) in enumerate(state["genomics"].items()):
            raw = self._numeric(genomics, g, "genomics.csv")
            out[:, j] = np.where(np.isfinite(raw), (raw - st["mean"]) / st["sd"], 0.0)
        return out

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _column(df: pd.DataFrame, col: str, file: str) -> pd.Series:
        if col not in df.columns:
            raise CohortError(
                f"the column '{col}' used at training is missing.",
                file=file,
                column=col,
                fix=f"add the column '{col}' (values may be empty) or retrain without it.",
            )
        return df[col]

    @classmethod
    def _numeric(cls, df: pd.DataFrame, col: str, file: str) -> np.ndarray:
        raw = cls._column(df, col, file)
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            rows = (
                _ids(df[bad.to_numpy()]).tolist()
                if "patient_id" in df
                else list(np.flatnonzero(bad) + 1)
            )
            raise CohortError(
                f"non-numeric value(s) {sorted(map(str, raw[bad].unique()))[:5]} in a numeric column.",
                file=file,
                column=col,
                rows=rows,
                fix="write numbers (leave the cell empty when the value is missing).",
            )
        return num.to_numpy(dtype=float, na_value=np.nan)

    @staticmethod
    def _log(values: np.ndarray, df: pd.DataFrame, marker: str) -> np.ndarray:
        neg = values < 0
        if neg.any():
            raise CohortError(
                f"negative values cannot be log-transformed (log_biomarkers includes '{marker}').",
                file="biomarkers.csv",
                column=marker,
                rows=sorted(set(_ids(df[neg]).tolist())),
                fix=f"leave '{marker}' out of log_biomarkers, or correct the values.",
            )
        return np.log1p(values)

    @staticmethod
    def _all_missing(col: str, file: str) -> CohortError:
        return CohortError(
            f"the column '{col}' has no value in any training patient, so it cannot be imputed.",
            file=file,
            column=col,
            fix="fill in some values or remove the column from cohort.yaml.",
        )

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """The fitted state (JSON-compatible; floats round-trip exactly through JSON)."""
        state = json.loads(json.dumps(self._fitted()))
        state["log_biomarkers"] = self.log_biomarkers
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict`."""
        version = state.get("version")
        if version != _FORMAT_VERSION:
            raise ConfigError(
                f"preprocessing state has version {version!r}; this oncofusion reads version "
                f"{_FORMAT_VERSION}. Fix: refit the model with this version."
            )
        state = dict(state)
        log = state.pop("log_biomarkers", False)
        prep = cls(log_biomarkers=log, categorical_missing=state["categorical_missing"])
        prep._state = state
        return prep

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> TabularPreprocessor:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        if self._state is None:
            return "TabularPreprocessor(unfitted)"
        return (
            f"TabularPreprocessor(clinical={len(self.clinical_feature_names)}, "
            f"biomarkers={len(self.biomarker_names)}, genomics={len(self.genomic_names)})"
        )
