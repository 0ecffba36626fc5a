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
