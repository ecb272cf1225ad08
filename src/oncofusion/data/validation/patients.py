"""Rules for the patients table: ids, outcome, treatment arm, local control, clinical columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofusion.data.schema import CohortSchema
from oncofusion.data.validation._checks import (
    Table,
    check_declared_columns,
    check_patient_ids,
    fail_rows,
    parse_binary,
    parse_numeric,
)
from oncofusion.errors import CohortError

__all__ = ["check_has_events", "validate_patients"]

_CLINICAL_KEYS = "clinical.continuous, clinical.categorical or extra"


def validate_patients(table: Table, schema: CohortSchema, *, arm_required: bool = True) -> pd.DataFrame:
    """Check the patients table and return it typed.

    Parameters
    ----------
    table
        The patients table as read by :func:`oncofusion.data.tables.read_table`.
    schema
        The cohort's schema.
    arm_required
        Whether every patient needs a treatment arm (cohorts with arms). ``False`` for
        patients being scored before treatment: their ``arm`` is NaN.

    Returns
    -------
    pandas.DataFrame
        ``patient_id`` (str), ``time`` (float64, > 0), ``event`` (int64, 0/1), then ``arm``
        (str) when the cohort has arms, ``lc_time`` (float64) and ``lc_event`` (float64, 0/1,
        NaN where unknown) when present, then the continuous (float64), categorical (str,
        NaN where missing) and extra (str) columns in ``cohort.yaml`` order.

    Raises
    ------
    CohortError
        For the first rule the table breaks (see ``docs/errors.md``).
    """
    _check_arm_declaration(table, schema)
    check_declared_columns(
        table,
        fixed=("patient_id", "time", "event"),
        optional=("arm", "lc_time", "lc_event"),
        declared=[*schema.clinical.all, *schema.extra],
        yaml_key=_CLINICAL_KEYS,
    )
    frame = table.frame
    if len(frame) == 0:
        raise CohortError(
            "the cohort is empty: the table has a header but no patients.",
            file=table.file,
            fix="add one row per patient.",
        )
    check_patient_ids(table, unique=True, known=None)
    out = pd.DataFrame({"patient_id": frame["patient_id"].astype(str)})
    out["time"] = _positive_times(table, "time", what="follow-up time", allow_missing=False)
    out["event"] = parse_binary(table, "event", what="the event indicator", allow_missing=False)
    if schema.has_arms:
        out["arm"] = _arms(table, schema, required=arm_required)
    if "lc_time" in frame.columns or "lc_event" in frame.columns:
        out["lc_time"], out["lc_event"] = _local_control(table)
    for col in schema.clinical.continuous:
        out[col] = parse_numeric(
            table, col, what="a continuous clinical variable", allow_missing=True
        )
    for col in [*schema.clinical.categorical, *schema.extra]:
        out[col] = frame[col].astype(object)
    return out


def check_has_events(patients: pd.DataFrame, file: str) -> None:
    """Raise when no patient has an event (a model cannot be trained on such a cohort)."""
    if int(patients["event"].sum()) == 0:
        raise CohortError(
            f"no patient has an event (event = 1): all {len(patients)} patients are censored, "
            "so a survival model cannot be trained or evaluated on this cohort.",
            file=file,
            column="event",
            fix="check that 'event' is coded 1 = event observed, 0 = censored; a cohort without "
            "events can only be scored with an already trained model (oncofusion predict).",
        )


def _check_arm_declaration(table: Table, schema: CohortSchema) -> None:
    has_column = "arm" in table.frame.columns
    if has_column and not schema.has_arms:
        raise CohortError(
            "the table has an 'arm' column but cohort.yaml declares no arms.",
            file=table.file,
            column="arm",
            fix="list the values the column may take under 'arms:' in cohort.yaml, or delete the column.",
        )
    if schema.has_arms and not has_column:
        raise CohortError(
            f"cohort.yaml declares arms {', '.join(schema.arms)} but the table has no 'arm' column.",
            file=table.file,
            column="arm",
            fix="add an 'arm' column giving each patient's treatment, or remove 'arms' from cohort.yaml.",
        )


def _positive_times(table: Table, column: str, *, what: str, allow_missing: bool) -> pd.Series:
    values = parse_numeric(table, column, what=what, allow_missing=allow_missing)
    bad = (values <= 0).to_numpy()
    if bad.any():
        raise fail_rows(
            table, bad, f"{what} must be greater than 0", column=column,
            fix="times are counted from baseline (diagnosis or treatment start) to the event or "
            "last follow-up; a patient seen for less than one time unit has a fractional time "
            "(e.g. 0.5); remove patients without any follow-up.",
        )  # fmt: skip
    return values


def _arms(table: Table, schema: CohortSchema, *, required: bool = True) -> pd.Series:
    arm = table.frame["arm"]
    missing = arm.isna().to_numpy()
    if missing.any() and required:
        raise fail_rows(
            table, missing, "the treatment arm is missing", column="arm", show_values=False,
            fix=f"write one of {', '.join(schema.arms)} for every patient, or remove those patients.",
        )  # fmt: skip
    unknown = (~arm.isin(schema.arms) & ~arm.isna()).to_numpy()
    if unknown.any():
        raise fail_rows(
            table, unknown, f"the arm is not one of the arms declared in cohort.yaml: {', '.join(schema.arms)}",
            column="arm",
            fix="correct the value (arms are case-sensitive) or add the arm to 'arms' in cohort.yaml.",
        )  # fmt: skip
    return arm.where(arm.isna(), arm.astype(str))


def _local_control(table: Table) -> tuple[pd.Series, pd.Series]:
    frame = table.frame
    for have, lack in (("lc_time", "lc_event"), ("lc_event", "lc_time")):
        if have in frame.columns and lack not in frame.columns:
            raise CohortError(
                f"the table has '{have}' but not '{lack}': the local-control outcome needs both.",
                file=table.file,
                column=lack,
                fix=f"add '{lack}' (time of local failure or last local assessment, and 1 = local "
                f"failure, 0 = censored), or delete '{have}'.",
            )
    lc_time = _positive_times(table, "lc_time", what="local-control time", allow_missing=True)
    lc_event = parse_binary(
        table, "lc_event", what="the local-control event indicator", allow_missing=True
    )
    for have, lack, values in (("lc_time", "lc_event", lc_event), ("lc_event", "lc_time", lc_time)):
        half = (frame[have].notna() & values.isna()).to_numpy()
        if half.any():
            raise fail_rows(
                table, half, f"'{have}' is given but '{lack}' is missing", column=lack,
                show_values=False,
                fix="give both local-control values for a patient, or leave both empty.",
            )  # fmt: skip
    return lc_time, lc_event.astype(np.float64)
