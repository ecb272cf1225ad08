"""Request models, built from the loaded model's cohort schema.

The fields of ``clinical``, ``visits``, ``genomics`` and ``extra`` are exactly the columns
the model was trained on, so an unknown or misspelt field is rejected (``extra="forbid"``)
and the OpenAPI schema documents every column. These models check structure and types
only; the values then go through :func:`oncofusion.data.records.cohort_from_records`,
the validators of ``oncofusion validate`` (categories, follow-up, duplicate visits...).
Column names become field aliases, so any column name works (``class``, ``json``, ``a b``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from oncofusion.data.schema import CohortSchema

__all__ = ["PATIENT_ID_PATTERN", "UPLOAD_PREFIX", "RequestModels", "build_request_models"]

#: ids are used in URLs (``/patients/{id}``): letters, digits and ``._:-``
PATIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
#: an image ``path`` starting with this names a file uploaded with the request
UPLOAD_PREFIX = "upload:"
#: image paths: no control characters (a NUL byte cannot be in a file name)
_PATH = r"^[^\x00-\x1f\x7f]+$"


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


Number = Annotated[float, AfterValidator(_finite)]
Category = Annotated[str, Field(max_length=128)] | int
_STRICT = ConfigDict(extra="forbid", populate_by_name=False, str_strip_whitespace=True)


@dataclass(frozen=True)
class RequestModels:
    """The request models of one service (one loaded model)."""

    record: type[BaseModel]
    base: type[BaseModel]
    visit: type[BaseModel]
    predict: type[BaseModel]
    update: type[BaseModel]
    visits: type[BaseModel]

    def components(self) -> dict[str, Any]:
        """OpenAPI component schemas of every request model (for ``/openapi.json``)."""
        out: dict[str, Any] = {}
        for model in (self.predict, self.update, self.visits):
            schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
            out.update(schema.pop("$defs", {}))
            out[model.__name__] = schema
        return out


def _columns_model(name: str, columns: list[str], annotation: Any, doc: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        f"c{i}": (annotation | None, Field(None, alias=col)) for i, col in enumerate(columns)
    }
    model = create_model(name, __config__=_STRICT, __doc__=doc, **fields)  # type: ignore[call-overload]
    return model


def build_request_models(schema: CohortSchema, *, max_visits: int, max_images: int, max_batch: int) -> RequestModels:
    """Request models for a model trained on a cohort with ``schema``.

    Parameters
    ----------
    schema
        The training cohort's schema (from the run directory).
    max_visits, max_images, max_batch
        Limits written into the models (and the OpenAPI schema). The batch limit is
        checked before validation too, answering 413.
    """
    clinical_fields: dict[str, Any] = {}
    for i, col in enumerate(schema.clinical.continuous):
        clinical_fields[f"n{i}"] = (Number | None, Field(None, alias=col))
    for i, col in enumerate(schema.clinical.categorical):
        clinical_fields[f"k{i}"] = (Category | None, Field(None, alias=col))
    Clinical = create_model(
        "Clinical", __config__=_STRICT, __doc__="Clinical variables (a missing one may be omitted or null).",
        **clinical_fields,
    )
    visit_fields: dict[str, Any] = {"time": (Number, Field(ge=0, description=f"visit time in {schema.time_unit} from baseline"))}
    for i, marker in enumerate(schema.biomarkers):
        visit_fields[f"m{i}"] = (Number | None, Field(None, alias=marker))
    Visit = create_model(
        "Visit", __config__=_STRICT, __doc__="One follow-up visit: its time and the markers measured.",
        **visit_fields,
    )
    Genomics = _columns_model("Genomics", list(schema.genomics), Number, "Genomic features.")
    Extra = _columns_model("Extra", list(schema.extra), Annotated[str, Field(max_length=256)],
                           "Columns kept but not used as features.")
    Image = create_model(
        "Image", __config__=_STRICT,
        __doc__=("An image: 'path' relative to the service's image root, or 'upload:<filename>' for a "
                 "file sent in the same multipart request."),
        path=(str, Field(min_length=1, max_length=512, pattern=_PATH)),
        phase=(Annotated[str, Field(max_length=64)] | None, None),
        mask_path=(Annotated[str, Field(min_length=1, max_length=512, pattern=_PATH)] | None, None),
    )
    base_fields: dict[str, Any] = {
        "clinical": (Clinical, Field(default_factory=Clinical)),
        "genomics": (Genomics | None, None),
        "images": (list[Image], Field(default_factory=list, max_length=max_images)),  # type: ignore[valid-type]
    }
    if schema.arms:
        base_fields["arm"] = (Literal[tuple(schema.arms)] | None, Field(None, description="arm received, if any"))  # type: ignore[misc]
    if schema.extra:
        base_fields["extra"] = (Extra | None, None)
    Base = create_model(
        "PatientBase", __config__=_STRICT, __doc__="A patient's data other than visits.", **base_fields
    )
    Record = create_model(
        "PatientRecord", __base__=Base, __doc__="One patient: base data and visits so far.",
        patient_id=(str, Field(pattern=PATIENT_ID_PATTERN, description="the patient's id in the registry")),
        visits=(list[Visit], Field(default_factory=list, max_length=max_visits)),  # type: ignore[valid-type]
    )
    Predict = create_model(
        "PredictRequest", __config__=_STRICT, __doc__="Score one patient or a small batch.",
        records=(list[Record], Field(min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
        landmark=(Annotated[Number, Field(ge=0)] | None,
                  Field(None, description="predict at this time: data up to it, survival conditional on reaching it")),
    )
    Update = create_model(
        "UpdateRequest", __config__=_STRICT, __doc__="A patient's record and new follow-up visit(s).",
        record=(Record, ...),
        visits=(list[Visit], Field(min_length=1, max_length=max_visits)),  # type: ignore[valid-type]
    )
    Visits = create_model(
        "VisitsRequest", __config__=_STRICT,
        __doc__="Visits to append to a registered patient's history ('record' registers a new patient).",
        visits=(list[Visit], Field(min_length=1, max_length=max_visits)),  # type: ignore[valid-type]
        record=(Base | None, Field(None, description="the patient's base data (required for a new patient)")),
    )
    return RequestModels(record=Record, base=Base, visit=Visit, predict=Predict, update=Update, visits=Visits)


def as_record(model: BaseModel) -> dict[str, Any]:
    """A validated request record as a plain dict of :mod:`oncofusion.data.records` format.

    Missing sections are left out; every visit lists every marker (null when not measured),
    so stored visits compare equal however they were sent.
    """
    data = model.model_dump(by_alias=True, exclude_none=False)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None or (key == "images" and not value):
            continue
        if key in ("clinical", "genomics", "extra"):
            value = {k: v for k, v in value.items() if v is not None}
            if not value and key != "clinical":
                continue
        if key == "images":
            value = [{k: v for k, v in img.items() if v is not None} for img in value]
        out[key] = value
    return out
