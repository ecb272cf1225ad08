"""Database tables of the patient registry and the prediction audit trail (SQLAlchemy 2).

The tables are created and changed only by the Alembic migrations in
``oncofusion/serve/migrations``; this module describes them for the ORM and must match the
latest migration (a test compares the two).

==============  ==========================================================================
table           one row per
==============  ==========================================================================
``patients``    registered patient: the id clients use (``patient_key``) and the latest
                submitted base data (clinical, genomics, arm, images, extra; no visits)
``records``     submitted record, verbatim as validated, with route, time and client
``visits``      follow-up visit of a patient (time and marker values); one per
                (patient, time): a visit is never overwritten, a conflicting one is refused
``predictions`` prediction served: landmark, risk at the horizons, the curve (cuts,
                hazards, survival), per-arm outcomes and recommendation when the model has
                arms, model name/version/checksum, time and requesting client
==============  ==========================================================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Patient", "PredictionRow", "SubmittedRecord", "UTCDateTime", "Visit", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("patient_key", name="uq_patients_patient_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_key: Mapped[str] = mapped_column(String(128), nullable=False)
    base_record: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)


class SubmittedRecord(Base):
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), nullable=False)
    request_id: Mapped[str] = mapped_column(String(36), nullable=False)
    route: Mapped[str] = mapped_column(String(64), nullable=False)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False)


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("patient_id", "time", name="uq_visits_patient_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), nullable=False)
    time: Mapped[float] = mapped_column(Float, nullable=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    request_id: Mapped[str] = mapped_column(String(36), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False)


class PredictionRow(Base):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_patient_id_created_at", "patient_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), nullable=False)
    request_id: Mapped[str] = mapped_column(String(36), nullable=False)
    route: Mapped[str] = mapped_column(String(64), nullable=False)
    landmark: Mapped[float] = mapped_column(Float, nullable=False)
    risks: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    curve: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    arms: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    model_name: Mapped[str] = mapped_column(String(128), nullable=False)
    model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    model_checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False)
    client_host: Mapped[str | None] = mapped_column(String(64), nullable=True)
