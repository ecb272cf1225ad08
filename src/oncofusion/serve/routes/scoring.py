"""``POST /predict``, ``POST /update`` and ``GET /report/{patient_id}``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from oncofusion.errors import OncofusionError
from oncofusion.serve.db.repository import VisitConflict
from oncofusion.serve.deps import Payload, read_payload, require_client
from oncofusion.serve.errors import ServiceError
from oncofusion.serve.openapi import body_spec
from oncofusion.serve.requests import PATIENT_ID_PATTERN, as_record
from oncofusion.serve.routes._common import (
    ServiceState,
    audit,
    error_responses,
    prepare_images,
    record_error,
    state,
)
from oncofusion.serve.schemas import ErrorDetail, PredictResponse

__all__ = ["report_function", "router"]

router = APIRouter(dependencies=[Depends(require_client)], tags=["scoring"])


def _conflict(e: VisitConflict, field: str) -> ServiceError:
    msg = (f"patient '{e.patient_key}' already has a visit at time {e.time:g} with other values; the registry "
           "keeps visits as first recorded. Fix: resend the stored values or record the visit at its own time.")
    return ServiceError(409, "visit_conflict", msg, [ErrorDetail(field=field, message=msg)])


@router.post(
    "/predict", response_model=PredictResponse, summary="Score one patient or a small batch",
    responses=error_responses(401, 409, 413, 415, 422), openapi_extra=body_spec("PredictRequest", multipart=True),
)
async def predict(request: Request) -> PredictResponse:
    """Monthly hazards, S(t), cumulative risk at the horizons (and per-arm outcomes with the
    recommendation for models with arms) for each record. JSON, or multipart/form-data with
    the JSON in a ``request`` part and images in ``files`` parts (``"path": "upload:<name>"``).
    Each record, its visits and the prediction are stored in the registry and audit trail."""
    st = state(request)
    payload = await read_payload(request, st.models.predict, batch_key="records", multipart=True)
    return await run_in_threadpool(_predict, request, st, payload)


def _predict(request: Request, st: ServiceState, payload: Payload) -> PredictResponse:
    records = [as_record(r) for r in payload.body.records]
    prepare_images(records, payload.uploads, st, "records")
    try:
        preds = st.scorer.predict(records, root=st.image_root, landmark=payload.body.landmark)
    except OncofusionError as e:
        raise record_error(e, "records", st.scorer.schema, len(records)) from None
    info = audit(request, "/predict")
    try:
        st.registry.store_scoring(records, [st.scorer.audit_fields(p) for p in preds], info)
    except VisitConflict as e:
        i = next(i for i, r in enumerate(records) if str(r["patient_id"]) == e.patient_key)
        raise _conflict(e, f"records[{i}].visits[{e.index}]") from None
    return PredictResponse(request_id=info.request_id, model=st.scorer.info.ref(), predictions=preds)


@router.post(
    "/update", response_model=PredictResponse, summary="Refresh a patient's risk curve after new visits",
    responses=error_responses(401, 409, 413, 415, 422, 501), openapi_extra=body_spec("UpdateRequest"),
)
async def update(request: Request) -> PredictResponse:
    """The risk curve conditional on being event-free at the last visit, from the record's
    history plus the new visit(s). The record, visits and prediction are stored."""
    st = state(request)
    payload = await read_payload(request, st.models.update)
    return await run_in_threadpool(_update, request, st, payload)


def _update(request: Request, st: ServiceState, payload: Payload) -> PredictResponse:
    if not st.scorer.supports_update:
        raise ServiceError(501, "not_supported", f"model '{st.scorer.info.name}' predicts from baseline data only; "
                           "it has no follow-up updates. Fix: use POST /predict.")
    record = as_record(payload.body.record)
    record["visits"] = [*record.get("visits", []), *(v.model_dump(by_alias=True) for v in payload.body.visits)]
    prepare_images([record], {}, st, "record")
    try:
        pred = st.scorer.refresh(record, root=st.image_root)
    except OncofusionError as e:
        raise record_error(e, "record", st.scorer.schema) from None
    info = audit(request, "/update")
    try:
        st.registry.store_scoring([record], [st.scorer.audit_fields(pred)], info)
    except VisitConflict as e:
        raise _conflict(e, f"visits[{e.index}]") from None
    return PredictResponse(request_id=info.request_id, model=st.scorer.info.ref(), predictions=[pred])


def report_function() -> Callable[..., str] | None:
    """``oncofusion.report.patient_report`` when the report package provides it, else None."""
    try:
        module = importlib.import_module("oncofusion.report")
    except ImportError:
        return None
    fn = getattr(module, "patient_report", None)
    return fn if callable(fn) else None


@router.get(
    "/report/{patient_id}", response_class=HTMLResponse, summary="The patient report (HTML)",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}},
               **error_responses(401, 404, 422, 501, explicit=True)},
)
def report(request: Request, patient_id: str = Path(pattern=PATIENT_ID_PATTERN)) -> HTMLResponse:
    """The patient report of a registered patient (``oncofusion.report.patient_report``:
    risk curve with its uncertainty band and tier, updates after each visit, explanations,
    data-quality flags, model card), from its stored record and visits."""
    st = state(request)
    fn = report_function()
    if fn is None:
        raise ServiceError(501, "report_unavailable", "patient reports are not available in this installation "
                           "(oncofusion.report.patient_report is missing). Fix: install oncofusion with the "
                           "'explain' extra and a version that provides reports.")
    stored = st.registry.patient(patient_id)
    if stored is None:
        raise ServiceError(404, "unknown_patient", f"patient '{patient_id}' is not registered. Fix: score it "
                           "with POST /predict or add visits with POST /patients/{id}/visits first.")
    from oncofusion.data.records import cohort_from_records

    try:
        cohort = cohort_from_records([stored.record()], st.scorer.schema, root=st.image_root, source="registry")
        html: Any = st.scorer.exclusive(fn, st.scorer.model, cohort, patient_id, run_dir=st.scorer.info.run_dir)
    except OncofusionError as e:
        raise ServiceError(422, "report_failed", f"the report cannot be made: {e}") from None
    return HTMLResponse(str(html))
