"""Database schema (SQLAlchemy Core): issued cards, order ratings and feedback.

Patients are never stored by id: `patient_key` is a keyed hash (HMAC-SHA256) so feedback can be counted
per patient without holding an identifier. The ordering clinician (`user_key`) is a keyed hash too unless
CDSHOOKS_STORE_USER_IDS allows the plain `context.userId`.

`issued_cards.delivery`: `shown` (sent), `silent` (a silent-mode topic: would have shown, not sent) or
`suppressed` (a repeat of an overridden card on unchanged evidence, not sent). Every card and rating row names
the knowledge that produced it (`knowledge_version`, `knowledge_hash`) and the calling client (`client_id`: the
JWT issuer, `tenant`).
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
    Column("delivery", String(12), nullable=False, server_default="shown"),  # shown | silent | suppressed
    Column("evidence_key", String(64), nullable=True),  # the finding's evidence fingerprint (repeat alerts)
    Column("knowledge_version", String(64), nullable=True),
    Column("knowledge_hash", String(64), nullable=True),
    Column("user_key", String(200), nullable=True),
    Column("client_id", String(500), nullable=True),
    Column("tenant", String(200), nullable=True),
    Index("ix_issued_cards_topic_time", "topic", "issued_at"),
    Index("ix_issued_cards_patient_topic", "patient_key", "topic"),
)

order_ratings = Table(
    "order_ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consult_id", String(100), nullable=False),  # the Argonaut pama-rating-consult-id of the call
    Column("service_id", String(100), nullable=False),
    Column("hook", String(50), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("procedure_class", String(100), nullable=True),
    Column("rating", String(30), nullable=False),  # appropriate | not-appropriate | no-criteria-apply
    Column("patient_key", String(64), nullable=True),
    Column("user_key", String(200), nullable=True),
    Column("client_id", String(500), nullable=True),
    Column("tenant", String(200), nullable=True),
    Column("knowledge_version", String(64), nullable=True),
    Column("knowledge_hash", String(64), nullable=True),
    Column("rated_at", DateTime(timezone=True), nullable=False),
    Index("ix_order_ratings_time", "rated_at"),
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
