"""``oncofusion serve RUN --port 8000``: the HTTP scoring service (FastAPI on uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from oncofusion.cli._common import console, handle_user_errors


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @handle_user_errors
    def serve(
        run: Annotated[Path, typer.Argument(help="Run directory of the model to serve.")],
        host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
        db: Annotated[str | None, typer.Option(
            "--db", help="Database URL (default: ONCOFUSION_DATABASE_URL, else an SQLite file in the state "
            "directory); e.g. postgresql+psycopg://user@host/db.")] = None,
        token_file: Annotated[Path | None, typer.Option(
            help="Token file (default: ONCOFUSION_TOKEN_FILE); ONCOFUSION_TOKEN also works.")] = None,
        state_dir: Annotated[Path | None, typer.Option(
            help="Folder of the default SQLite file and the image store.")] = None,
        image_root: Annotated[Path | None, typer.Option(help="Folder image paths in records are relative to.")] = None,
        workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the model).")] = 1,
        ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (serve HTTPS).")] = None,
        ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate chain.")] = None,
        log_level: Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")] = "info",
        migrate: Annotated[bool, typer.Option(help="Apply database migrations at start-up.")] = True,
        migrate_only: Annotated[bool, typer.Option(
            "--migrate-only", help="Apply the migrations, print the revision and exit (the model is not loaded).")] = False,
    ) -> None:
        """Serve RUN over HTTP: /predict, /update, /patients/{id}/visits, /patients/{id}/history,
        /report/{id}, /model and /health (docs/serving.md). Every route but /health needs a
        bearer token (ONCOFUSION_TOKEN or a token file)."""
        import os

        from oncofusion.serve.settings import ServeSettings

        overrides: dict[str, Any] = {"database_url": db, "token_file": token_file, "state_dir": state_dir, "image_root": image_root}
        settings = ServeSettings.from_env(**overrides)
        con = console()
        if migrate_only:
            from oncofusion.serve.db.engine import make_engine, redact, upgrade

            rev = upgrade(make_engine(settings.resolved_database_url))
            con.print(f"database {redact(settings.resolved_database_url)} is at revision {rev}")
            return
        import uvicorn

        from oncofusion.serve.app import create_app
        from oncofusion.serve.db.engine import redact

        app = create_app(run, settings, migrate=migrate)  # verifies tokens, model and database before binding
        scorer = app.state.service.scorer
        scheme = "https" if ssl_certfile else "http"
        con.print(f"serving [bold]{scorer.info.name}[/] (checksum {scorer.info.checksum[:12]}…) on "
                  f"{scheme}://{host}:{port} with database {redact(settings.resolved_database_url)}")
        kwargs = {"host": host, "port": port, "access_log": False, "log_config": log_config(log_level),
                  "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None,
                  "ssl_certfile": str(ssl_certfile) if ssl_certfile else None}
        if workers == 1:
            uvicorn.run(app, **kwargs)  # type: ignore[arg-type]
            return
        del app  # each worker builds its own from the same settings
        os.environ["ONCOFUSION_RUN_DIR"] = str(run.resolve())
        for field, value in overrides.items():
            if value is not None:
                os.environ[f"ONCOFUSION_{field.upper()}"] = str(value)
        uvicorn.run("oncofusion.serve.app:create_app_from_env", factory=True, workers=workers, **kwargs)  # type: ignore[arg-type]


def log_config(level: str) -> dict:
    """uvicorn's logging, plus the service's loggers; no access log of paths (patient ids)."""
    level = level.upper()
    fmt = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": fmt},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "oncofusion.serve": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
