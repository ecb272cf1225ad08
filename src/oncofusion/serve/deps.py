"""Request dependencies: the authenticated client, and bodies parsed into the request models.

Bodies are parsed here rather than by FastAPI's signature inspection because the request
models are built at start-up from the loaded model's schema, and ``POST /predict`` takes
either JSON or ``multipart/form-data`` (a ``request`` part holding the JSON, plus image
files). The OpenAPI schema of these bodies is added by :mod:`oncofusion.serve.openapi`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from oncofusion.serve.errors import ServiceError, validation_error
from oncofusion.serve.schemas import ErrorDetail

__all__ = ["Payload", "bearer", "client_host", "read_payload", "require_client"]

bearer = HTTPBearer(auto_error=False, description="the token configured with ONCOFUSION_TOKEN / ONCOFUSION_TOKEN_FILE")


def require_client(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The client name of the presented bearer token, or 401."""
    tokens = request.app.state.tokens
    client = tokens.client_for(creds.credentials if creds is not None else None)
    if client is None:
        raise ServiceError(
            401, "unauthorized",
            "a valid bearer token is required: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    request.state.client = client
    return client


def client_host(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


@dataclass
class Payload:
    """A validated body and the files uploaded with it (by file name)."""

    body: Any
    uploads: dict[str, UploadFile] = field(default_factory=dict)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def _loads(raw: bytes | str, where: str) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        msg = f"{where} is not valid JSON ({type(e).__name__}: {str(e)[:200]})."
        raise ServiceError(422, "invalid_json", msg, [ErrorDetail(field=where, message=msg)]) from None


async def read_payload(request: Request, model: type[BaseModel], *, batch_key: str | None = None,
                       multipart: bool = False) -> Payload:
    """Parse and validate the body of ``request`` as ``model``.

    Raises
    ------
    ServiceError
        415 for another content type, 413 for more records than ``max_batch`` or too many
        files, 422 for invalid JSON or fields.
    """
    settings = request.app.state.settings
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: dict[str, UploadFile] = {}
    if ctype == "application/json":
        data = _loads(await request.body(), "body")
    elif multipart and ctype == "multipart/form-data":
        data, uploads = await _multipart(request, settings.max_images)
    else:
        accepted = "application/json" + (" or multipart/form-data" if multipart else "")
        raise ServiceError(415, "unsupported_media_type", f"send the body as {accepted} (Content-Type header).")
    if batch_key is not None and isinstance(data, dict) and isinstance(data.get(batch_key), list):
        n = len(data[batch_key])
        if n > settings.max_batch:
            msg = (f"{n} records in one request; this service scores at most {settings.max_batch}. Fix: split "
                   "the batch (ONCOFUSION_MAX_BATCH sets the limit).")
            raise ServiceError(413, "batch_too_large", msg, [ErrorDetail(field=batch_key, message=msg)])
    try:
        return Payload(model.model_validate(data), uploads)
    except ValidationError as e:
        raise validation_error(e) from None


async def _multipart(request: Request, max_files: int) -> tuple[Any, dict[str, UploadFile]]:
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException

    try:
        form = await request.form(max_files=max_files, max_fields=4, max_part_size=request.app.state.settings.max_request_bytes)
    except (MultiPartException, HTTPException) as e:  # starlette wraps parser errors in a 400
        detail = str(getattr(e, "detail", None) or e)
        too_many = "Too many" in detail or "exceeded maximum size" in detail
        status, kind = (413, "payload_too_large") if too_many else (422, "invalid_multipart")
        raise ServiceError(status, kind, f"the multipart body cannot be used: {detail.rstrip('.')}.") from None
    unknown = sorted(set(form.keys()) - {"request", "files"})
    if unknown:
        msg = f"unknown multipart part(s) {unknown}; send 'request' (the JSON body) and 'files'."
        raise ServiceError(422, "validation_error", msg, [ErrorDetail(field=unknown[0], message=msg)])
    raw = form.get("request")
    if raw is None or isinstance(raw, UploadFile):
        msg = "the multipart body needs a 'request' text part holding the JSON request."
        raise ServiceError(422, "validation_error", msg, [ErrorDetail(field="request", message=msg)])
    uploads: dict[str, UploadFile] = {}
    for f in form.getlist("files"):
        if not isinstance(f, UploadFile) or not f.filename:
            msg = "every 'files' part must be a file with a file name."
            raise ServiceError(422, "validation_error", msg, [ErrorDetail(field="files", message=msg)])
        name = f.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if name in uploads:
            msg = "two uploaded files have the same name."
            raise ServiceError(422, "validation_error", msg, [ErrorDetail(field="files", message=msg)])
        uploads[name] = f
    return _loads(raw, "request"), uploads
