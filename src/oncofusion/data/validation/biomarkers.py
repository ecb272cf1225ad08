"""Rules for the biomarkers table: serial measurements in long format (one row per visit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofusion.data.schema import CohortSchema
from oncofusion.data.validation._checks import (
    Table,
    check_declared_columns,
    check_patient_ids,
    fail_rows,
    parse_numeric,
)
from oncofusion.errors import CohortError

__all__ = ["validate_biomarkers"]


def validate_biomarkers(table: Table, schema: CohortSchema, patients: pd.DataFrame) -> pd.DataFrame:
    """Check the biomarkers table against the schema and the (typed) patients table.

    Rules: columns ``patient_id``, ``time`` and exactly the markers ``cohort.yaml`` declares;
    every id is a patient; ``time`` present, finite, ``>= 0`` and not after the patient's
    follow-up ``time``; at most one visit per (patient, time); marker values numeric or empty.

    Parameters
    ----------
    table
        The biomarkers table as read.
    schema
        The cohort's schema.
    patients
        The typed patients table (:func:`~oncofusion.data.validation.patients.validate_patients`).

    Returns
    -------
    pandas.DataFrame
        ``patient_id`` (str), ``time`` (float64), one float64 column per marker (NaN where not
        measured), sorted by patient then time, with a fresh index.

    Raises
    ------
    CohortError
        For the first rule the table breaks.
    """
    if not schema.biomarkers:
        raise CohortError(
            "the cohort has a biomarkers table but cohort.yaml declares no biomarkers.",
            file=table.file,
            fix="list the marker columns under 'biomarkers:' in cohort.yaml, or remove the table.",
        )
    check_declared_columns(
        table, fixed=("patient_id", "time"), declared=schema.biomarkers, yaml_key="biomarkers"
    )
    check_patient_ids(table, unique=False, known=set(patients["patient_id"]))
    time = parse_numeric(table, "time", what="visit time", allow_missing=False)
    negative = (time < 0).to_numpy()
    if negative.any():
        raise fail_rows(
            table, negative, "visit time must be 0 (baseline) or later", column="time",
            fix="give visit times relative to baseline, in the cohort's time_unit "
            f"({schema.time_unit}); visits before baseline belong at time 0 or nowhere.",
        )  # fmt: skip
    follow_up = (
        table.frame["patient_id"].map(patients.set_index("patient_id")["time"]).astype(np.float64)
    )
    late = (time > follow_up).to_numpy()
    if late.any():
        raise fail_rows(
            table, late, "the visit is after the patient's follow-up ended, i.e. later than the "
            "patient's 'time' in the patients table", column="time", context=("follow-up", follow_up),
            fix=f"check both times are in {schema.time_unit} from the same baseline; a visit "
            "cannot come after the event or last follow-up.",
        )  # fmt: skip
    key = pd.DataFrame({"patient_id": table.frame["patient_id"], "time": time})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        raise fail_rows(
            table, dup, "the patient has more than one visit at this time", column="time",
            fix="merge measurements taken at the same visit into one row, or correct the times.",
        )  # fmt: skip
    out = key.copy()
    for marker in schema.biomarkers:
        out[marker] = parse_numeric(table, marker, what="a biomarker value", allow_missing=True)
    return out.sort_values(["patient_id", "time"], kind="stable").reset_index(drop=True)
