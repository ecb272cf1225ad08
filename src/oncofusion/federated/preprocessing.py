"""Federated preprocessing: one :class:`TabularPreprocessor` from per-site summary statistics.

Why not let each site standardise its own data? With different case mix, a site's own
z-scores shift its inputs (a CEA of 10 ng/mL is "+1 sd" at one hospital and "0" at another),
so one set of global weights would see differently scaled inputs at each site and could not
learn the absolute effect of a value. Instead every site sends, once, aggregate statistics
of its training patients (counts, sums and sums of squares per numeric column, the median,
the count of each categorical level; no patient-level value), and the server combines them:

=============  ================================================================================
continuous     mean and sd (``ddof=0``) pooled exactly from counts, sums and sums of squares;
               the imputation median is the count-weighted mean of the site medians (an
               approximation: the pooled median is not a function of site medians)
categorical    levels: the union over sites (of all their patients' values, validation
               included); mode: the level with the largest total count in training
biomarkers     per marker mean and sd pooled exactly over all training visits (after ``log1p``
genomics       when configured); genes likewise over training patients
=============  ================================================================================

The result has the same JSON state as a preprocessor fitted on the pooled training patients
(bit-identical except for the medians), is sent to every site, and is saved with the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.data.preprocess import _FORMAT_VERSION, TabularPreprocessor, _level
from oncofusion.errors import CohortError

__all__ = ["merge_statistics", "site_statistics"]

STATS_VERSION = 1


def _moments(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    return {"n": int(v.size), "sum": float(v.sum()), "sumsq": float(np.square(v).sum())}


def site_statistics(cohort: Cohort, *, log_biomarkers: bool | Sequence[str] = False,
                    vocabulary: Cohort | None = None) -> dict[str, Any]:
    """Aggregate statistics of one site's training patients (``cohort`` holds only those).

    ``vocabulary``: a cohort (e.g. all the site's patients, validation included) whose
    categorical *levels* are listed too, without counts, so a rare level that only a
    validation patient has is a known (all-zero in training) one-hot column, as in central
    training (``TabularPreprocessor.fit(..., vocabulary_from_cohort=True)``).
    """
    if len(cohort) == 0:
        raise CohortError("a site has no training patient.", file="patients.csv", fix="give every site patients.")
    schema = cohort.schema
    markers = list(schema.biomarkers)
    logged = markers if log_biomarkers is True else [] if log_biomarkers is False else list(log_biomarkers)
    p = cohort.patients
    continuous = {}
    for col in schema.clinical.continuous:
        raw = TabularPreprocessor._numeric(p, col, "patients.csv")
        obs = raw[np.isfinite(raw)]
        continuous[col] = {**_moments(raw), "median": float(np.median(obs)) if obs.size else None}
    categorical = {}
    for col in schema.clinical.categorical:
        levels = pd.Series([_level(v) for v in TabularPreprocessor._column(p, col, "patients.csv")]).dropna()
        seen = set() if vocabulary is None else {
            lv for lv in (_level(v) for v in TabularPreprocessor._column(vocabulary.patients, col, "patients.csv"))
            if lv is not None}
        categorical[col] = {"counts": {str(k): int(v) for k, v in levels.value_counts().items()},
                            "levels": sorted(seen | set(map(str, levels.unique())))}
    biomarkers = {}
    for m in markers:
        table = cohort.biomarkers
        raw = np.array([], float) if table is None else TabularPreprocessor._numeric(table, m, "biomarkers.csv")
        if m in logged and table is not None:
            raw = TabularPreprocessor._log(raw, table, m)
        biomarkers[m] = _moments(raw)
    genomics = {}
    for g in schema.genomics:
        table = cohort.genomics
        genomics[g] = _moments(np.array([], float) if table is None else TabularPreprocessor._numeric(table, g, "genomics.csv"))
    return {"version": STATS_VERSION, "n_patients": len(cohort), "continuous": continuous,
            "categorical": categorical, "biomarkers": biomarkers, "genomics": genomics}


def _pooled(parts: list[dict[str, float]]) -> tuple[float, float, int]:
    n = sum(int(q["n"]) for q in parts)
    if n == 0:
        return 0.0, 1.0, 0
    mean = sum(q["sum"] for q in parts) / n
    var = max(sum(q["sumsq"] for q in parts) / n - mean * mean, 0.0)
    sd = float(np.sqrt(var))
    return float(mean), (sd if sd > 1e-12 else 1.0), n


def merge_statistics(
    stats: Sequence[dict[str, Any]],
    *,
    log_biomarkers: bool | Sequence[str] = False,
    categorical_missing: str = "mode",
    extra_levels: dict[str, list[str]] | None = None,
) -> TabularPreprocessor:
    """One fitted preprocessor from the sites' :func:`site_statistics`.

    ``extra_levels``: more categorical levels to know (values only; the simulation adds
    those of its held-out test patients, as central training does for its test split).
    """
    if not stats:
        raise CohortError("no site statistics to merge.", fix="connect at least one site.")
    first = stats[0]
    for key in ("continuous", "categorical", "biomarkers", "genomics"):
        names = [list(s[key]) for s in stats]
        if any(n != names[0] for n in names):
            raise CohortError(
                f"the sites' {key} columns differ: {names}.", file="cohort.yaml",
                fix="every site must use the same cohort.yaml columns (same names, same order).",
            )
    continuous = {}
    for col in first["continuous"]:
        parts = [s["continuous"][col] for s in stats]
        mean, sd, n = _pooled(parts)
        if n == 0:
            raise CohortError(f"the column '{col}' has no value at any site, so it cannot be imputed.",
                              file="patients.csv", column=col, fix="fill in values or drop the column.")
        median = sum(q["n"] * q["median"] for q in parts if q["n"]) / n
        continuous[col] = {"median": float(median), "mean": mean, "sd": sd}
    categorical = {}
    for col in first["categorical"]:
        counts: dict[str, int] = {}
        known = set((extra_levels or {}).get(col, []))
        for s in stats:
            for lv, c in s["categorical"][col]["counts"].items():
                counts[lv] = counts.get(lv, 0) + int(c)
            known |= set(s["categorical"][col]["levels"])
        if not counts:
            raise CohortError(f"the column '{col}' has no value at any site.", file="patients.csv", column=col,
                              fix="fill in values or drop the column.")
        top = max(counts.values())
        categorical[col] = {"levels": sorted(known | set(counts)), "mode": min(k for k, c in counts.items() if c == top)}
    logged = set(first["biomarkers"]) if log_biomarkers is True else set() if log_biomarkers is False else set(log_biomarkers)
    biomarkers = {}
    for m in first["biomarkers"]:
        mean, sd, _ = _pooled([s["biomarkers"][m] for s in stats])
        biomarkers[m] = {"mean": mean, "sd": sd, "log": m in logged}
    genomics = {}
    for g in first["genomics"]:
        mean, sd, _ = _pooled([s["genomics"][g] for s in stats])
        genomics[g] = {"mean": mean, "sd": sd}
    state = {
        "version": _FORMAT_VERSION, "categorical_missing": categorical_missing, "continuous": continuous,
        "categorical": categorical, "biomarkers": biomarkers, "genomics": genomics,
        "n_train_patients": int(sum(s["n_patients"] for s in stats)),
        "log_biomarkers": log_biomarkers if isinstance(log_biomarkers, bool) else list(log_biomarkers),
    }
    return TabularPreprocessor.from_dict(state)
