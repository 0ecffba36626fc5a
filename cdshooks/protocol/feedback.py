"""CDS Hooks 2.0 feedback (`POST {baseUrl}/cds-services/{id}/feedback`).

Invariants from the spec and the 3.0-ballot (cds-fb-1..3): outcome is accepted or overridden; accepted
needs acceptedSuggestions; an overrideReason has a reason and/or a userComment; outcomeTimestamp is an
RFC 3339 date-time with a time zone. A reason Coding may lack `display` (the public sandbox sends
system + code only).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdshooks.protocol.request import RequestProblem, validation_problems

MAX_FEEDBACK_ITEMS = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class ReasonCoding(_Model):
    system: str = Field(min_length=1, max_length=500)
    code: str = Field(min_length=1, max_length=200)
    display: str | None = Field(default=None, max_length=1000)


class AcceptedSuggestion(_Model):
    id: str = Field(min_length=1, max_length=200)


class OverrideReason(_Model):
    reason: ReasonCoding | None = None
    userComment: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _reason_or_comment(self) -> OverrideReason:
        if self.reason is None and not (self.userComment or "").strip():
            raise ValueError("needs a reason and/or a userComment (cds-fb-3)")
        return self


class FeedbackItem(_Model):
    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(default=None, max_length=100)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if not isinstance(value, str) or "T" not in value.upper():
            raise ValueError("must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
        return value

    @field_validator("outcomeTimestamp")
    @classmethod
    def _timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (Z or an offset)")
        try:
            return value.astimezone(UTC)  # 0001-01-01T00:00:00+14:00 has no UTC moment: refused, not a 500
        except (OverflowError, ValueError):
            raise ValueError("is outside the range of representable instants") from None

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("accepted feedback needs acceptedSuggestions (cds-fb-2)")
        if self.outcome == "overridden" and self.acceptedSuggestions:
            raise ValueError("overridden feedback must not carry acceptedSuggestions")
        return self


class FeedbackBatch(_Model):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=MAX_FEEDBACK_ITEMS)


def parse_feedback(body: Any) -> FeedbackBatch:
    if not isinstance(body, dict):
        raise RequestProblem([("body", "must be a JSON object")])
    try:
        return FeedbackBatch.model_validate(body)
    except ValidationError as exc:
        raise RequestProblem(validation_problems(exc)) from None
