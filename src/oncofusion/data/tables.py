"""Finding and reading the tables of a cohort directory (CSV or Parquet).

Every table ``X`` may be given as ``X.csv`` or ``X.parquet``, never both. Tables are read
*as text*: every cell becomes a stripped ``str`` or ``NaN`` (missing), so identifiers such
as ``"007"`` keep their leading zeros and each column is typed once, by the validator that
knows its role (:mod:`oncofusion.data.validation`).
"""

from __future__ import annotations

import csv
import difflib
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError

__all__ = ["MISSING_TOKENS", "TABLE_NAMES", "TABLE_SUFFIXES", "find_table", "read_table"]

#: the tables a cohort directory may hold, in the order they are read
TABLE_NAMES = ("patients", "biomarkers", "genomics", "gene_graph", "imaging")

TABLE_SUFFIXES = (".csv", ".parquet")

#: cell texts read as a missing value (pandas' defaults), after stripping blanks
MISSING_TOKENS = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


def find_table(root: Path, name: str, *, required: bool = False) -> Path | None:
    """The file holding table ``name`` in ``root``, or ``None`` when it is absent.

    Parameters
    ----------
    root
        The cohort directory.
    name
        A table name from :data:`TABLE_NAMES`.
    required
        Raise when the table is absent instead of returning ``None``.

    Raises
    ------
    CohortError
        When both ``name.csv`` and ``name.parquet`` exist, or the table is required and
        absent (the message names look-alike files, e.g. ``patient.csv``).
    """
    present = [
        root / f"{name}{suffix}"
        for suffix in TABLE_SUFFIXES
        if (root / f"{name}{suffix}").is_file()
    ]
    if len(present) == 2:
        raise CohortError(
            f"both {name}.csv and {name}.parquet exist, so it is ambiguous which one holds the table.",
            file=f"{name}.csv",
            fix=f"keep one of {name}.csv and {name}.parquet and delete or move the other.",
        )
    if present:
        return present[0]
    if required:
        raise CohortError(
            f"the required table '{name}' is missing from cohort directory '{root}'.",
            file=f"{name}.csv",
            fix=f"add {name}.csv or {name}.parquet to the cohort directory"
            + _look_alike_hint(root, name)
            + ".",
        )
    return None


def _look_alike_hint(root: Path, name: str) -> str:
    """``' (did you mean to rename X?)'`` when a file in ``root`` resembles ``name``."""
    candidates = {p.name: p.name.split(".")[0] for p in root.iterdir() if p.is_file()}
    close = difflib.get_close_matches(name, list(candidates.values()), n=1, cutoff=0.75)
    if not close:
        return ""
    found = next(f for f, stem in candidates.items() if stem == close[0])
    return f" (found '{found}': rename it to {name}.csv or {name}.parquet if it holds this table)"


def read_table(path: Path, root: Path) -> pd.DataFrame:
    """Read one table as text: stripped ``str`` cells, ``NaN`` where a value is missing.

    Parameters
    ----------
    path
        The ``.csv`` or ``.parquet`` file.
    root
        The cohort directory (error messages name files relative to it).

    Returns
    -------
    pandas.DataFrame
        Columns as in the file (names stripped of surrounding blanks), ``object`` dtype,
        a ``RangeIndex`` whose position ``i`` is data row ``i + 1``.

    Raises
    ------
    CohortError
        When the file cannot be read or parsed, has no header, or repeats a column name.
    """
    rel = path.relative_to(root).as_posix()
    try:
        if path.suffix == ".csv":
            frame = _read_csv(path, rel)
        else:
            frame = pd.read_parquet(path)
            _check_header([str(c) for c in frame.columns], rel)
            frame = frame.apply(_parquet_column_as_text)
    except CohortError:
        raise
    except (UnicodeDecodeError, csv.Error, OSError, ValueError) as e:
        kind = "CSV" if path.suffix == ".csv" else "Parquet"
        raise CohortError(
            f"the file cannot be read as {kind}: {_first_line(e)}",
            file=rel,
            fix=f"save it again as a UTF-8, comma-separated {kind} file with one header row."
            if kind == "CSV"
            else "write it again with pandas.DataFrame.to_parquet or pyarrow.",
        ) from e
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(_normalise_text)
    return frame.reset_index(drop=True)


def _first_line(e: BaseException) -> str:
    """The first line of an exception's message, ending with one full stop."""
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__).rstrip(".") + "."


def _read_csv(path: Path, rel: str) -> pd.DataFrame:
    """Read a comma-separated file; every line must have as many fields as the header.

    (pandas would silently turn a surplus first field into the index, shifting every column.)
    Blank lines are skipped and not counted as data rows.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or all(not c.strip() for c in header):
            raise CohortError(
                "the file is empty: it needs a header row naming its columns.",
                file=rel,
                fix="write the column names on the first line, e.g. 'patient_id,time,event'.",
            )
        header = [c.strip() for c in header]
        for sep, name in ((";", "semicolons"), ("\t", "tabs")):
            if len(header) == 1 and sep in header[0]:
                raise CohortError(
                    f"the columns are separated by {name}, not commas.",
                    file=rel,
                    fix="save the table as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)').",
                )
        _check_header(header, rel)
        rows: list[list[str]] = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise CohortError(
                    f"line {reader.line_num} has {len(row)} fields but the header has {len(header)}.",
                    file=rel,
                    rows=[len(rows) + 1],
                    fix="give every line one value per column, separated by commas; quote values "
                    'that contain a comma ("1,5"); leave a missing value empty.',
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=header, dtype=object)


def _check_header(header: list[str], rel: str) -> None:
    blank = [i + 1 for i, c in enumerate(header) if not c.strip()]
    if blank:
        raise CohortError(
            f"header column number(s) {', '.join(map(str, blank))} have no name.",
            file=rel,
            fix="give every column a name or delete the empty column (often a trailing comma).",
        )
    counts = Counter(c.strip() for c in header)
    dup = [c for c, k in counts.items() if k > 1]
    if dup:
        raise CohortError(
            "the column appears more than once in the header.",
            file=rel,
            column=dup[0],
            fix="keep one column of each name.",
        )


def _normalise_text(col: pd.Series) -> pd.Series:
    """Strip blanks and turn the missing-value tokens into ``NaN`` (cells are ``str`` or NaN)."""
    stripped = col.astype(object).str.strip()
    return stripped.mask(stripped.isna() | stripped.isin(MISSING_TOKENS), np.nan).astype(object)


def _parquet_column_as_text(col: pd.Series) -> pd.Series:
    """A Parquet column as text, writing whole-number floats as integers ("2", not "2.0").

    This keeps categorical levels identical whether a table came from CSV or from Parquet
    (a float column holding 1.0, 2.0 and a missing value reads as "1", "2", NaN).
    """
    if pd.api.types.is_bool_dtype(col):
        return col.map(lambda v: np.nan if pd.isna(v) else str(int(bool(v))))
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            return col.map(
                lambda v: (
                    np.nan if pd.isna(v) else (str(int(v)) if math.isfinite(v) else repr(float(v)))
                )
            )
        return col.map(lambda v: np.nan if pd.isna(v) else repr(float(v)))
    return col.map(
        lambda v: np.nan if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
    )
