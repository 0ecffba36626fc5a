"""Issued cards and feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_cards",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("hook", sa.String(50), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(100), nullable=True),
        sa.Column("indicator", sa.String(20), nullable=False),
        sa.Column("suggestion_uuids", sa.Text, nullable=False),
        sa.Column("patient_key", sa.String(64), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_issued_cards_topic_time", "issued_cards", ["topic", "issued_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_key", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("accepted_suggestions", sa.Text, nullable=False),
        sa.Column("override_system", sa.String(500), nullable=True),
        sa.Column("override_code", sa.String(200), nullable=True),
        sa.Column("override_display", sa.String(1000), nullable=True),
        sa.Column("user_comment", sa.Text, nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_card", sa.Boolean, nullable=False),
        sa.UniqueConstraint("item_key", name="uq_feedback_item_key"),
    )
    op.create_index("ix_feedback_card", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_feedback_card", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_issued_cards_topic_time", "issued_cards")
    op.drop_table("issued_cards")
