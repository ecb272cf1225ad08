"""Patient registry and prediction audit trail: patients, records, visits, predictions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_key", sa.String(128), nullable=False),
        sa.Column("base_record", sa.JSON(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("patient_key", name="uq_patients_patient_key"),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("submitted_at", _ts(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
    )
    op.create_index("ix_records_patient_id", "records", ["patient_id"])
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("submitted_at", _ts(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.UniqueConstraint("patient_id", "time", name="uq_visits_patient_time"),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("landmark", sa.Float(), nullable=False),
        sa.Column("risks", sa.JSON(), nullable=False),
        sa.Column("curve", sa.JSON(), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_checksum", sa.String(64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("client_host", sa.String(64), nullable=True),
    )
    op.create_index("ix_predictions_patient_id_created_at", "predictions", ["patient_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_predictions_patient_id_created_at", table_name="predictions")
    op.drop_table("predictions")
    op.drop_table("visits")
    op.drop_index("ix_records_patient_id", table_name="records")
    op.drop_table("records")
    op.drop_table("patients")
