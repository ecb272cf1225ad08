"""Vectorised column checks shared by the table validators.

Each check raises :class:`~oncofusion.errors.CohortError` naming the file, the column, up to
ten 1-based data-row numbers (header excluded) and, in the problem text, the offending
values with their patient ids; the CLI prints that one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError

__all__ = [
    "MAX_SHOWN",
    "Table",
    "check_declared_columns",
    "check_patient_ids",
    "did_you_mean",
    "fail_rows",
    "parse_binary",
    "parse_numeric",
    "require_columns",
]

#: how many offending rows a message lists
MAX_SHOWN = 10


@dataclass(frozen=True)
class Table:
    """A table read as text, with the file name that messages show.

    Attributes
    ----------
    frame
        The cells as ``str`` or ``NaN``; position ``i`` is data row ``i + 1``.
    file
        The file name relative to the cohort directory, e.g. ``"patients.csv"``.
    """

    frame: pd.DataFrame
    file: str

    @property
    def name(self) -> str:
        """The table name, e.g. ``"patients"``."""
        return self.file.rsplit(".", 1)[0]


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``options``, or ``""``."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _quote_list(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _found_values(
    table: Table, idx: np.ndarray, column: str, context: tuple[str, pd.Series] | None
) -> str:
    """``"found 'abc' (patient 007), ..."`` for the rows ``idx``."""
    frame = table.frame
    parts = []
    for i in idx:
        value = frame[column].iat[i]
        notes = []
        if "patient_id" in frame.columns:
            pid = frame["patient_id"].iat[i]
            notes.append("patient_id missing" if pd.isna(pid) else f"patient {pid}")
        if context is not None:
            notes.append(f"{context[0]} {context[1].iat[i]:g}")
        shown = "empty" if pd.isna(value) else f"'{value}'"
        parts.append(f"{shown} ({', '.join(notes)})" if notes else shown)
    return "found " + ", ".join(parts)


def _found_ids(table: Table, idx: np.ndarray) -> str:
    """``"patient_id 007, 012"``: the distinct ids of the rows ``idx`` (row numbers without ids)."""
    if "patient_id" not in table.frame.columns:
        return "rows " + ", ".join(str(i + 1) for i in idx)
    ids = table.frame["patient_id"].to_numpy()[idx]
    return "patient_id " + ", ".join(dict.fromkeys(str(v) for v in ids))


def fail_rows(
    table: Table,
    mask: np.ndarray | pd.Series,
    problem: str,
    *,
    column: str | None,
    fix: str,
    show_values: bool = True,
    context: tuple[str, pd.Series] | None = None,
) -> CohortError:
    """A :class:`CohortError` for the rows where ``mask`` is true.

    The problem text is followed by ``(found <value> (patient <id>), ...)`` for up to ten
    rows or, when ``show_values`` is false (or there is no column), by the distinct
    ``(patient_id <id>, ...)``. ``context`` adds a labelled number per row, e.g.
    ``("follow-up", times)`` gives ``(patient 007, follow-up 12)``.
    """
    mask = np.asarray(mask, dtype=bool)
    idx = np.flatnonzero(mask)
    shown = idx[:MAX_SHOWN]
    if show_values and column is not None:
        found = _found_values(table, shown, column, context)
    else:
        found = _found_ids(table, shown)
    return CohortError(
        f"{problem} ({found}).", file=table.file, column=column, rows=(idx + 1).tolist(), fix=fix
    )


def require_columns(
    table: Table, columns: Sequence[str], candidates: Sequence[str] | None = None
) -> None:
    """Raise when one of ``columns`` is not in the table's header.

    The message suggests the closest of ``candidates`` (default: every header column), e.g.
    an undeclared column that may be the required one misspelt.
    """
    for col in columns:
        if col not in table.frame.columns:
            raise CohortError(
                f"the required column is missing; the header has {_quote_list(list(table.frame.columns))}."
                + did_you_mean(col, table.frame.columns if candidates is None else candidates),
                file=table.file,
                column=col,
                fix=f"add a column named '{col}' (names are case-sensitive).",
            )


def check_declared_columns(
    table: Table,
    *,
    fixed: Sequence[str],
    optional: Sequence[str] = (),
    declared: Sequence[str] = (),
    yaml_key: str | None,
) -> None:
    """The header holds ``fixed`` + every ``declared`` column, plus only ``optional`` ones.

    Parameters
    ----------
    table
        The table.
    fixed
        Columns the format itself requires (``patient_id``, ``time`` ...).
    optional
        Columns the format allows without a declaration (``arm``, ``phase`` ...).
    declared
        Columns ``cohort.yaml`` declares for this table.
    yaml_key
        Where in ``cohort.yaml`` they are declared, e.g. ``"clinical.continuous,
        clinical.categorical or extra"`` (used in the fix); ``None`` for a table whose
        columns are fixed by the format (``gene_graph``, ``imaging``).
    """
    reserved = [c for c in declared if c in (*fixed, *optional)]
    if reserved:
        raise CohortError(
            f"'{reserved[0]}' is declared under {yaml_key}, but it is a column the format itself "
            f"gives the {table.name} table.",
            file="cohort.yaml",
            fix=f"rename that column in {table.file} and in cohort.yaml.",
        )
    header = list(table.frame.columns)
    known = {*fixed, *optional, *declared}
    require_columns(table, fixed, candidates=[c for c in header if c not in known])
    for col in declared:
        if col not in header:
            raise CohortError(
                f"cohort.yaml declares column '{col}' under {yaml_key}, but the table has no such column."
                + did_you_mean(col, [c for c in header if c not in (*fixed, *optional, *declared)]),
                file=table.file,
                column=col,
                fix=f"add the column to {table.file} or remove it from {yaml_key} in cohort.yaml.",
            )
    for col in header:
        if col in known:
            continue
        hint = did_you_mean(col, [*fixed, *optional, *declared])
        if yaml_key is None:
            raise CohortError(
                f"the column is not part of the format: this table has the columns "
                f"{_quote_list([*fixed, *optional])} only.{hint}",
                file=table.file,
                column=col,
                fix="rename the column to one of those, or delete it.",
            )
        raise CohortError(
            f"the column is not declared in cohort.yaml (undeclared columns are errors so that "
            f"typos surface).{hint}",
            file=table.file,
            column=col,
            fix=f"declare it under {yaml_key} in cohort.yaml, or delete the column.",
        )


def check_patient_ids(table: Table, *, unique: bool, known: set[str] | None) -> None:
    """``patient_id`` is never missing, unique when ``unique``, and in ``known`` when given."""
    ids = table.frame["patient_id"]
    missing = ids.isna().to_numpy()
    if missing.any():
        raise CohortError(
            "patient_id is missing.",
            file=table.file,
            column="patient_id",
            rows=(np.flatnonzero(missing) + 1).tolist(),
            fix="give every row the id of its patient.",
        )
    if unique:
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            raise fail_rows(
                table, dup, "patient_id must be unique in this table; these ids appear more than once",
                column="patient_id", fix="keep one row per patient (merge or delete the duplicates).",
                show_values=False,
            )  # fmt: skip
    if known is not None:
        unknown = (~ids.isin(known)).to_numpy()
        if unknown.any():
            raise fail_rows(
                table, unknown, "these patient ids are not in the patients table",
                column="patient_id", show_values=False,
                fix="add the patients to the patients table, correct the ids (they are compared as "
                "text, so '007' and '7' differ), or delete the rows.",
            )  # fmt: skip


def parse_numeric(
    table: Table, column: str, *, what: str, allow_missing: bool, fix: str | None = None
) -> pd.Series:
    """The column as ``float64``: every present value numeric and finite.

    Parameters
    ----------
    table, column
        Where the values are.
    what
        What the column holds, for the message (``"follow-up time"``).
    allow_missing
        Whether empty cells (``NaN``) are allowed.
    fix
        The fix for a non-numeric value (a generic one by default).
    """
    raw = table.frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    absent = raw.isna().to_numpy()
    if not allow_missing and absent.any():
        raise fail_rows(
            table, absent, f"{what} is missing (empty or NA), and it is required in every row",
            column=column, show_values=False, fix=f"fill in '{column}' for these rows, or remove the rows.",
        )  # fmt: skip
    not_numeric = (~absent) & values.isna().to_numpy()
    if not_numeric.any():
        raise fail_rows(
            table, not_numeric, f"{what} must be a number", column=column,
            fix=fix or "write a plain number with '.' as decimal mark (no units or text)"
            + ("; leave the cell empty when the value is unknown." if allow_missing else "."),
        )  # fmt: skip
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        raise fail_rows(
            table, infinite, f"{what} must be finite", column=column,
            fix="replace the infinite values by the measured number"
            + (" or leave the cell empty." if allow_missing else "."),
        )  # fmt: skip
    return values


def parse_binary(table: Table, column: str, *, what: str, allow_missing: bool) -> pd.Series:
    """The column as 0/1 (``float64`` when missing values are allowed, else ``int64``).

    ``"0"``, ``"1"``, ``"0.0"``, ``"1.0"``, ``"true"`` and ``"false"`` (any case) are read.
    """
    raw = table.frame[column]
    lowered = raw.str.lower()
    text = lowered.map({"true": "1", "false": "0"}).fillna(raw)
    values = pd.to_numeric(text, errors="coerce").astype(np.float64)
    absent = raw.isna().to_numpy()
    if not allow_missing and absent.any():
        raise fail_rows(
            table, absent, f"{what} is missing (empty or NA), and it is required in every row",
            column=column, show_values=False,
            fix=f"write 1 (event observed) or 0 (censored) in '{column}' for every row.",
        )  # fmt: skip
    bad = (~absent) & ~values.isin([0.0, 1.0]).to_numpy()
    if bad.any():
        raise fail_rows(
            table, bad, f"{what} must be 0 or 1", column=column,
            fix="write 1 where the event was observed and 0 where follow-up was censored; "
            "recode other codes (e.g. 2 = death from another cause) into 0/1 before loading.",
        )  # fmt: skip
    return values if allow_missing else values.astype(np.int64)
