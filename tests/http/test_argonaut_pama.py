"""The Argonaut PAMA connectathon request (as the public sandbox's PAMA screen sends it) gets a rating through
systemActions, mirrored under extension.systemActions when that setting is on; the rated resource is the
draft unchanged but for the rating extensions."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from cdshooks import create_app
from cdshooks.fhir.prefetch import PREFETCH
from cdshooks.settings import Settings
from tests.conftest import NOW, REPO, bundle

EXAMPLE = REPO / "tests" / "data" / "argonaut" / "argonaut-pama-scenario-01-outbound-request.json"
RATING = "http://fhir.org/argonaut/Extension/pama-rating"


def _request(with_breast_cancer: bool) -> dict[str, Any]:
    request: dict[str, Any] = json.loads(EXAMPLE.read_text())
    request.pop("fhirServer")  # the example's server is not ours to call: everything is prefetched
    prefetch: dict[str, Any] = {key: bundle() for key in PREFETCH}
    prefetch["patient"] = {"resourceType": "Patient", "id": "MRI-59879846"}
    if with_breast_cancer:
        prefetch["conditions"] = bundle({"resourceType": "Condition", "id": "bc", "code": {"coding": [
            {"system": "http://snomed.info/sct", "code": "254837009"}]}})
    request["prefetch"] = prefetch
    return request


def test_sandbox_pama_request_is_rated_and_mirrored(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/a.db", allow_unauthenticated=True,
                              system_actions_in_extension=True), clock=lambda: NOW)
    try:
        request = _request(with_breast_cancer=False)
        body = app.test_client().post("/cds-services/bone-mets-imaging-order-select", json=request).get_json()
    finally:
        app.extensions["cdshooks"].close()
    assert body["cards"] == []
    [action] = body["systemActions"]
    assert body["extension"]["systemActions"] == body["systemActions"]
    assert action["type"] == "update" and action["description"]
    rated = action["resource"]
    draft = copy.deepcopy(request["context"]["draftOrders"]["entry"][0]["resource"])
    assert {k: v for k, v in rated.items() if k != "extension"} == draft  # no semantic change
    extensions = {e["url"]: e for e in rated["extension"]}
    # lumbar spine CT for a patient without breast cancer: our criteria do not apply (Argonaut code, not the
    # sandbox demo's non-standard "no-guidelines-apply")
    assert extensions[RATING]["valueCodeableConcept"]["coding"][0]["code"] == "no-criteria-apply"
    consult = extensions["http://fhir.org/argonaut/Extension/pama-rating-consult-id"]["valueUri"]
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", consult)


def test_without_the_setting_only_top_level_system_actions(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/b.db", allow_unauthenticated=True),
                     clock=lambda: NOW)
    try:
        body = app.test_client().post("/cds-services/bone-mets-imaging-order-select",
                                      json=_request(with_breast_cancer=True)).get_json()
    finally:
        app.extensions["cdshooks"].close()
    assert "extension" not in body and len(body["systemActions"]) == 1


# --- the sandbox's PAMA screen in the ACR scenario: not-appropriate, and the suggestion's update fixes it ----

SCENARIO = (REPO / "fixtures" / "order-select"
            / "acr-usually-not-appropriate--mri-chest-alone-cpt-71552-rated-as-survey.json")
QCDSM = "http://fhir.org/argonaut/Extension/pama-rating-qcdsm-consulted"


def _pama_screen_request(coding: list[dict[str, Any]], text: str | None) -> tuple[dict[str, Any], Any]:
    """The request the sandbox's PAMA screen sends (one CPT-coded draft `ServiceRequest/example-request-id`,
    intent plan, the reasons box as reasonCode) for a patient in the ACR scenario (the fixture's record)."""
    from cdshooks.replay import load_fixture

    fixture = load_fixture(SCENARIO)
    request = copy.deepcopy(fixture.request)
    code: dict[str, Any] = {"coding": coding}
    if text:
        code["text"] = text
    draft = {"resourceType": "ServiceRequest", "id": "example-request-id", "status": "draft", "intent": "plan",
             "code": code, "subject": {"reference": f"Patient/{request['context']['patientId']}"},
             "reasonCode": [{"text": "New bone pain during neoadjuvant chemotherapy"}]}
    request["context"]["selections"] = ["ServiceRequest/example-request-id"]
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                         "entry": [{"resource": draft}]}
    return request, fixture.as_of


def _post(tmp_path: Path, request: dict[str, Any], now: Any, name: str) -> dict[str, Any]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/{name}.db", allow_unauthenticated=True,
                              system_actions_in_extension=True), clock=lambda: now)
    try:
        response = app.test_client().post("/cds-services/bone-mets-imaging-order-select", json=request)
    finally:
        app.extensions["cdshooks"].close()
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def _rating(action: dict[str, Any]) -> str:
    extensions = {e["url"]: e for e in action["resource"]["extension"]}
    assert extensions[QCDSM]["valueString"] == "bonemets-cds"  # required by the Argonaut guide
    code: str = extensions[RATING]["valueCodeableConcept"]["coding"][0]["code"]
    return code


def test_pama_screen_mri_chest_is_not_appropriate_and_the_suggested_update_is_appropriate(tmp_path: Path) -> None:
    cpt = [{"system": "http://www.ama-assn.org/go/cpt", "code": "71552", "display": "MRI chest w/o & w/ contrast"}]
    request, now = _pama_screen_request(cpt, "MRI chest w/o & w/ contrast")
    body = _post(tmp_path, request, now, "first")
    [rating] = body["systemActions"]
    assert rating["resource"]["id"] == "example-request-id" and _rating(rating) == "not-appropriate"
    [card] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "acr-usually-not-appropriate"]
    suggestion = card["suggestions"][0]
    [update] = suggestion["actions"]  # the screen applies only `update`: the draft itself becomes the better order
    assert update["type"] == "update"
    changed = update["resource"]
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    assert {k: changed[k] for k in ("id", "status", "intent", "subject", "reasonCode")} == {
        k: draft[k] for k in ("id", "status", "intent", "subject", "reasonCode")}
    assert _rating(update) == "appropriate"  # the rating the better order gets travels with it (scenario 02)

    # the EHR applies the update and asks again: the changed draft is now rated appropriate
    request["context"]["draftOrders"]["entry"][0]["resource"] = changed
    again = _post(tmp_path, request, now, "second")
    [rating] = again["systemActions"]
    assert _rating(rating) == "appropriate"
    assert not [c for c in again["cards"] if c["source"]["topic"]["code"] == "acr-usually-not-appropriate"]


def test_pama_screen_before_a_study_is_chosen_answers_without_a_rating(tmp_path: Path) -> None:
    request, now = _pama_screen_request([{}], None)
    body = _post(tmp_path, request, now, "empty")
    assert body.get("systemActions", []) == [] and body["cards"] == []
