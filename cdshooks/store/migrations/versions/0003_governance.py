"""Knowledge version, delivery (shown / silent / suppressed), evidence fingerprint, orderer and client on issued
cards; the order_ratings table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW_CARD_COLUMNS = ("delivery", "evidence_key", "knowledge_version", "knowledge_hash", "user_key", "client_id",
                    "tenant")


def upgrade() -> None:
    with op.batch_alter_table("issued_cards") as batch:
        batch.add_column(sa.Column("delivery", sa.String(12), nullable=False, server_default="shown"))
        batch.add_column(sa.Column("evidence_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("knowledge_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("knowledge_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("client_id", sa.String(500), nullable=True))
        batch.add_column(sa.Column("tenant", sa.String(200), nullable=True))
    op.create_index("ix_issued_cards_patient_topic", "issued_cards", ["patient_key", "topic"])
    op.create_table(
        "order_ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consult_id", sa.String(100), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("hook", sa.String(50), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("procedure_class", sa.String(100), nullable=True),
        sa.Column("rating", sa.String(30), nullable=False),
        sa.Column("patient_key", sa.String(64), nullable=True),
        sa.Column("user_key", sa.String(200), nullable=True),
        sa.Column("client_id", sa.String(500), nullable=True),
        sa.Column("tenant", sa.String(200), nullable=True),
        sa.Column("knowledge_version", sa.String(64), nullable=True),
        sa.Column("knowledge_hash", sa.String(64), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_ratings_time", "order_ratings", ["rated_at"])


def downgrade() -> None:
    op.drop_index("ix_order_ratings_time", "order_ratings")
    op.drop_table("order_ratings")
    op.drop_index("ix_issued_cards_patient_topic", "issued_cards")
    with op.batch_alter_table("issued_cards") as batch:
        for name in reversed(NEW_CARD_COLUMNS):
            batch.drop_column(name)
