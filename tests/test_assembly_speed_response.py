"""The response is built with fewer copies: `prune` and `copy_json` check a scalar where it stands (no call per
value), and a rating write-back copies the draft's top level only (its JSON is the pruned copy). Each must answer what
the previous code answered, odd values included, and nothing of the request may be changed or leave by reference."""

from __future__ import annotations

import copy
import random
from collections import OrderedDict, UserDict, UserList
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cdshooks import create_app, pipeline
from cdshooks.catalog.ratings import Consult, rated, unrated
from cdshooks.fhir.assemble import FetchPlan, assemble
from cdshooks.fhir.record import Record, copy_json
from cdshooks.governance.extensions import knowledge_fhir_extension
from cdshooks.governance.knowledge_version import KnowledgeVersion
from cdshooks.protocol.conformance import is_empty
from cdshooks.protocol.request import parse_request
from cdshooks.protocol.response import Action, prune
from cdshooks.replay import collect, load_fixture
from cdshooks.services import BY_ID
from cdshooks.settings import Settings
from tests.conftest import REPO

_CONTAINERS = (dict, list)


def _prune_before(value: Any) -> Any:
    """`prune` as it was written first."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, _CONTAINERS):
                item = _prune_before(item)
                if not item:
                    continue
            elif item is None or item == "":
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        items = (_prune_before(v) if isinstance(v, _CONTAINERS) else v for v in value)
        return [v for v in items if not is_empty(v)]
    return value


def _copy_before(value: Any) -> Any:
    """`copy_json` as it was written first."""
    if isinstance(value, dict):
        return {key: _copy_before(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_before(item) for item in value]
    return value


def _unrated_before(resource: Any) -> dict[str, Any]:
    """`unrated` as it was: a deep copy first."""
    from cdshooks.catalog.ratings import _rating_url

    updated: dict[str, Any] = _copy_before(dict(resource))
    kept = [e for e in updated.get("extension", []) if not (isinstance(e, dict) and _rating_url(e.get("url")))]
    if kept:
        updated["extension"] = kept
    else:
        updated.pop("extension", None)
    return updated


def _same_shape(a: Any, b: Any) -> None:
    """Equal, with the same container types all the way down (a dict subclass must become a plain dict in both)."""
    assert type(a) is type(b)
    assert a == b
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same_shape(a[key], b[key])
    elif isinstance(a, list):
        for x, y in zip(a, b, strict=True):
            _same_shape(x, y)


def _containers(value: Any) -> list[Any]:
    out: list[Any] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            out.append(node)
            stack.extend(node)
        elif isinstance(node, tuple):  # the record's own grouping (not JSON): walked, not listed
            stack.extend(node)
    return out


_SCALARS: list[Any] = [None, "", "x", 0, 0.0, False, True, 1.5, (), ("a",), UserList(), UserList([1]), UserDict(),
                       "null", " ", [], {}]


def _odd_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        value = rng.choice(_SCALARS)
        return copy.copy(value) if isinstance(value, list | dict) else value
    size = rng.randrange(0, 5)
    if roll < 0.75:
        kind = rng.choice([dict, dict, dict, OrderedDict])
        return kind((rng.choice(["a", "b", "c", "d", 1, "extension"]), _odd_json(rng, depth + 1)) for _ in range(size))
    return [_odd_json(rng, depth + 1) for _ in range(size)]


@pytest.mark.parametrize("seed", range(400))
def test_prune_and_copy_answer_as_before(seed: int) -> None:
    rng = random.Random(seed)
    value = _odd_json(rng)
    before = _copy_before(value)
    _same_shape(prune(value), _prune_before(value))
    copied = copy_json(value)
    _same_shape(copied, _copy_before(value))
    fresh = {id(c) for c in _containers(value)}
    assert not any(id(c) in fresh for c in _containers(copied))  # a deep copy: no container shared
    assert not any(id(c) in fresh for c in _containers(prune(value)) if c)  # and prune copies too
    assert value == before  # neither changes its input


def _draft(rng: random.Random) -> dict[str, Any]:
    draft: dict[str, Any] = {"resourceType": "ServiceRequest", "id": f"sr{rng.randrange(5)}", "status": "draft",
                             "code": {"coding": [{"system": "s", "code": "c", "display": ""}], "text": None},
                             "reasonCode": [], "note": [{"text": "n"}, {}]}
    extensions: list[Any] = []
    for _ in range(rng.randrange(0, 4)):
        extensions.append(rng.choice([
            {"url": "http://fhir.org/argonaut/Extension/pama-rating", "valueCodeableConcept": {"coding": []}},
            {"url": "https://bonemets-cds.org/fhir/StructureDefinition/knowledge-version", "extension": []},
            {"url": "http://example.org/other", "valueString": "kept"}, "not an extension", {"no": "url"}]))
    if extensions or rng.random() < 0.2:
        draft["extension"] = extensions
    return draft


@pytest.mark.parametrize("seed", range(100))
def test_rating_write_back_answers_as_before_and_changes_nothing(seed: int) -> None:
    rng = random.Random(seed)
    draft = _draft(rng)
    before = _copy_before(draft)
    consult = Consult("qcdsm-x", extra=(knowledge_fhir_extension(KnowledgeVersion("1.0", "a" * 64)),))
    _same_shape(unrated(draft), _unrated_before(draft))
    rating = rng.choice(["appropriate", "not-appropriate", "no-criteria-apply"])
    written = rated(draft, rating, consult)
    old = _unrated_before(draft)
    old["extension"] = [*old.get("extension", []), *rated({"resourceType": "X"}, rating, consult)["extension"]]
    _same_shape(written, old)
    action = Action("update", "rate", resource=written)
    sent = action.to_json()
    _same_shape(sent, {"type": "update", "description": "rate", "resource": _prune_before(old)})
    assert draft == before  # the draft is never changed
    inside = {id(c) for c in _containers(draft)}
    assert not any(id(c) in inside for c in _containers(sent))  # nothing of the draft leaves by reference


def _records() -> list[tuple[str, Record, Any]]:
    out = []
    for path in collect([REPO / "fixtures"]):
        fixture = load_fixture(path)
        request, context = parse_request(fixture.request)
        drafts = context.draftOrders.resources() if hasattr(context, "draftOrders") else []
        assembly = assemble(patient_id=context.patientId, context=request.context, prefetch=request.prefetch,
                            templates=BY_ID[fixture.service_id].prefetch, plan=FetchPlan(None, "test"),
                            executor=None, budget=0.0, draft_orders=drafts,  # type: ignore[arg-type]
                            selections=getattr(context, "selections", ()))
        out.append((fixture.service_id, assembly.record, fixture.as_of))
    return out


def test_answers_change_nothing_of_the_record_and_share_nothing_with_it(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/a.db", allow_unauthenticated=True))
    rt = app.extensions["cdshooks"]
    try:
        actions = 0
        for service_id, record, as_of in _records():
            held = (tuple(record.resources.values()), record.draft_orders)  # alive while ids are compared
            before = copy.deepcopy(held)
            inside = {id(c) for c in _containers(held)}
            governance = pipeline.Governance(version=rt.knowledge_version)
            answer = pipeline.answer(BY_ID[service_id], record, as_of or datetime(2026, 6, 1, 9, tzinfo=UTC),
                                     rt.settings, rt.knowledge, rt.render, governance)
            body = answer.response.to_json()
            actions += len(answer.response.system_actions) + sum(
                len(s.actions) for c in answer.response.cards for s in c.suggestions)
            assert not any(id(c) in inside for c in _containers(body)), service_id
            assert held == before, service_id
        assert actions > 5  # updates, creates and ratings were built from drafts
    finally:
        rt.close()
