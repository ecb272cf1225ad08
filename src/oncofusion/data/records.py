"""Patient records (JSON-like dicts) as a :class:`Cohort`, checked by the cohort validators.

A record is what the scoring service and ``update`` receive for one patient::

    {"patient_id": "p1",
     "clinical": {"age": 61, "sex": "M", "stage": "III"},
     "visits": [{"time": 0.0, "ezh2": 1.2, "cd10": 3.4}, ...],
     "genomics": {"egfr": 1, "kras": 0},
     "images": [{"path": "p1/arterial.npy", "phase": "arterial"}],
     "arm": "surgery",                  # optional
     "time": 7.5, "event": 0}           # optional: follow-up so far, if known

Records go through exactly the validators ``load_cohort`` uses, so a bad value gives the
same message as in a cohort directory (the "file" is the record source, e.g. ``request``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.data.schema import CohortSchema
from oncofusion.errors import CohortError

__all__ = ["cohort_from_records", "RECORD_KEYS"]

RECORD_KEYS = ("patient_id", "clinical", "visits", "genomics", "images", "arm", "time", "event", "extra")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v != v:  # NaN
        return ""
    if isinstance(v, bool):
        return str(int(v))
    return str(v)


def _check_known(pid: str, what: str, record: dict[str, Any], known: list[str], source: str) -> None:
    """A field the model does not know is an error, never silently dropped."""
    unknown = sorted(set(record) - set(known))
    if unknown:
        raise CohortError(
            f"record '{pid}' has {what} field(s) {unknown} that the model does not know; known: {known}.",
            file=source,
            fix="remove them or correct their names (names are case-sensitive).",
        )


def cohort_from_records(
    records: Sequence[Mapping[str, Any]],
    schema: CohortSchema,
    *,
    root: str | Path | None = None,
    source: str = "record",
    horizon: float | None = None,
) -> Cohort:
    """Validate ``records`` against ``schema`` and return them as a :class:`Cohort`.

    Parameters
    ----------
    records
        One dict per patient (see the module docstring). Unknown keys are an error.
    schema
        The training cohort's schema (columns, arms, markers, genes, imaging kind).
    root
        Directory that image paths are relative to (required when records hold images).
    source
        Name used as the "file" in error messages (``request``, ``patient p1``...).
    horizon
        Follow-up assumed for a record without ``time`` (patients being scored have no
        outcome yet): the later of this and the last visit; ``event`` defaults to 0.
    """
    from oncofusion.data.validation import (
        Table,
        validate_biomarkers,
        validate_genomics,
        validate_imaging,
        validate_patients,
    )

    if not records:
        raise CohortError("no patient record was given.", file=source, fix="send at least one record.")
    rows, visits, genes, images = [], [], [], []
    default_end = float(horizon) if horizon else (max(schema.horizons) if schema.horizons else 1.0)
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise CohortError(f"record {i} is not an object.", file=source, fix="send one JSON object per patient.")
        unknown = sorted(set(rec) - set(RECORD_KEYS))
        if unknown:
            raise CohortError(
                f"record {i} has unknown field(s) {unknown}; allowed: {list(RECORD_KEYS)}.",
                file=source,
                fix="remove or rename them.",
            )
        pid = _text(rec.get("patient_id"))
        if not pid:
            raise CohortError(f"record {i} has no patient_id.", file=source, column="patient_id", fix="give each record an id.")
        rec_visits = list(rec.get("visits") or [])
        last_visit = max((float(v.get("time", 0) or 0) for v in rec_visits), default=0.0)
        known_time = rec.get("time") is not None
        row = {
            "patient_id": pid,
            "time": _text(rec["time"]) if known_time else _text(max(default_end, last_visit + 1e-6)),
            "event": _text(rec.get("event", 0)),
        }
        if schema.arms:
            row["arm"] = _text(rec.get("arm"))
        clinical = dict(rec.get("clinical") or {})
        extra = dict(rec.get("extra") or {})
        _check_known(pid, "clinical", clinical, list(schema.clinical.all), source)
        for col in schema.clinical.all:
            row[col] = _text(clinical.get(col))
        for col in schema.extra:
            row[col] = _text(extra.get(col))
        rows.append(row)
        for v in rec_visits:
            _check_known(pid, "visit", v, ["time", *schema.biomarkers], source)
            visits.append({"patient_id": pid, **{k: _text(x) for k, x in v.items()}})
        if rec.get("genomics"):
            _check_known(pid, "genomics", dict(rec["genomics"]), list(schema.genomics), source)
            genes.append({"patient_id": pid, **{k: _text(x) for k, x in dict(rec["genomics"]).items()}})
        for img in rec.get("images") or []:
            images.append({"patient_id": pid, **{k: _text(x) for k, x in dict(img).items()}})

    def table(data: list[dict[str, str]], file: str, columns: list[str] | None = None) -> Table:
        frame = pd.DataFrame(data, dtype=str)
        if columns is not None:
            frame = frame.reindex(columns=columns)
        # missing values are NaN, as read_table gives them for empty cells (not "", which
        # the validators would report as a non-numeric value)
        return Table(frame=frame.mask(frame.eq("")), file=f"{source}:{file}")

    patient_cols = ["patient_id", "time", "event", *(["arm"] if schema.arms else []), *schema.clinical.all, *schema.extra]
    # a record without ``arm`` is a patient still to be treated (scoring under every arm)
    patients = validate_patients(table(rows, "patients", patient_cols), schema, arm_required=False)
    ids = set(patients["patient_id"])
    biomarkers = genomics = imaging = None
    if schema.biomarkers:
        biomarkers = validate_biomarkers(
            table(visits, "visits", ["patient_id", "time", *schema.biomarkers]), schema, patients
        )
    if schema.genomics and genes:
        genomics = validate_genomics(table(genes, "genomics", ["patient_id", *schema.genomics]), schema, ids)
    if images:
        if root is None:
            raise CohortError("records refer to images but no image root was given.", file=source,
                              fix="upload the images or give the directory their paths are relative to.")
        cols = ["patient_id", "path"] + [c for c in ("phase", "mask_path") if any(c in r for r in images)]
        imaging = validate_imaging(table(images, "images", cols), schema, Path(root).resolve(), ids)
    return Cohort(
        root=Path(root).resolve() if root is not None else Path.cwd(),
        schema=schema,
        patients=patients,
        biomarkers=biomarkers,
        genomics=genomics,
        gene_graph=None,
        imaging=imaging,
        metadata={"source": source, "outcomes_known": [r.get("time") is not None for r in records]},
    )
