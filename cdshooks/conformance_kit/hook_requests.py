"""The kit's own minimal CDS Hooks requests, one per hook, and the prefetch a client would send with them.

Contexts follow the hook library 1.0.1 (userId, patientId, encounterId, draftOrders with one draft
ServiceRequest, ...). Prefetch is built by rendering each advertised template with the 2.0 token rules
(`cdshooks.fhir.prefetch`): a read gets a minimal resource with the id asked for, a search an empty searchset
Bundle. That is what a client sends for a patient with no data, so a valid service answers 200.
"""

from __future__ import annotations

import copy
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from cdshooks.fhir.prefetch import render, token_values

KIT_USER = "Practitioner/kit-practitioner"
KIT_ORDER = "ServiceRequest/kit-order-1"
SUBJECT = "cds-hooks-conformance-kit"  # fhirAuthorization.subject: the OAuth client id of the service
SCOPE = {"2.0": "patient/*.read", "3.0": "patient/*.rs"}  # SMART App Launch v1 / v2 scope syntax
_READ = re.compile(r"^([A-Z][A-Za-z]+)/([^/?]+)$")


def patient_id(tag: str) -> str:
    """A fresh patient id for one check: FHIR id syntax, never a prefix of another."""
    return f"kit-{tag}-{secrets.token_hex(4)}"


def _draft_orders(patient: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "ServiceRequest", "id": KIT_ORDER.split("/")[1], "status": "draft", "intent": "order",
        "subject": {"reference": f"Patient/{patient}"}, "code": {"text": "Conformance kit test order"}}}]}


def context_for(hook: str, patient: str) -> dict[str, Any]:
    """A minimal valid context for `hook` (an unknown hook gets userId and patientId only)."""
    context: dict[str, Any] = {"userId": KIT_USER, "patientId": patient}
    if hook in {"order-select", "order-sign"}:
        context["draftOrders"] = _draft_orders(patient)
    if hook == "order-select":
        context["selections"] = [KIT_ORDER]
    if hook in {"encounter-start", "encounter-discharge"}:
        context["encounterId"] = "kit-encounter-1"
    if hook == "appointment-book":
        context["appointments"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            "resourceType": "Appointment", "id": "kit-appointment-1", "status": "proposed",
            "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "needs-action"}]}}]}
    if hook == "order-dispatch":
        context = {"patientId": patient, "dispatchedOrders": [KIT_ORDER], "performer": "Organization/kit-org"}
    return context


def prefetch_value(template: str, context: Mapping[str, Any]) -> Any:
    """What a client holding no data sends for `template`; None when a token cannot be filled."""
    query = render(template, token_values(context))
    if query is None:
        return None
    read = _READ.match(unquote(query))  # `{{context.userId}}` renders as Practitioner%2F<id>
    if read:
        resource: dict[str, Any] = {"resourceType": read.group(1), "id": read.group(2)}
        if read.group(1) == "Patient":
            resource |= {"gender": "female", "birthDate": "1970-01-01"}
        return resource
    return {"resourceType": "Bundle", "type": "searchset", "total": 0}


def full_prefetch(templates: Mapping[str, str], context: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, template in templates.items():
        value = prefetch_value(template, context)
        if value is not None:
            out[key] = value
    return out


def hook_request(hook: str, patient: str, *, prefetch: Mapping[str, Any] | None = None,
                 fhir_server: str | None = None, token: str | None = None, spec: str = "2.0") -> dict[str, Any]:
    """A request body; `fhir_server` + `token` add fhirAuthorization (scopes in the spec's SMART syntax)."""
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context_for(hook, patient)}
    if fhir_server:
        body["fhirServer"] = fhir_server
        if token:
            body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                         "scope": SCOPE[spec], "subject": SUBJECT, "patient": patient}
    if prefetch is not None:
        body["prefetch"] = copy.deepcopy(dict(prefetch))
    return body
