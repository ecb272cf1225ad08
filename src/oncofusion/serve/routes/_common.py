"""What the routes share: the service state, error documentation, image preparation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from oncofusion.errors import CohortError, OncofusionError
from oncofusion.serve.db.repository import Audit, Registry
from oncofusion.serve.errors import ServiceError, cohort_error
from oncofusion.serve.images import ImageLimitError, UploadError, check_image, store_upload
from oncofusion.serve.requests import UPLOAD_PREFIX, RequestModels
from oncofusion.serve.schemas import ErrorDetail, ErrorResponse
from oncofusion.serve.scoring import ScoringModel
from oncofusion.serve.settings import ServeSettings

__all__ = ["ServiceState", "audit", "error_responses", "prepare_images", "record_error", "state"]


@dataclass
class ServiceState:
    """Everything a route needs, created once by :func:`oncofusion.serve.app.create_app`."""

    settings: ServeSettings
    scorer: ScoringModel
    registry: Registry
    models: RequestModels
    image_root: Path


def state(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


def audit(request: Request, route: str) -> Audit:
    return Audit(
        request_id=str(getattr(request.state, "request_id", "")),
        route=route,
        client=str(getattr(request.state, "client", "unknown")),
        client_host=request.client.host if request.client is not None else None,
    )


_DESCRIPTIONS = {
    401: "missing or invalid bearer token",
    404: "unknown patient",
    409: "a visit contradicts the stored history",
    413: "request, upload, batch or image larger than the service accepts",
    415: "unsupported content type",
    422: "invalid request: the errors name each offending field",
    501: "the model or the installation cannot do this",
    503: "the database or model is unavailable",
}


def error_responses(*codes: int, explicit: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes a route answers (JSON :class:`ErrorResponse`).

    ``explicit`` spells the JSON content out, for routes whose own content type is not JSON
    (FastAPI would otherwise document their errors with the route's media type).
    """
    if explicit:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        return {c: {"description": _DESCRIPTIONS[c], "content": content} for c in codes}
    return {c: {"model": ErrorResponse, "description": _DESCRIPTIONS[c]} for c in codes}


def record_error(e: OncofusionError, prefix: str, schema: Any, n_records: int = 1) -> ServiceError:
    """A 422 for a record the model cannot score. For a :class:`CohortError`, :func:`cohort_error` with the record's index when it is known: the only record, or
    the one row the patients table names (its rows are the records, in order); else
    ``records[]`` (the message names the patient). Any other user error (e.g. a landmark
    past the model's grid) is answered with its message."""
    if not isinstance(e, CohortError):
        return ServiceError(422, "cannot_score", str(e))
    table = (e.file or "").rsplit(":", 1)[-1]
    if prefix == "records":
        row = e.rows[0] if table == "patients" and len(e.rows) == 1 else (1 if n_records == 1 else None)
        prefix = f"records[{row - 1}]" if isinstance(row, int) else "records[]"
    return cohort_error(e, prefix, schema)


def _images(records: Sequence[dict[str, Any]], prefix: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    for i, rec in enumerate(records):
        where = f"{prefix}[{i}]" if prefix == "records" else prefix
        for j, img in enumerate(rec.get("images") or []):
            for key in ("path", "mask_path"):
                if img.get(key):
                    yield f"{where}.images[{j}].{key}", img, key


def prepare_images(records: Sequence[dict[str, Any]], uploads: Mapping[str, UploadFile], st: ServiceState,
                   prefix: str) -> None:
    """Store uploaded files, point ``upload:<name>`` paths at them, and check every image's size.

    Paths that leave the image root or do not exist are left for the cohort validators
    (which name them); existing images over the dimension limits give 413.
    """
    used: set[str] = set()
    stored: dict[str, str] = {}
    for field, img, key in _images(records, prefix):
        value = str(img[key])
        if not value.startswith(UPLOAD_PREFIX):
            continue
        name = value[len(UPLOAD_PREFIX):]
        if name not in uploads:
            msg = f"no uploaded file is named '{name}'. Fix: send it in the 'files' part, or give a path."
            raise ServiceError(422, "validation_error", msg, [ErrorDetail(field=field, message=msg)])
        if name not in stored:
            try:
                stored[name] = store_upload(uploads[name].file, name, st.image_root)
            except UploadError as e:
                raise ServiceError(422, "validation_error", f"file '{name}': {e}.",
                                   [ErrorDetail(field=field, message=str(e))]) from None
        img[key] = stored[name]
        used.add(name)
    unused = sorted(set(uploads) - used)
    if unused:
        msg = f"{len(unused)} uploaded file(s) are not referred to by any record image ('upload:<name>')."
        raise ServiceError(422, "validation_error", msg, [ErrorDetail(field="files", message=msg)])
    root = st.image_root
    s = st.settings
    for field, img, key in _images(records, prefix):
        rel = str(img[key])
        if PurePosixPath(rel).is_absolute():
            continue
        try:
            path = (root / rel).resolve()
            usable = path.is_file() and path.is_relative_to(root)
        except (OSError, ValueError):  # a name the file system cannot hold: the validators say so
            usable = False
        if not usable:
            continue
        try:
            check_image(path, max_side=s.max_image_side, max_voxels=s.max_image_voxels)
        except ImageLimitError as e:
            msg = f"{e}. Fix: send a smaller image (ONCOFUSION_MAX_IMAGE_SIDE / ONCOFUSION_MAX_IMAGE_VOXELS)."
            raise ServiceError(413, "image_too_large", msg, [ErrorDetail(field=field, message=msg)]) from None
        except Exception as e:  # noqa: BLE001 - unreadable: the readers give the real message later
            msg = f"the image cannot be read ({type(e).__name__})."
            raise ServiceError(422, "invalid_image", msg, [ErrorDetail(field=field, message=msg)]) from None
