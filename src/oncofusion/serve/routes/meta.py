"""``GET /health`` (no token) and ``GET /model``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from oncofusion.serve.deps import require_client
from oncofusion.serve.routes._common import error_responses, state
from oncofusion.serve.schemas import HealthResponse, ModelResponse

__all__ = ["router"]

router = APIRouter(tags=["service"])


@router.get("/health", response_model=HealthResponse, summary="Liveness and readiness (no token needed)",
            responses={503: {"model": HealthResponse, "description": "the database or model is unavailable"}})
def health(request: Request) -> JSONResponse:
    """``ok`` when the model is loaded and the database answers; 503 otherwise. Says
    nothing about the model or the data, so it needs no token."""
    st = state(request)
    try:
        st.registry.ping()
        database = True
    except Exception:  # noqa: BLE001 - any driver error means: not ready
        database = False
    model = st.scorer is not None
    body = HealthResponse(status="ok" if database and model else "unavailable", model=model, database=database)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


@router.get("/model", response_model=ModelResponse, dependencies=[Depends(require_client)],
            summary="The loaded model: name, version, checksum, schema, limits", responses=error_responses(401))
def model(request: Request) -> ModelResponse:
    st = state(request)
    return st.scorer.describe(st.settings.limits())
