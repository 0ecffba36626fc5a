"""GET /cds-services: three services, spec fields only, CDS Hooks 2.0 prefetch tokens only."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from cdshooks.protocol.conformance import discovery_problems
from tests.conftest import ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW

ALLOWED_TOKENS = {"context.patientId", "context.encounterId", "context.userId", "userPractitionerId",
                  "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}


def test_discovery_lists_three_services(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert discovery_problems(body) == []
    by_id = {s["id"]: s for s in body["services"]}
    assert {k: v["hook"] for k, v in by_id.items()} == {
        ORDER_SELECT: "order-select", ORDER_SIGN: "order-sign", PATIENT_VIEW: "patient-view"}
    for service in body["services"]:
        assert set(service) <= {"hook", "id", "title", "description", "usageRequirements", "prefetch"}
        assert service["title"] and service["description"] and service["usageRequirements"]


def test_prefetch_templates_use_only_2_0_tokens(client: FlaskClient) -> None:
    for service in client.get("/cds-services").get_json()["services"]:
        assert {"patient", "conditions", "labs", "imagingReports", "imagingStudies", "medicationRequests",
                "medicationAdministrations", "medicationStatements", "procedures"} <= set(service["prefetch"])
        for template in service["prefetch"].values():
            tokens = set(re.findall(r"\{\{\s*([^}]+?)\s*\}\}", template))
            assert tokens and tokens <= ALLOWED_TOKENS, template
            assert "sort:desc" not in template  # DSTU2 syntax; R4 uses _sort
            if "?" in template:
                assert "_count=" in template, template


def test_discovery_answers_head_and_rejects_post(client: FlaskClient) -> None:
    assert client.head("/cds-services").status_code == 200
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"
