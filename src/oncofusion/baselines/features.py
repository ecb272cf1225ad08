"""Tabular features for the classical baselines, fitted on training patients only.

:class:`TabularFeatures` turns a :class:`~oncofusion.data.cohort.Cohort` into one numeric
row per patient from the modalities a baseline may ingest (the fair-comparison protocol
of DMA-Net §2.6: each comparator sees only the information it can use):

* ``clinical``: continuous columns median-imputed (+ a ``<col>__missing`` indicator when
  training had missing values) and z-scored when ``standardize``; categorical columns
  one-hot over the training levels (``<col>=<level>``; ``drop_first`` for Cox models), a
  missing value imputed with the training mode (+ indicator). A level not seen in
  training raises :class:`~oncofusion.errors.CohortError` naming the column and patients.
* ``biomarkers``: per marker, from the visits at or before ``landmark``: the last observed
  value ``<m>__last``, the least-squares slope over the last ``slope_visits`` observations
  ``<m>__slope`` (0 with one observation) and the number of observations ``<m>__n_obs``;
  a patient without observations gets the training medians and ``<m>__missing = 1``.
* ``genomics``: the gene columns as they are (``gene__<name>``), median-imputed and
  z-scored; patients without a genomics row get ``genomics__missing = 1``.

Columns that are constant on the training patients are dropped (they carry no
information and make a Cox fit singular).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.data.schema import CohortSchema
from oncofusion.errors import CohortError, ConfigError
from oncofusion.registry import look_up_option

__all__ = ["MODALITIES", "TabularFeatures", "biomarker_summary"]

#: modalities a tabular baseline can ingest
MODALITIES = ("clinical", "biomarkers", "genomics")


def _norm_use(use: str | Sequence[str]) -> tuple[str, ...]:
    items = (use,) if isinstance(use, str) else tuple(use)
    if not items:
        raise ConfigError(
            "'use' is empty. Fix: give at least one of 'clinical', 'biomarkers', 'genomics'."
        )
    out = tuple(look_up_option(str(u), list(MODALITIES), what="modality") for u in items)
    return tuple(m for m in MODALITIES if m in out)


def biomarker_summary(
    biomarkers: pd.DataFrame | None,
    markers: Sequence[str],
    patient_ids: Sequence[str],
    landmark: float,
    slope_visits: int = 3,
) -> pd.DataFrame:
    """Last value, slope and count of each marker over the visits at or before ``landmark``.

    The slope is the least-squares slope :math:`\\hat b = \\sum (t_k - \\bar t)(y_k - \\bar y)
    / \\sum (t_k - \\bar t)^2` over the last ``slope_visits`` observations of the marker (0 with
    one observation, NaN with none). ``<m>__last`` is NaN with no observation.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``patient_ids`` (in that order), columns ``<m>__last``, ``<m>__slope``,
        ``<m>__n_obs`` for each marker.
    """
    ids = pd.Index([str(p) for p in patient_ids], name="patient_id")
    cols: dict[str, pd.Series] = {}
    bm = None
    if biomarkers is not None and len(biomarkers):
        bm = biomarkers[biomarkers["time"] <= landmark]
    for m in markers:
        last = pd.Series(np.nan, index=ids)
        slope = pd.Series(np.nan, index=ids)
        count = pd.Series(0.0, index=ids)
        if bm is not None and m in bm.columns:
            obs = bm.loc[bm[m].notna(), ["patient_id", "time", m]].sort_values(
                ["patient_id", "time"], kind="stable"
            )
            obs = obs[obs["patient_id"].isin(ids)]
            if len(obs):
                g = obs.groupby("patient_id", sort=False)
                n = g.size()
                count.loc[n.index] = n.astype(float)
                last.loc[n.index] = g[m].last()
                tail = g.tail(max(int(slope_visits), 1))
                slope.loc[n.index] = _ls_slopes(tail, m).reindex(n.index)
        cols[f"{m}__last"] = last
        cols[f"{m}__slope"] = slope
        cols[f"{m}__n_obs"] = count
    return pd.DataFrame(cols, index=ids)


def _ls_slopes(obs: pd.DataFrame, m: str) -> pd.Series:
    """Least-squares slope of ``m`` on ``time`` per patient (0 with one observation)."""
    g = obs.groupby("patient_id", sort=False)
    tc = obs["time"] - g["time"].transform("mean")
    yc = obs[m] - g[m].transform("mean")
    num = (tc * yc).groupby(obs["patient_id"], sort=False).sum()
    den = (tc * tc).groupby(obs["patient_id"], sort=False).sum()
    return (num / den.where(den > 0)).fillna(0.0)


class TabularFeatures:
    """Per-patient feature matrix from clinical, biomarker and genomic data.

    Parameters
    ----------
    schema
        The cohort schema (column roles).
    use
        Modalities to ingest: any of ``"clinical"``, ``"biomarkers"``, ``"genomics"``.
    landmark
        Biomarker visits at or before this time (cohort time unit) are summarised.
    columns
        Restrict the clinical columns to these (default: all declared clinical columns).
    standardize
        z-score continuous, biomarker and gene features with training mean and sd.
    drop_first
        Drop the first (reference) level of each categorical column (for Cox models).
    slope_visits
        Number of last observations the biomarker slope is fitted on.

    Examples
    --------
    >>> feats = TabularFeatures(train.schema, use=("clinical", "biomarkers"))  # doctest: +SKIP
    >>> X = feats.fit(train).transform(test)                                   # doctest: +SKIP
    >>> feats.feature_names                                                    # doctest: +SKIP
    """

    def __init__(
        self,
        schema: CohortSchema,
        use: str | Sequence[str] = ("clinical",),
        landmark: float = 0.0,
        *,
        columns: Sequence[str] | None = None,
        standardize: bool = True,
        drop_first: bool = False,
        slope_visits: int = 3,
    ) -> None:
        self.schema = schema
        self.use = _norm_use(use)
        self.landmark = float(landmark)
        self.columns = list(columns) if columns is not None else None
        self.standardize = bool(standardize)
        self.drop_first = bool(drop_first)
        self.slope_visits = int(slope_visits)
        if self.columns is not None:
            unknown = [c for c in self.columns if c not in schema.clinical.all]
            if unknown:
                raise ConfigError(
                    f"'columns' {unknown} are not clinical columns of cohort '{schema.name}'. "
                    f"Fix: choose from {schema.clinical.all}."
                )
        if "biomarkers" in self.use and not schema.biomarkers:
            raise ConfigError(
                f"use includes 'biomarkers' but cohort '{schema.name}' declares no biomarkers."
            )
        if "genomics" in self.use and not schema.genomics:
            raise ConfigError(
                f"use includes 'genomics' but cohort '{schema.name}' declares no genomics."
            )
        self._state: dict[str, Any] | None = None

    # -- column roles ----------------------------------------------------------------------
    def _clinical_cols(self) -> tuple[list[str], list[str]]:
        if "clinical" not in self.use:
            return [], []
        keep = self.columns
        cont = [c for c in self.schema.clinical.continuous if keep is None or c in keep]
        cat = [c for c in self.schema.clinical.categorical if keep is None or c in keep]
        return cont, cat

    # -- raw values ------------------------------------------------------------------------
    def raw(self, cohort: Any, landmark: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Unimputed numeric and categorical values, indexed by patient id (cohort order)."""
        p = cohort.patients
        ids = p["patient_id"].astype(str).tolist()
        index = pd.Index(ids, name="patient_id")
        cont, cat = self._clinical_cols()
        num = pd.DataFrame(index=index)
        for c in cont:
            num[c] = pd.to_numeric(p[c], errors="coerce").to_numpy(dtype=float)
        cats = pd.DataFrame(index=index)
        for c in cat:
            cats[c] = [None if pd.isna(v) else str(v) for v in p[c]]
        if "biomarkers" in self.use:
            s = self.landmark if landmark is None else float(landmark)
            bs = biomarker_summary(
                cohort.biomarkers, self.schema.biomarkers, ids, s, self.slope_visits
            )
            num = pd.concat([num, bs], axis=1)
        if "genomics" in self.use:
            g = cohort.genomics
            genes = self.schema.genomics
            if g is None:
                gv = pd.DataFrame(np.nan, index=index, columns=genes)
                present = np.zeros(len(ids), dtype=bool)
            else:
                gi = (
                    g.assign(patient_id=g["patient_id"].astype(str))
                    .drop_duplicates("patient_id")
                    .set_index("patient_id")
                )
                gv = gi.reindex(index)[genes].apply(pd.to_numeric, errors="coerce")
                present = index.isin(gi.index)
            gv.columns = [f"gene__{c}" for c in genes]
            num = pd.concat([num, gv], axis=1)
            num["genomics__present"] = present.astype(float)
        return num, cats

    # -- fit / transform -------------------------------------------------------------------
    def fit(self, cohort: Any) -> TabularFeatures:
        """Learn imputation, scaling and levels from the (training) cohort.

        The list of levels also includes those of the cohort the training split was cut
        from (:meth:`Cohort.categorical_levels`: values only); a level never seen in
        training gets a constant column, which is dropped, so it acts as the reference.
        """
        vocabulary = cohort.categorical_levels() if hasattr(cohort, "categorical_levels") else None
        self.fit_raw(*self.raw(cohort), vocabulary=vocabulary)
        return self

    def fit_raw(
        self, num: pd.DataFrame, cats: pd.DataFrame, vocabulary: dict[str, list[str]] | None = None
    ) -> TabularFeatures:
        """Fit on raw frames from :meth:`raw` (several landmarks may be stacked)."""
        numeric: dict[str, dict[str, Any]] = {}
        for c in num.columns:
            if c == "genomics__present":
                continue
            v = num[c].to_numpy(dtype=float)
            med = float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0
            numeric[c] = {"median": med, "indicator": self._indicator_name(c, num)}
        categorical: dict[str, dict[str, Any]] = {}
        for c in cats.columns:
            vals = cats[c].dropna()
            levels = sorted(set(vals.unique().tolist()) | set((vocabulary or {}).get(c, [])))
            if not levels:
                continue
            mode = (
                vals.value_counts().sort_index(kind="stable").idxmax() if len(vals) else levels[0]
            )
            categorical[c] = {"levels": levels, "mode": mode, "missing": bool(cats[c].isna().any())}
        self._state = {"numeric": numeric, "categorical": categorical, "scale": {}, "keep": None}
        full = self._encode(num, cats)
        scale: dict[str, list[float]] = {}
        if self.standardize:
            for c in numeric:
                x = full[c].to_numpy(dtype=float)
                sd = float(x.std())
                scale[c] = [float(x.mean()), sd if sd > 0 else 1.0]
        self._state["scale"] = scale
        arr = full.to_numpy(dtype=float)
        const = np.all(arr == arr[:1], axis=0) if len(arr) else np.ones(arr.shape[1], dtype=bool)
        self._state["keep"] = [c for c, k in zip(full.columns, const, strict=True) if not k]
        return self

    def _indicator_name(self, c: str, num: pd.DataFrame) -> str | None:
        if c.startswith("gene__"):
            absent = "genomics__present" in num and (num["genomics__present"] == 0).any()
            return "genomics__missing" if absent else None
        if c.endswith(("__last", "__slope")):
            m = c.rsplit("__", 1)[0]
            return f"{m}__missing" if (num[f"{m}__n_obs"] == 0).any() else None
        if c.endswith("__n_obs"):
            return None
        return f"{c}__missing" if num[c].isna().any() else None

    def _encode(self, num: pd.DataFrame, cats: pd.DataFrame) -> pd.DataFrame:
        st = self._state
        assert st is not None
        out: dict[str, np.ndarray] = {}
        for c, spec in st["numeric"].items():
            v = num[c].to_numpy(dtype=float) if c in num else np.full(len(num), np.nan)
            miss = ~np.isfinite(v)
            v = np.where(miss, spec["median"], v)
            if c in st["scale"]:
                mu, sd = st["scale"][c]
                v = (v - mu) / sd
            out[c] = v
            ind = spec["indicator"]
            if ind is not None and ind not in out:
                if ind == "genomics__missing":
                    out[ind] = (num["genomics__present"].to_numpy() == 0).astype(float)
                elif ind.endswith("__missing") and f"{ind[:-9]}__n_obs" in num:
                    out[ind] = (num[f"{ind[:-9]}__n_obs"].to_numpy() == 0).astype(float)
                else:
                    out[ind] = miss.astype(float)
        for c, spec in st["categorical"].items():
            col = cats[c] if c in cats else pd.Series([None] * len(cats), index=cats.index)
            unseen = col.notna() & ~col.isin(spec["levels"])
            if unseen.any():
                bad = sorted(set(col[unseen]))
                raise CohortError(
                    f"value(s) {bad} were not seen in the training patients (levels: {spec['levels']}).",
                    file="patients",
                    column=c,
                    rows=list(col.index[unseen]),
                    fix="recode them to a training level, or refit on training data that contains them.",
                )
            filled = col.where(col.notna(), spec["mode"])
            levels = spec["levels"][1:] if self.drop_first else spec["levels"]
            for lev in levels:
                out[f"{c}={lev}"] = (filled == lev).to_numpy(dtype=float)
            if spec["missing"]:
                out[f"{c}__missing"] = col.isna().to_numpy(dtype=float)
        return pd.DataFrame(out, index=num.index)

    def transform_raw(self, num: pd.DataFrame, cats: pd.DataFrame) -> pd.DataFrame:
        """Encode raw frames with the fitted state (columns = :attr:`feature_names`)."""
        if self._state is None:
            raise ConfigError("TabularFeatures is not fitted. Fix: call .fit(train_cohort) first.")
        return self._encode(num, cats)[self._state["keep"]]

    def transform_frame(self, cohort: Any, landmark: float | None = None) -> pd.DataFrame:
        """Feature frame indexed by patient id, rows in ``cohort.patients`` order."""
        return self.transform_raw(*self.raw(cohort, landmark))

    def transform(self, cohort: Any, landmark: float | None = None) -> np.ndarray:
        """Feature matrix ``(n_patients, n_features)``; ``landmark`` overrides the fitted one."""
        return self.transform_frame(cohort, landmark).to_numpy(dtype=np.float64)

    def fit_transform(self, cohort: Any) -> np.ndarray:
        return self.fit(cohort).transform(cohort)

    # -- introspection ---------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns, in order."""
        if self._state is None:
            raise ConfigError("TabularFeatures is not fitted. Fix: call .fit(train_cohort) first.")
        return list(self._state["keep"])

    def groups(self) -> dict[str, list[str]]:
        """Output columns grouped by source variable (for screening a variable as a whole).

        A continuous column goes with its missing indicator, a categorical column's dummies
        (and indicator) form one group, ``<m>__last`` goes with ``<m>__missing``.
        """
        names = self.feature_names
        st = self._state
        assert st is not None
        out: dict[str, list[str]] = {}
        for c, spec in st["numeric"].items():
            members = [c] + (
                [spec["indicator"]] if spec["indicator"] and not c.endswith("__slope") else []
            )
            if c.startswith("gene__"):
                members = [c]
            out[c] = [m for m in members if m in names]
        if any(n == "genomics__missing" for n in names):
            out["genomics__missing"] = ["genomics__missing"]
        for c in st["categorical"]:
            out[c] = [n for n in names if n.startswith(f"{c}=") or n == f"{c}__missing"]
        return {k: v for k, v in out.items() if v}

    # -- JSON state ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if self._state is None:
            raise ConfigError("TabularFeatures is not fitted. Fix: call .fit(train_cohort) first.")
        return {
            "schema": self.schema.model_dump(),
            "use": list(self.use),
            "landmark": self.landmark,
            "columns": self.columns,
            "standardize": self.standardize,
            "drop_first": self.drop_first,
            "slope_visits": self.slope_visits,
            "state": self._state,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TabularFeatures:
        obj = cls(
            CohortSchema(**d["schema"]),
            d["use"],
            d["landmark"],
            columns=d["columns"],
            standardize=d["standardize"],
            drop_first=d["drop_first"],
            slope_visits=d["slope_visits"],
        )
        obj._state = d["state"]
        return obj
