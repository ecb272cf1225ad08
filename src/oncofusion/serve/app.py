"""The application factory: ``create_app(run_dir)`` -> a FastAPI app, ready for uvicorn.

Start-up does everything that can fail before the first request: tokens are read (none is
an error), the model is loaded once and verified (checksums, format version, schema,
pinned checksum), the database migrations are applied, and the request models are built
from the model's schema. A failure raises :class:`oncofusion.errors.OncofusionError` with
a message saying how to fix it, and no server starts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from oncofusion.serve.auth import TokenStore
from oncofusion.serve.db.engine import make_engine, upgrade
from oncofusion.serve.db.repository import Registry
from oncofusion.serve.errors import install_handlers
from oncofusion.serve.middleware import ServiceMiddleware
from oncofusion.serve.openapi import install_openapi
from oncofusion.serve.requests import build_request_models
from oncofusion.serve.routes import meta, patients, scoring
from oncofusion.serve.routes._common import ServiceState
from oncofusion.serve.scoring import ScoringModel
from oncofusion.serve.settings import ServeSettings

__all__ = ["create_app", "create_app_from_env"]

DESCRIPTION = """\
Risk scoring for oncology patients with an oncofusion model: monthly hazards, survival
S(t) and cumulative risk at the model's horizons; refreshed curves after follow-up visits;
a patient registry with every visit and every prediction kept for audit.

Every route but `/health` needs `Authorization: Bearer <token>`. Errors are JSON naming
the offending field. See docs/serving.md.
"""


def create_app(run_dir: str | Path | None = None, settings: ServeSettings | None = None, *,
               scorer: ScoringModel | None = None, migrate: bool = True) -> FastAPI:
    """Build the scoring service.

    Parameters
    ----------
    run_dir
        The run directory of the model to serve (``oncofusion train --out``).
    settings
        Service settings (default: :meth:`ServeSettings.from_env`).
    scorer
        An already loaded :class:`ScoringModel` instead of ``run_dir`` (tests, or several
        apps sharing one model in a process).
    migrate
        Apply the database migrations at start-up (default). With False the database must
        already be at the newest revision.

    Raises
    ------
    oncofusion.errors.OncofusionError
        Missing token, model that fails verification, unusable database URL.
    """
    from oncofusion import __version__
    from oncofusion.errors import ConfigError

    settings = settings or ServeSettings.from_env()
    tokens = TokenStore.from_settings(settings.token, settings.token_file)
    if scorer is None:
        if run_dir is None:
            raise ConfigError("create_app needs the run directory of the model to serve.")
        scorer = ScoringModel.load(run_dir, expected_checksum=settings.model_checksum)
    engine = make_engine(settings.resolved_database_url)
    if migrate:
        upgrade(engine)
    else:
        _check_revision(engine)
    image_root = settings.resolved_image_root
    image_root.mkdir(parents=True, exist_ok=True)
    models = build_request_models(scorer.schema, max_visits=settings.max_visits, max_images=settings.max_images,
                                  max_batch=settings.max_batch)

    app = FastAPI(title="oncofusion scoring service", version=__version__, description=DESCRIPTION)
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.service = ServiceState(settings=settings, scorer=scorer, registry=Registry(engine), models=models,
                                     image_root=image_root)
    install_handlers(app)
    app.add_middleware(ServiceMiddleware, max_request_bytes=settings.max_request_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    for module in (meta, scoring, patients):
        app.include_router(module.router)
    install_openapi(app, models)
    build_route_tables(app)
    return app


def build_route_tables(app: FastAPI) -> None:
    """Match one dummy request against every route, so each included router builds its
    route table now, at start-up, in one thread.

    FastAPI (0.13x) builds an included router's table lazily on the first request that
    reaches it, without a lock. Under uvicorn that is harmless (one event loop), but a
    caller that sends the first requests from several threads with their own event loops
    (Starlette's ``TestClient`` outside a ``with`` block) could find a half-built table
    and get 404 for a route that exists.
    """
    scope = {"type": "http", "method": "GET", "path": "/", "root_path": "", "query_string": b"", "headers": []}
    for route in app.router.routes:
        route.matches(dict(scope))


def _check_revision(engine: object) -> None:
    from oncofusion.errors import ConfigError
    from oncofusion.serve.db.engine import current_revision, head_revision, redact

    current, head = current_revision(engine), head_revision()  # type: ignore[arg-type]
    if current != head:
        url = redact(str(engine.url))  # type: ignore[attr-defined]
        raise ConfigError(
            f"database '{url}' is at revision {current!r}, this oncofusion needs {head!r}. Fix: run "
            "'oncofusion serve RUN --migrate-only' (or start without --no-migrate)."
        )


def create_app_from_env() -> FastAPI:
    """:func:`create_app` for the model in ``ONCOFUSION_RUN_DIR`` (uvicorn ``--factory``,
    used by ``oncofusion serve --workers N``)."""
    import os

    from oncofusion.errors import ConfigError

    run_dir = os.environ.get("ONCOFUSION_RUN_DIR")
    if not run_dir:
        raise ConfigError("ONCOFUSION_RUN_DIR is not set. Fix: set it to the run directory to serve.")
    return create_app(run_dir)
