"""``POST /patients/{patient_id}/visits`` and ``GET /patients/{patient_id}/history``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from oncofusion.errors import OncofusionError
from oncofusion.serve.db.repository import UnknownPatient, VisitConflict
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
from oncofusion.serve.routes.scoring import _conflict
from oncofusion.serve.schemas import (
    ErrorDetail,
    HistoryEntry,
    HistoryResponse,
    HorizonValue,
    ModelRef,
    StoredVisit,
    VisitsResponse,
)

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(require_client)], tags=["patients"])
PatientId = Path(pattern=PATIENT_ID_PATTERN, description="the patient's id in the registry")


def _not_registered(patient_id: str) -> ServiceError:
    msg = (f"patient '{patient_id}' is not registered. Fix: send the patient's base data in 'record' with the "
           "first visits, or score the patient with POST /predict first.")
    return ServiceError(404, "unknown_patient", msg, [ErrorDetail(field="record", message=msg)])


@router.post(
    "/patients/{patient_id}/visits", response_model=VisitsResponse,
    summary="Append follow-up visits and get the refreshed risk curve",
    responses=error_responses(401, 404, 409, 413, 415, 422, 501), openapi_extra=body_spec("VisitsRequest"),
)
async def add_visits(request: Request, patient_id: str = PatientId) -> VisitsResponse:
    """Stores the visits (append-only; resending an identical visit is harmless) and returns
    the risk curve computed from the patient's whole stored history, conditional on being
    event-free at the last visit. Concurrent requests for one patient are serialised."""
    st = state(request)
    payload = await read_payload(request, st.models.visits)
    return await run_in_threadpool(_add_visits, request, st, patient_id, payload)


def _merge(stored: list[dict[str, Any]], new: list[dict[str, Any]], patient_id: str) -> list[dict[str, Any]]:
    by_time = {float(v["time"]): v for v in stored}
    for j, v in enumerate(new):
        t = float(v["time"])
        if t in by_time and by_time[t] != v:
            raise _conflict(VisitConflict(patient_id, t, j), f"visits[{j}]")
        by_time.setdefault(t, v)
    return [by_time[t] for t in sorted(by_time)]


def _add_visits(request: Request, st: ServiceState, patient_id: str, payload: Payload) -> VisitsResponse:
    scorer = st.scorer
    if not scorer.supports_update:
        raise ServiceError(501, "not_supported", f"model '{scorer.info.name}' predicts from baseline data only; it "
                           "has no follow-up updates.")
    base = as_record(payload.body.record) if payload.body.record is not None else None
    new = [v.model_dump(by_alias=True) for v in payload.body.visits]
    stored = st.registry.patient(patient_id)
    if stored is None and base is None:
        raise _not_registered(patient_id)
    candidate = {
        "patient_id": patient_id,
        **(base if base is not None else stored.base),  # type: ignore[union-attr]
        "visits": _merge(stored.visits if stored else [], new, patient_id),
    }
    prepare_images([candidate], {}, st, "record")
    try:  # score before storing: a history the model cannot use is refused, not stored
        pred = scorer.refresh(candidate, root=st.image_root)
    except OncofusionError as e:
        raise record_error(e, "", st.scorer.schema) from None
    info = audit(request, "/patients/{patient_id}/visits")
    try:
        after, added = st.registry.append_visits(patient_id, new, base, info)
    except VisitConflict as e:
        raise _conflict(e, f"visits[{e.index}]") from None
    except UnknownPatient:
        raise _not_registered(patient_id) from None
    if after.record() != candidate:  # another writer got in between: score what is stored now
        try:
            pred = scorer.refresh(after.record(), root=st.image_root)
        except OncofusionError as e:
            raise ServiceError(409, "concurrent_change", f"the stored history changed concurrently and cannot be "
                               f"scored: {e}") from None
    st.registry.add_prediction(patient_id, scorer.audit_fields(pred), info)
    return VisitsResponse(
        request_id=info.request_id, model=scorer.info.ref(), patient_id=patient_id, visits_added=added,
        visits_total=len(after.visits), prediction=pred,
    )


@router.get(
    "/patients/{patient_id}/history", response_model=HistoryResponse,
    summary="The patient's stored visits and risk trajectory", responses=error_responses(401, 404, 422),
)
def history(request: Request, patient_id: str = PatientId,
            limit: int = Query(1000, ge=1, le=10000, description="at most this many (newest) predictions")) -> HistoryResponse:
    """Every stored visit and the predictions made for the patient, oldest first, with the
    model and client of each: the risk trajectory over time."""
    st = state(request)
    try:
        patient, preds = st.registry.history(patient_id, limit=limit)
    except UnknownPatient:
        raise ServiceError(404, "unknown_patient", f"patient '{patient_id}' is not registered.") from None
    return HistoryResponse(
        patient_id=patient.key, registered_at=patient.created_at, updated_at=patient.updated_at,
        visits=[StoredVisit(time=v["time"], values={k: x for k, x in v.items() if k != "time"}) for v in patient.visits],
        trajectory=[
            HistoryEntry(
                created_at=p.created_at, route=p.route, landmark=p.landmark,
                horizons=[HorizonValue(time=float(t), value=r) for t, r in p.risks.items()],
                client=p.client, model=ModelRef(name=p.model_name, version=p.model_version, checksum=p.model_checksum),
            )
            for p in preds
        ],
    )  # fmt: skip
