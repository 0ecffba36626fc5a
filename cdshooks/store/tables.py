"""Database schema (SQLAlchemy Core): issued cards and feedback.

Patients are never stored by id: `patient_key` is a keyed hash (HMAC-SHA256) so feedback can be counted
per patient without holding an identifier.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

issued_cards = Table(
    "issued_cards",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(100), nullable=False),
    Column("hook", String(50), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("topic", String(100), nullable=True),
    Column("indicator", String(20), nullable=False),
    Column("suggestion_uuids", Text, nullable=False, default=""),  # space-separated
    Column("patient_key", String(64), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Index("ix_issued_cards_topic_time", "topic", "issued_at"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_key", String(64), nullable=False),  # sha256 of the canonical item: idempotency
    Column("service_id", String(100), nullable=False),
    Column("card_uuid", String(64), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("accepted_suggestions", Text, nullable=False, default=""),  # space-separated ids
    Column("override_system", String(500), nullable=True),
    Column("override_code", String(200), nullable=True),
    Column("override_display", String(1000), nullable=True),
    Column("user_comment", Text, nullable=True),
    Column("outcome_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("known_card", Boolean, nullable=False),
    UniqueConstraint("item_key", name="uq_feedback_item_key"),
    Index("ix_feedback_card", "card_uuid"),
)

jwt_replay = Table(
    "jwt_replay",
    metadata,
    Column("jti_key", String(64), primary_key=True),  # sha256(issuer \0 jti)
    Column("expires_at", BigInteger, nullable=False, index=True),  # unix seconds
)
