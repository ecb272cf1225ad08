"""The patient registry and audit trail: every read and write the service makes.

Writers that touch a patient lock its row first (``SELECT ... FOR UPDATE`` on PostgreSQL;
on SQLite every transaction holds the database write lock from ``BEGIN IMMEDIATE``), so
concurrent requests for one patient are serialised and none loses a visit. Visits are
append-only: a visit at a time the patient already has is accepted again when its
values are the same (a retried request) and refused with :class:`VisitConflict` when
they differ.

This module knows nothing about models or HTTP; it stores plain JSON-able dicts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from oncofusion.serve.db.engine import READ_ONLY
from oncofusion.serve.db.models import Patient, PredictionRow, SubmittedRecord, Visit, utcnow

__all__ = ["Audit", "PredictionFields", "Registry", "StoredPatient", "UnknownPatient", "VisitConflict"]

#: record keys that are not the patient's base data
_NOT_BASE = ("patient_id", "visits", "time", "event")


class VisitConflict(Exception):
    """A submitted visit is at a time the patient already has, with other values."""

    def __init__(self, patient_key: str, time: float, index: int | None = None) -> None:
        self.patient_key = patient_key
        self.time = time
        self.index = index
        super().__init__(f"patient already has a visit at time {time:g} with other values")


class UnknownPatient(Exception):
    """The patient is not in the registry."""


@dataclass(frozen=True)
class Audit:
    """Who asked, when, through which route."""

    request_id: str
    route: str
    client: str
    client_host: str | None = None
    at: datetime = field(default_factory=utcnow)


@dataclass
class StoredPatient:
    """A registered patient: base data and every stored visit (sorted by time)."""

    key: str
    base: dict[str, Any]
    visits: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    def record(self) -> dict[str, Any]:
        """The patient as one record (:mod:`oncofusion.data.records`)."""
        return {"patient_id": self.key, **self.base, "visits": [dict(v) for v in self.visits]}


@dataclass(frozen=True)
class PredictionFields:
    """What the audit trail keeps of one prediction."""

    landmark: float
    risks: dict[str, float]
    curve: dict[str, Any]
    arms: dict[str, Any] | None
    model_name: str
    model_version: str
    model_checksum: str


def base_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its id, visits and outcome: the patient's base data."""
    return {k: v for k, v in record.items() if k not in _NOT_BASE and v is not None}


def _visit_values(visit: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in visit.items() if k != "time"}


class Registry:
    """Reads and writes of the registry on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # reads need no write lock (SQLite: a deferred BEGIN; see engine.py)
        self._reads = sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        # SQLite has one writer at a time: threads of this process queue here rather than in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms (long tail latencies);
        # other processes still wait in the busy handler
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._write_lock, self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def _lock_patient(self, s: Session, key: str, base: dict[str, Any] | None, audit: Audit) -> Patient:
        """The patient's row, locked for this transaction; created from ``base`` if new.

        Raises
        ------
        UnknownPatient
            The patient is not registered and no ``base`` was given.
        """
        if base is not None:
            values = {"patient_key": key, "base_record": base, "created_at": audit.at, "updated_at": audit.at,
                      "created_by": audit.client}
            ins = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(Patient)
            s.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["patient_key"]))
        row = s.scalars(select(Patient).where(Patient.patient_key == key).with_for_update()).one_or_none()
        if row is None:
            raise UnknownPatient(key)
        if base is not None and row.base_record != base:
            row.base_record = base
            row.updated_at = audit.at
        return row

    def _merge_visits(self, s: Session, patient: Patient, visits: Sequence[Mapping[str, Any]], audit: Audit) -> int:
        """Insert the visits the patient does not have yet; return how many were new."""
        stored = {v.time: v.values for v in s.scalars(select(Visit).where(Visit.patient_id == patient.id))}
        new = 0
        for i, visit in enumerate(visits):
            t = float(visit["time"])
            values = _visit_values(visit)
            if t in stored:
                if stored[t] != values:
                    raise VisitConflict(patient.patient_key, t, i)
                continue
            s.add(Visit(patient_id=patient.id, time=t, values=values, request_id=audit.request_id,
                        submitted_at=audit.at, client=audit.client))
            stored[t] = values
            new += 1
        s.flush()
        return new

    @staticmethod
    def _stored(s: Session, patient: Patient) -> StoredPatient:
        rows = s.scalars(select(Visit).where(Visit.patient_id == patient.id).order_by(Visit.time)).all()
        return StoredPatient(
            key=patient.patient_key,
            base=dict(patient.base_record),
            visits=[{"time": v.time, **v.values} for v in rows],
            created_at=patient.created_at,
            updated_at=patient.updated_at,
        )

    # ------------------------------------------------------------------ writes
    def store_scoring(self, records: Sequence[Mapping[str, Any]], predictions: Sequence[PredictionFields],
                      audit: Audit) -> None:
        """Keep scored records and their predictions, all or nothing.

        Each record registers its patient (or updates the base data), is kept verbatim,
        adds its visits to the patient's history, and its prediction joins the audit trail.

        Raises
        ------
        VisitConflict
            A record's visit contradicts a stored one; nothing is stored.
        """
        if len(records) != len(predictions):
            raise ValueError("one prediction per record is needed")
        with self._tx() as s:
            for rec, pred in zip(records, predictions, strict=True):
                key = str(rec["patient_id"])
                patient = self._lock_patient(s, key, base_of(rec), audit)
                s.add(SubmittedRecord(patient_id=patient.id, request_id=audit.request_id, route=audit.route,
                                      record=dict(rec), submitted_at=audit.at, client=audit.client))
                self._merge_visits(s, patient, list(rec.get("visits") or []), audit)
                s.add(self._prediction_row(patient.id, pred, audit))

    def append_visits(self, key: str, visits: Sequence[Mapping[str, Any]], base: dict[str, Any] | None,
                      audit: Audit) -> tuple[StoredPatient, int]:
        """Add ``visits`` to the patient's history (registering it from ``base`` if new).

        Returns
        -------
        (StoredPatient, int)
            The patient with every stored visit after the append, and how many visits were new.

        Raises
        ------
        UnknownPatient
            Not registered and no ``base`` given.
        VisitConflict
            A visit contradicts a stored one; nothing is stored.
        """
        with self._tx() as s:
            patient = self._lock_patient(s, key, base, audit)
            submitted = {"patient_id": key, **({} if base is None else base), "visits": [dict(v) for v in visits]}
            s.add(SubmittedRecord(patient_id=patient.id, request_id=audit.request_id, route=audit.route,
                                  record=submitted, submitted_at=audit.at, client=audit.client))
            new = self._merge_visits(s, patient, visits, audit)
            return self._stored(s, patient), new

    def add_prediction(self, key: str, prediction: PredictionFields, audit: Audit) -> None:
        """Add one prediction of a registered patient to the audit trail."""
        with self._tx() as s:
            pid = s.scalar(select(Patient.id).where(Patient.patient_key == key))
            if pid is None:
                raise UnknownPatient(key)
            s.add(self._prediction_row(pid, prediction, audit))

    @staticmethod
    def _prediction_row(patient_id: int, p: PredictionFields, audit: Audit) -> PredictionRow:
        return PredictionRow(
            patient_id=patient_id, request_id=audit.request_id, route=audit.route, landmark=p.landmark,
            risks=p.risks, curve=p.curve, arms=p.arms, model_name=p.model_name, model_version=p.model_version,
            model_checksum=p.model_checksum, created_at=audit.at, client=audit.client,
            client_host=audit.client_host,
        )

    # ------------------------------------------------------------------ reads
    def patient(self, key: str) -> StoredPatient | None:
        """The registered patient ``key`` with its visits, or None."""
        with self._reads() as s:
            row = s.scalars(select(Patient).where(Patient.patient_key == key)).one_or_none()
            return None if row is None else self._stored(s, row)

    def history(self, key: str, limit: int = 1000) -> tuple[StoredPatient, list[PredictionRow]]:
        """The patient and its predictions, oldest first (at most the ``limit`` newest)."""
        with self._reads() as s:
            row = s.scalars(select(Patient).where(Patient.patient_key == key)).one_or_none()
            if row is None:
                raise UnknownPatient(key)
            newest = (
                select(PredictionRow).where(PredictionRow.patient_id == row.id)
                .order_by(PredictionRow.created_at.desc(), PredictionRow.id.desc()).limit(limit)
            )
            preds = list(reversed(s.scalars(newest).all()))
            return self._stored(s, row), preds

    def counts(self) -> dict[str, int]:
        """Rows per table (for monitoring and tests)."""
        with self._reads() as s:
            return {
                name: int(s.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (("patients", Patient), ("records", SubmittedRecord), ("visits", Visit),
                                    ("predictions", PredictionRow))
            }
