"""CDS Hooks 2.0 service request: top-level fields and the per-hook context.

Validated with pydantic so every problem names its field. Prefetch values and draft-order resources
stay plain JSON (no FHIR model validation here). Unknown top-level and context fields are ignored, as the
spec and Da Vinci CRD require. Error messages never echo input values (they may hold tokens or PHI).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

FHIR_ID = r"[A-Za-z0-9\-\.]{1,64}"
_REFERENCE = re.compile(rf"^[A-Z][A-Za-z]+/{FHIR_ID}$")
_USER = re.compile(rf"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/{FHIR_ID}$")
_ORDER_USER = re.compile(rf"^(Practitioner|PractitionerRole)/{FHIR_ID}$")

FhirId = Annotated[str, Field(pattern=rf"^{FHIR_ID}$")]
Reference = Annotated[str, Field(pattern=_REFERENCE.pattern)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class FhirAuthorization(_Lenient):
    """`fhirAuthorization`: an OAuth 2.0 bearer token for `fhirServer` (never logged: SecretStr)."""

    access_token: SecretStr
    token_type: str
    expires_in: int = Field(ge=0)
    scope: str
    subject: str
    patient: str | None = None

    @field_validator("access_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("must be 'Bearer'")
        return "Bearer"


class HookRequest(_Lenient):
    """The request body common to every hook."""

    hook: str = Field(min_length=1, max_length=200)
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("hookInstance")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            uuid.UUID(value)
        except (ValueError, AttributeError, TypeError):
            raise ValueError("must be a UUID") from None
        return value

    @field_validator("fhirServer")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.password:
            raise ValueError("must be an absolute http(s) URL without credentials")
        if parts.query or parts.fragment:
            raise ValueError("must be a base URL without query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is present")
        return self


class DraftOrders(_Lenient):
    """`context.draftOrders`: a FHIR Bundle of request resources (kept as plain JSON)."""

    resourceType: str
    entry: list[dict[str, Any]] = Field(default_factory=list, max_length=500)

    @field_validator("resourceType")
    @classmethod
    def _bundle(cls, value: str) -> str:
        if value != "Bundle":
            raise ValueError("must be 'Bundle'")
        return value

    @field_validator("entry")
    @classmethod
    def _resources(cls, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, item in enumerate(entries):
            resource = item.get("resource")
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise ValueError(f"entry[{i}].resource must be a FHIR resource with a resourceType")
        return entries

    def resources(self) -> list[dict[str, Any]]:
        return [item["resource"] for item in self.entry]


class PatientViewContext(_Lenient):
    userId: str
    patientId: FhirId
    encounterId: FhirId | None = None

    @field_validator("userId")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER.match(value):
            raise ValueError("must be Practitioner/, PractitionerRole/, Patient/ or RelatedPerson/ + id")
        return value


class OrderSignContext(_Lenient):
    userId: str
    patientId: FhirId
    encounterId: FhirId | None = None
    draftOrders: DraftOrders

    @field_validator("userId")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _ORDER_USER.match(value):
            raise ValueError("must be Practitioner/<id> or PractitionerRole/<id>")
        return value


class OrderSelectContext(OrderSignContext):
    selections: list[Reference] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _selections_in_draft_orders(self) -> OrderSelectContext:
        present = {f"{r.get('resourceType')}/{r.get('id')}" for r in self.draftOrders.resources()}
        for i, ref in enumerate(self.selections):
            if ref not in present:
                raise ValueError(f"selections[{i}] does not name a resource in draftOrders")
        return self


CONTEXT_MODELS: dict[str, type[_Lenient]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


class RequestProblem(ValueError):
    """A request that breaks the protocol; `problems` holds (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))
        self.problems = problems


def validation_problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        out.append((f"{prefix}{path}" if path else prefix.rstrip(".") or "body", msg))
    return out


def parse_request(body: Any, expected_hook: str | None = None) -> tuple[HookRequest, Any]:
    """Validate a decoded JSON body; return (request, typed context). Raise RequestProblem."""
    if not isinstance(body, dict):
        raise RequestProblem([("body", "must be a JSON object")])
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise RequestProblem(validation_problems(exc)) from None
    if expected_hook is not None and request.hook != expected_hook:
        raise RequestProblem([("hook", f"this service answers the '{expected_hook}' hook")])
    model = CONTEXT_MODELS.get(request.hook)
    if model is None:
        raise RequestProblem([("hook", "unsupported hook")])
    try:
        context = model.model_validate(request.context)
    except ValidationError as exc:
        raise RequestProblem(validation_problems(exc, "context.")) from None
    return request, context
