"""The HTTP scoring service: ``oncofusion serve RUN`` or :func:`create_app`.

FastAPI app (served by uvicorn) with a patient registry and prediction audit trail in
SQLite (default) or PostgreSQL; see ``docs/serving.md``. Imported lazily: ``import
oncofusion`` does not load FastAPI, SQLAlchemy or torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from oncofusion.serve.app import create_app

        return create_app
    if name == "ServeSettings":
        from oncofusion.serve.settings import ServeSettings

        return ServeSettings
    raise AttributeError(f"module 'oncofusion.serve' has no attribute {name!r}")
