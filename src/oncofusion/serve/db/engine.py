"""Database engines and migrations: an SQLite file by default, PostgreSQL by URL.

SQLite is opened in WAL mode with a busy timeout, and every writing transaction starts
with ``BEGIN IMMEDIATE`` (read-only ones, marked with the :data:`READ_ONLY` execution
option, with a plain ``BEGIN``: WAL readers do not block writers): a writer takes the database's write lock when its transaction
begins, so two writers never both read and then collide on the upgrade to a write lock
(which SQLite would answer with "database is locked" at once, losing the second write).
Engines hide SQL parameters (patient data) from SQLAlchemy's logs and error messages.
PostgreSQL uses row locks (``SELECT ... FOR UPDATE``, see
:mod:`oncofusion.serve.db.repository`); migrations there take an advisory lock, so
several service processes starting at once on an empty database apply them once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from oncofusion.errors import ConfigError

__all__ = ["MIGRATIONS_DIR", "READ_ONLY", "current_revision", "head_revision", "make_engine", "redact", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: key of the PostgreSQL advisory lock held while migrating ("oncofusion" in ASCII, truncated)
_MIGRATION_LOCK = 0x6F6E636F66

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: execution option of read-only transactions (SQLite: deferred BEGIN, no write lock)
READ_ONLY = "oncofusion_read_only"


def redact(url: str) -> str:
    """``url`` with its password hidden (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    Raises
    ------
    ConfigError
        The URL is invalid or names a database this service does not support.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ConfigError(
            f"database URL '{redact(url)}' is invalid. Fix: use e.g. "
            "'sqlite:///registry.sqlite' or 'postgresql+psycopg://user:password@host:5432/db'."
        ) from e
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is what the extra installs
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"database '{backend}' is not supported (URL '{redact(url)}'). Fix: use an SQLite file "
            "('sqlite:///registry.sqlite') or PostgreSQL ('postgresql+psycopg://...')."
        )
    try:
        if backend == "sqlite":
            db = parsed.database
            if not db or db == ":memory:":
                raise ConfigError(
                    "an in-memory SQLite database would lose the registry on restart and cannot be "
                    "shared between processes. Fix: give a file, e.g. 'sqlite:///registry.sqlite'."
                )
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                   hide_parameters=True, **kwargs)
            _sqlite_events(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True, **kwargs)
    except NoSuchModuleError as e:
        raise ConfigError(f"no driver for '{parsed.drivername}'. Fix: pip install 'oncofusion[serve]'.") from e
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not pysqlite, emits BEGIN (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply the Alembic migrations up to ``revision``; return the revision reached.

    Safe to call from several processes at once (SQLite: write lock; PostgreSQL:
    advisory lock for the transaction).
    """
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        command.upgrade(_alembic_config(conn), revision)
    rev = current_revision(engine)
    return rev or "base"


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest migration shipped with this oncofusion."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None  # internal: the package ships at least one migration
    return head
