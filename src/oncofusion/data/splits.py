"""Patient-level splits, stratified jointly by the event indicator and named columns.

Every patient lands in exactly one part. The split depends only on the seed and on the set
of patients (rows are put in ``patient_id`` order first), not on the row order of the table.

**Strata.** The stratum of a patient is the tuple of its values in the ``stratify``
columns (missing values are a level of their own; a numeric column with more than 10
distinct values is cut into quartiles). A joint stratum with fewer than ``min_stratum``
patients (default: the number of non-empty parts) is merged into its parent, the stratum
without the last column, repeatedly; strata still too small after dropping every column
but the first are pooled together. So ``stratify=("event", "stage", "emvi")`` falls back
to ``(event, stage)`` and then ``(event,)`` for rare combinations.

**Allocation.** Patients are visited stratum by stratum, in label order (so strata that
share their leading columns are adjacent: all ``event=0`` strata, then all ``event=1``),
in random order within a stratum, and each goes to the part that is furthest below its
target share at that point (largest deficit, ties to the first part). This deals every
stratum, and every block of strata sharing a prefix, out in the requested proportions (to
within about one patient per part) and hits the requested counts exactly, where
:func:`sklearn.model_selection.train_test_split` would fail on singleton strata.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError, ConfigError
from oncofusion.registry import look_up_option

__all__ = ["kfold_patients", "split_patients", "stratum_labels"]

_PARTS = ("train", "val", "test")
_MAX_LEVELS_BEFORE_BINNING = 10


def _checked_ids(patients: pd.DataFrame) -> pd.DataFrame:
    if "patient_id" not in patients.columns:
        raise CohortError("the table has no 'patient_id' column.", file="patients.csv", column="patient_id",
                          fix="name the id column 'patient_id'.")  # fmt: skip
    ids = patients["patient_id"].astype(str)
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise CohortError("patient ids must be unique.", file="patients.csv", column="patient_id", rows=dup,
                          fix="give every patient one row.")  # fmt: skip
    out = patients.assign(patient_id=ids)
    return out.sort_values("patient_id", kind="stable").reset_index(drop=True)


def _column_levels(col: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(col, errors="coerce")
    if (
        numeric.notna().sum() == col.notna().sum()
        and numeric.nunique() > _MAX_LEVELS_BEFORE_BINNING
    ):
        binned = pd.qcut(numeric, 4, labels=False, duplicates="drop")
        return binned.map(lambda v: "missing" if pd.isna(v) else f"q{int(v)}")
    return col.map(lambda v: "missing" if pd.isna(v) else str(v))


def stratum_labels(
    patients: pd.DataFrame, stratify: Sequence[str], *, min_stratum: int = 2
) -> np.ndarray:
    """Joint stratum label of each row, with rare strata merged (see the module docstring)."""
    stratify = list(stratify)
    if not stratify:
        return np.full(len(patients), "all", dtype=object)
    for c in stratify:
        if c not in patients.columns:
            look_up_option(c, [str(x) for x in patients.columns], what="stratify column")
    parts = [_column_levels(patients[c]).astype(str).to_numpy() for c in stratify]
    labels = np.array(["|".join(v) for v in zip(*parts, strict=True)], dtype=object)
    for depth in range(len(stratify) - 1, 0, -1):
        values, counts = np.unique(labels, return_counts=True)
        rare = np.isin(labels, values[counts < min_stratum])
        if not rare.any():
            return labels
        labels[rare] = np.array(
            ["|".join(v) for v in zip(*(p[rare] for p in parts[:depth]), strict=True)]
        )
    values, counts = np.unique(labels, return_counts=True)
    labels[np.isin(labels, values[counts < min_stratum])] = "(pooled rare strata)"
    return labels


def _quotas(sizes: Sequence[float], n: int) -> np.ndarray:
    """Exact part sizes: integers are counts (summing to n), floats fractions (summing to 1)."""
    values = list(sizes)
    if len(values) < 2 or any(
        not isinstance(v, int | float | np.integer | np.floating) for v in values
    ):
        raise ConfigError(f"sizes must be 2 or 3 numbers (fractions or counts), got {sizes}.")
    if any(v < 0 for v in values):
        raise ConfigError(f"sizes must be non-negative, got {sizes}.")
    if all(isinstance(v, int | np.integer) for v in values):
        if sum(values) != n:
            raise ConfigError(
                f"sizes {tuple(values)} add up to {sum(values)} but there are {n} patients. "
                "Fix: give counts that add up to the number of patients, or fractions."
            )
        return np.asarray(values, dtype=int)
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(
            f"fractions {tuple(values)} must add up to 1 (they add up to {sum(values):g})."
        )
    exact = np.asarray(values, dtype=float) * n
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")  # largest remainder
    counts[order[: n - counts.sum()]] += 1
    return counts


def _deal(labels: np.ndarray, quotas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Part index of each row: strata in label order, rows shuffled within, largest-deficit."""
    n = len(labels)
    rank = {s: i for i, s in enumerate(np.unique(labels))}
    order = np.lexsort((rng.permutation(n), np.array([rank[s] for s in labels])))
    share = quotas / max(n, 1)
    given = np.zeros(len(quotas))
    part = np.empty(n, dtype=int)
    for step, row in enumerate(order, start=1):
        k = int(np.argmax(share * step - given))
        part[row] = k
        given[k] += 1
    assert np.array_equal(given, quotas), "largest-deficit dealing must meet the quotas exactly"
    return part


def split_patients(
    patients: pd.DataFrame,
    *,
    sizes: Sequence[float] = (0.6, 0.2, 0.2),
    stratify: Sequence[str] = ("event",),
    seed: int = 0,
    min_stratum: int | None = None,
) -> dict[str, list[str]]:
    """Split patients into train/val/test, stratified jointly by ``stratify``.

    Parameters
    ----------
    patients
        ``patients.csv`` as a table (``patient_id`` plus the stratification columns).
    sizes
        Fractions summing to 1 (floats, rounded by largest remainder) or exact counts summing
        to the number of patients (ints), for ``(train, val, test)``; two entries give
        ``(train, test)`` with an empty ``val``.
    stratify
        Columns to stratify on jointly; ``()`` for a plain random split.
    seed
        The only source of randomness.
    min_stratum
        Joint strata smaller than this are merged (default: the number of non-empty parts).

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``, ids as str, each sorted.
    """
    table = _checked_ids(patients)
    quotas = _quotas(sizes, len(table))
    if len(quotas) == 2:
        quotas = np.array([quotas[0], 0, quotas[1]])
    elif len(quotas) != 3:
        raise ConfigError(
            f"sizes must have 2 or 3 entries (train, [val,] test), got {len(quotas)}."
        )
    min_size = int(min_stratum) if min_stratum is not None else max(2, int((quotas > 0).sum()))
    labels = stratum_labels(table, stratify, min_stratum=min_size)
    part = _deal(labels, quotas, np.random.default_rng(seed))
    ids = table["patient_id"].to_numpy()
    return {name: sorted(ids[part == k].tolist()) for k, name in enumerate(_PARTS)}


def kfold_patients(
    patients: pd.DataFrame,
    k: int = 5,
    *,
    stratify: Sequence[str] = ("event",),
    seed: int = 0,
    repeats: int = 1,
    min_stratum: int | None = None,
) -> Iterator[tuple[list[str], list[str]]]:
    """Stratified (repeated) k-fold cross-validation over patients.

    Yields ``(train_ids, test_ids)`` ``k * repeats`` times, repeat by repeat; within a
    repeat every patient is tested exactly once. Fold sizes differ by at most one. Repeat
    ``r`` uses an independent stream spawned from ``seed``.
    """
    table = _checked_ids(patients)
    n = len(table)
    if not isinstance(k, int | np.integer) or not 2 <= k <= n:
        raise ConfigError(
            f"k must be an integer between 2 and the number of patients ({n}), got {k}."
        )
    if not isinstance(repeats, int | np.integer) or repeats < 1:
        raise ConfigError(f"repeats must be a positive integer, got {repeats}.")
    quotas = np.full(k, n // k)
    quotas[: n % k] += 1
    labels = stratum_labels(table, stratify, min_stratum=int(min_stratum) if min_stratum else k)
    ids = table["patient_id"].to_numpy()
    for rng in (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(repeats)):
        fold = _deal(labels, quotas, rng)
        for f in range(k):
            yield sorted(ids[fold != f].tolist()), sorted(ids[fold == f].tolist())
