"""Abuse limits: nesting depth, prefetch entries, draft orders, body size; all 4xx OperationOutcomes."""

from __future__ import annotations

import copy
import json
from typing import Any

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.http.body import nested_deeper
from cdshooks.replay import load_fixture, shift_dates
from tests.conftest import DRAFT_BONE_SCAN, NOW, ORDER_SIGN, PATIENT_VIEW, REPO, bundle, hook_request
from tests.security.conftest import AppFactory, Signer

SERVICE_PATH = f"/cds-services/{PATIENT_VIEW}"


def _post(app: Flask, signer: Signer, path: str, data: bytes | None = None, body: Any = None) -> Any:
    raw = data if data is not None else json.dumps(body).encode()
    return app.test_client().post(path, data=raw, content_type="application/json", headers=signer.bearer(path))


def _outcome(response: Any) -> str:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return " ".join(i["diagnostics"] for i in body["issue"])


def test_deep_nesting_is_refused(auth_app: Flask, signer: Signer) -> None:
    nested_70 = json.loads("[" * 70 + "]" * 70)
    for raw in (b"[" * 100_000 + b"]" * 100_000,  # past the parser's own bound
                b'{"a":' * 65 + b"1" + b"}" * 65,
                json.dumps(hook_request() | {"extension": nested_70}).encode(),
                json.dumps(hook_request() | {"context": hook_request()["context"] | {"x": nested_70}}).encode()):
        response = _post(auth_app, signer, SERVICE_PATH, raw)
        assert response.status_code == 400
        assert "nested deeper than" in _outcome(response)
        assert "64 levels" in _outcome(response)
    feedback = _post(auth_app, signer, f"{SERVICE_PATH}/feedback", b"[" * 5000 + b"]" * 5000)
    assert feedback.status_code == 400
    feedback = _post(auth_app, signer, f"{SERVICE_PATH}/feedback", json.dumps({"feedback": nested_70}).encode())
    assert feedback.status_code == 400


def test_prefetch_resources_are_left_to_the_parsers_bound(auth_app: Flask, signer: Signer) -> None:
    """Prefetch resources are read by fixed paths, never walked: deep odd data in them is answered (200) with the
    same cards as without it, as long as the parser can read it; past the parser's bound the body is refused."""
    fixture = load_fixture(REPO / "fixtures" / "patient-view" / "bone-mets-no-bma--condition-no-agent.json")
    assert fixture.as_of is not None
    body = shift_dates(fixture.request, (NOW.date() - fixture.as_of.date()).days)  # the apps' pinned clock
    plain = [c["summary"] for c in _post(auth_app, signer, SERVICE_PATH, body=body).get_json()["cards"]]
    assert plain
    condition = {"resourceType": "Condition", "id": "odd", "subject": {"reference": "Patient/p1"}, "code": "DEEP",
                 "bodySite": "DEEP", "note": [{"text": "DEEP"}], "extension": [{"url": "x", "valueString": "DEEP"}]}
    observation = {"resourceType": "Observation", "id": "odd-lab", "status": "final", "code": {"coding": "DEEP"},
                   "valueQuantity": {"value": "DEEP"}, "effectiveDateTime": "DEEP", "interpretation": "DEEP"}
    for key, odd in (("conditions", condition), ("labs", observation)):
        body["prefetch"][key] = bundle(*[e["resource"] for e in body["prefetch"][key].get("entry", [])], odd)
    answered = set()
    for depth in (100, 500, 900, 950, 980, 5000):  # the parser's bound is near 1,000 levels less the call stack
        raw = json.dumps(body).encode().replace(b'"DEEP"', b"[" * depth + b"]" * depth)
        response = _post(auth_app, signer, SERVICE_PATH, raw)
        if response.status_code == 400:
            assert "nested deeper than the parser allows" in _outcome(response)
            continue
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert [c["summary"] for c in response.get_json()["cards"]] == plain, depth  # nothing lost to odd data
        answered.add(depth)
    assert {100, 500, 900} <= answered and 5000 not in answered


def test_nesting_within_the_limit_is_fine(auth_app: Flask, signer: Signer) -> None:
    body = hook_request() | {"extension": {"x": json.loads("[" * 50 + "]" * 50)}}
    assert _post(auth_app, signer, SERVICE_PATH, body=body).status_code == 200


def test_unauthenticated_bodies_are_not_even_read(auth_app: Flask) -> None:
    response = auth_app.test_client().post(SERVICE_PATH, data=b"[" * 100_000, content_type="application/json")
    assert response.status_code == 401


def test_too_many_prefetch_entries_get_413(make_app: AppFactory, signer: Signer) -> None:
    app = make_app(max_prefetch_entries=20)
    body = hook_request()
    body["prefetch"]["labs"] = bundle(*[{"resourceType": "Observation", "id": f"o{i}"} for i in range(30)])
    response = _post(app, signer, SERVICE_PATH, body=body)
    assert response.status_code == 413
    assert "at most 20" in _outcome(response)
    small = hook_request()
    small["prefetch"]["labs"] = bundle(*[{"resourceType": "Observation", "id": f"o{i}"} for i in range(5)])
    assert _post(app, signer, SERVICE_PATH, body=small).status_code == 200


def test_too_many_draft_orders_get_400(auth_app: Flask, signer: Signer) -> None:
    body = hook_request("order-sign")
    entry = {"resource": copy.deepcopy(DRAFT_BONE_SCAN)}
    body["context"]["draftOrders"]["entry"] = [copy.deepcopy(entry) | {"resource": entry["resource"] | {"id": f"d{i}"}}
                                               for i in range(501)]
    response = _post(auth_app, signer, f"/cds-services/{ORDER_SIGN}", body=body)
    assert response.status_code == 400
    assert "draftOrders" in _outcome(response)


def test_oversized_body_gets_413(make_app: AppFactory, signer: Signer) -> None:
    app = make_app(max_body_bytes=5000)
    response = _post(app, signer, SERVICE_PATH, b'{"x": "' + b"a" * 6000 + b'"}')
    assert response.status_code == 413
    assert _outcome(response) == "request body too large"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_tricky_text = st.text(alphabet='[]{}"\\ab:,\n', max_size=8)
_json = st.recursive(
    st.none() | st.integers() | _tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_tricky_text, children, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=_json, limit=st.integers(1, 12))
def test_depth_check_agrees_with_the_parsed_depth(value: Any, limit: int) -> None:
    assert nested_deeper(value, limit) == (_depth(value) > limit)
    if isinstance(value, dict):
        without = {k: v for k, v in value.items() if k != "prefetch"}
        assert nested_deeper(value, limit, skip="prefetch") == (_depth(without) > limit)
        assert nested_deeper({"prefetch": value}, limit, skip="prefetch") is False
