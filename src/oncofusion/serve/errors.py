"""Errors as JSON: ``{"error": kind, "message": ..., "errors": [{"field", "message"}], "request_id"}``.

Fields are named as a client writes them, e.g. ``records[0].clinical.age``. Messages go
to the client that sent the data; they are never logged (they may quote patient values).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from oncofusion.errors import CohortError
from oncofusion.serve.schemas import ErrorDetail, ErrorResponse

__all__ = ["ServiceError", "cohort_error", "error_response", "field_name", "install_handlers", "validation_error"]

_PYDANTIC_MESSAGES = {
    "extra_forbidden": "unknown field: the model's schema has no such field",
    "missing": "required field is missing",
}


class ServiceError(Exception):
    """An error answered as JSON with ``status``."""

    def __init__(self, status: int, error: str, message: str, errors: Sequence[ErrorDetail] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = list(errors)
        self.headers = headers


def error_response(status: int, error: str, message: str, errors: Iterable[ErrorDetail] = (),
                   request_id: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=error, message=message, errors=list(errors), request_id=request_id)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def field_name(loc: Sequence[Any], prefix: str = "") -> str:
    """``("records", 0, "clinical", "age")`` -> ``records[0].clinical.age``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out and not out.endswith(":") else "") + str(part)
    return out or "body"


def validation_error(exc: ValidationError | RequestValidationError, prefix: str = "") -> ServiceError:
    """422 naming every offending field (values are not echoed back)."""
    details = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if loc and loc[0] in ("body", "path", "query", "header") and isinstance(exc, RequestValidationError):
            prefix_here = "" if loc[0] == "body" else f"{loc[0]}:"
            loc = loc[1:]
        else:
            prefix_here = prefix
        message = _PYDANTIC_MESSAGES.get(str(err.get("type")), str(err.get("msg")))
        details.append(ErrorDetail(field=field_name(loc, prefix_here), message=message))
    fields = ", ".join(d.field or "body" for d in details[:5]) + (" ..." if len(details) > 5 else "")
    return ServiceError(422, "validation_error", f"the request is invalid ({fields}).", details)


#: table of :func:`oncofusion.data.records.cohort_from_records` -> record section
_SECTION = {"patients": "", "visits": "visits", "genomics": "genomics", "images": "images"}


def cohort_error(e: CohortError, prefix: str, schema: Any = None) -> ServiceError:
    """422 for a record that breaks the cohort format; the field is ``prefix.section.column``.

    The section (``clinical``, ``visits``, ``genomics``, ``images``) comes from the column's
    role in ``schema`` when given, else from the table the validators name.
    """
    table = (e.file or "").rsplit(":", 1)[-1]
    column = e.column
    section = _SECTION.get(table, "")
    if schema is not None and column:
        for name, columns in (("clinical", schema.clinical.all), ("visits", schema.biomarkers),
                              ("genomics", schema.genomics), ("extra", schema.extra)):
            if column in columns:
                section = name
                break
    parts = [p for p in (prefix, section, column) if p]
    field = ".".join(parts) if parts else None
    message = e.problem + (f" Fix: {e.fix}" if e.fix else "")
    return ServiceError(422, "invalid_record", message, [ErrorDetail(field=field, message=message)])


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def install_handlers(app: FastAPI) -> None:
    """JSON answers for service errors, HTTP errors and request validation errors."""

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message, exc.errors, _request_id(request), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail), (), _request_id(request),
                              getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = validation_error(exc)
        return error_response(err.status, err.error, err.message, err.errors, _request_id(request))
