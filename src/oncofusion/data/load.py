"""``load_cohort``: read a cohort directory, check every rule, return a typed :class:`Cohort`."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.data.schema import CohortSchema
from oncofusion.data.tables import TABLE_NAMES, find_table, read_table
from oncofusion.data.validation import (
    Table,
    check_has_events,
    check_image_files,
    read_schema,
    validate_biomarkers,
    validate_gene_graph,
    validate_genomics,
    validate_imaging,
    validate_patients,
)
from oncofusion.errors import CohortError

__all__ = ["load_cohort"]

#: suffixes of files that look like a table in the wrong format
_TABLE_LIKE_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv", ".txt", ".xlsx", ".xls")


def load_cohort(
    path: str | os.PathLike[str], *, check_images: bool = True, require_events: bool = False
) -> Cohort:
    """Read and validate a cohort directory (format: ``docs/cohort-format.md``).

    Parameters
    ----------
    path
        The cohort directory: ``cohort.yaml``, ``patients.csv`` (or ``.parquet``) and the
        optional ``biomarkers``, ``genomics``, ``gene_graph`` and ``imaging`` tables.
    check_images
        Open every image and mask with :func:`oncofusion.data.readers.read_image` and check
        that it decodes and has the dimensionality that ``imaging`` declares. Without it only
        the paths are checked (present, relative, inside the cohort, existing).
    require_events
        Raise when no patient has an event; training and evaluation need at least one.

    Returns
    -------
    Cohort
        Typed tables (``patient_id`` as ``str`` everywhere, times ``float64``, events
        ``int64``) with ``root`` the absolute cohort directory and ``metadata["files"]``
        the file each table came from.

    Raises
    ------
    CohortError
        For the first rule the cohort breaks; the message names the file, the column, the
        data rows (1-based, header excluded) with their patient ids, and the fix. Nothing is
        written in any case.

    Examples
    --------
    >>> from oncofusion.data import load_cohort
    >>> cohort = load_cohort("my_cohort/")  # doctest: +SKIP
    >>> cohort.patients[["patient_id", "time", "event"]].head()  # doctest: +SKIP
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        problem = "does not exist" if not root.exists() else "is not a directory"
        raise CohortError(
            f"the cohort directory '{root}' {problem}.",
            fix="give the directory that holds cohort.yaml and patients.csv.",
        )
    root = root.resolve()
    schema = read_schema(root)
    files = {name: find_table(root, name, required=name == "patients") for name in TABLE_NAMES}
    _check_stray_tables(root, files)
    _check_declared_tables(schema, files)

    patients_table = _table(files["patients"], root)
    patients = validate_patients(patients_table, schema)
    if require_events:
        check_has_events(patients, patients_table.file)
    ids = set(patients["patient_id"])

    biomarkers = genomics = gene_graph = imaging = None
    if files["biomarkers"]:
        biomarkers = validate_biomarkers(_table(files["biomarkers"], root), schema, patients)
    if files["genomics"]:
        genomics = validate_genomics(_table(files["genomics"], root), schema, ids)
    if files["gene_graph"]:
        gene_graph = validate_gene_graph(_table(files["gene_graph"], root), schema)
    if files["imaging"]:
        imaging_table = _table(files["imaging"], root)
        imaging = validate_imaging(imaging_table, schema, root, ids)
        if check_images:
            check_image_files(imaging_table, imaging, schema, root)

    return Cohort(
        root=root,
        schema=schema,
        patients=patients,
        biomarkers=biomarkers,
        genomics=genomics,
        gene_graph=gene_graph,
        imaging=imaging,
        metadata={
            "files": {name: p.name for name, p in files.items() if p is not None},
            "images_checked": bool(check_images and imaging is not None),
        },
    )


def _table(path: Path | None, root: Path) -> Table:
    assert path is not None  # internal: only called for tables that were found
    frame: pd.DataFrame = read_table(path, root)
    return Table(frame=frame, file=path.relative_to(root).as_posix())


def _check_stray_tables(root: Path, files: dict[str, Path | None]) -> None:
    """A file that looks like an absent table (``biomarker.csv``, ``Genomics.tsv``) is an error.

    Without this check such a file would be silently ignored and its modality lost. Look-alikes
    of a table that is present (a source ``patients.xlsx`` next to ``patients.csv``) and
    hidden files are left alone.
    """
    for p in sorted(root.iterdir()):
        if (
            p.name.startswith(".")
            or not p.is_file()
            or p.suffix.lower() not in _TABLE_LIKE_SUFFIXES
        ):
            continue
        stem = p.name[: -len(p.suffix)]
        absent = [name for name in TABLE_NAMES if files[name] is None]
        close = difflib.get_close_matches(stem.lower(), absent, n=1, cutoff=0.85)
        if close:
            raise CohortError(
                f"the file looks like the '{close[0]}' table but is not named {close[0]}.csv or "
                f"{close[0]}.parquet, so it would be ignored.",
                file=p.name,
                fix=f"rename it to {close[0]}.csv (comma-separated) or {close[0]}.parquet, or move "
                "it out of the cohort directory.",
            )


def _check_declared_tables(schema: CohortSchema, files: dict[str, Path | None]) -> None:
    """A modality declared in ``cohort.yaml`` needs its table."""
    declared = {
        "biomarkers": ("biomarkers", ", ".join(schema.biomarkers)) if schema.biomarkers else None,
        "genomics": ("genomics", ", ".join(schema.genomics)) if schema.genomics else None,
        "imaging": ("imaging", schema.imaging) if schema.imaging else None,
    }
    for name, decl in declared.items():
        if decl is not None and files[name] is None:
            raise CohortError(
                f"cohort.yaml declares '{decl[0]}: {decl[1]}' but the cohort has no {name} table.",
                file=f"{name}.csv",
                fix=f"add {name}.csv (or {name}.parquet), or remove '{decl[0]}' from cohort.yaml.",
            )
