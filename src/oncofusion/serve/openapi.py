"""The OpenAPI schema: request bodies built from the loaded model, and the bearer scheme.

Routes whose body is parsed by :func:`oncofusion.serve.deps.read_payload` declare it with
:func:`body_spec`; :func:`install_openapi` adds the request models' JSON schemas (built from
the model's cohort schema) to ``components.schemas``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from oncofusion.serve.requests import RequestModels

__all__ = ["body_spec", "install_openapi"]


def body_spec(model_name: str, *, multipart: bool = False) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of ``model_name`` (and its multipart form)."""
    ref = {"$ref": f"#/components/schemas/{model_name}"}
    content: dict[str, Any] = {"application/json": {"schema": ref}}
    if multipart:
        content["multipart/form-data"] = {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["request"],
                "properties": {
                    "request": {"type": "string", "contentMediaType": "application/json",
                                "description": f"the {model_name} as JSON"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                              "description": "images referred to as 'upload:<file name>' in the records"},
                },
            },
            "encoding": {"request": {"contentType": "application/json"}},
        }
    return {"requestBody": {"required": True, "content": content}}


def install_openapi(app: FastAPI, models: RequestModels) -> None:
    """Make ``app.openapi()`` include the request models' schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, spec in models.components().items():
            components.setdefault(name, spec)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
