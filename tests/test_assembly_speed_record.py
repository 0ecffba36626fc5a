"""The record is grouped and indexed in one pass over the prefetch (`RecordParts`, used by `assemble`), with its
`Type/id` index kept by type then id; it must give exactly the Record the two-pass reading gave (`bundle_resources`
over every Bundle, then the first `Record.build` with one index by `Type/id` string), and `resolve` must answer what
that index answered, odd FHIR included: entries that are not objects, resources without a resourceType or an id,
OperationOutcome entries, duplicate ids across Bundles, "/" in types and ids, draft orders colliding with prefetch
ids, non-Bundle prefetch values, `next` links."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from cdshooks.fhir.assemble import Assembly, FetchPlan, assemble, classify
from cdshooks.fhir.client import FetchResult, bundle_resources, next_link
from cdshooks.fhir.prefetch import _TOKEN, PrefetchKey, fill, fillable, render, token_values
from cdshooks.fhir.record import Record, RecordParts, Resource


class _Str(str):
    """A str subclass: `bundle_resources` drops it as a resourceType (`type(...) is str`), `Record.build` keeps it."""


@dataclass(frozen=True)
class _RecordBefore:
    """The Record as it was first written: one index by `Type/id` string."""

    patient_id: str
    resources: Mapping[str, tuple[Resource, ...]]
    draft_orders: tuple[Resource, ...]
    selections: tuple[str, ...]
    missing: tuple[str, ...]
    index: dict[str, Resource] = field(compare=False)

    @classmethod
    def build(cls, patient_id: str, resources: Iterable[Any], draft_orders: Iterable[Any] = (),
              selections: Iterable[str] = (), missing: Iterable[str] = ()) -> _RecordBefore:
        by_type: dict[str, list[Resource]] = {}
        index: dict[str, Resource] = {}
        for res in resources:
            if not isinstance(res, dict):
                continue
            rtype = res.get("resourceType")
            if not isinstance(rtype, str) or not rtype or rtype == "OperationOutcome":
                continue
            rid = res.get("id")
            if isinstance(rid, str) and rid:
                key = f"{rtype}/{rid}"
                if key in index:
                    continue
                index[key] = res
            by_type.setdefault(rtype, []).append(res)
        drafts = tuple(d for d in draft_orders if isinstance(d, dict))
        for d in drafts:
            rid = d.get("id")
            rtype = d.get("resourceType")
            if isinstance(rid, str) and isinstance(rtype, str):
                index.setdefault(f"{rtype}/{rid}", d)
        return cls(patient_id, {k: tuple(v) for k, v in by_type.items()}, drafts, tuple(selections), tuple(missing),
                   index)

    def resolve(self, reference: Any) -> Resource | None:
        if not reference or not isinstance(reference, str):
            return None
        if reference in self.index:
            return self.index[reference]
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2:
            return self.index.get(f"{parts[-2]}/{parts[-1]}")
        return None


def _references(slow: _RecordBefore, extra: Iterable[Any] = ()) -> list[Any]:
    """Every indexed Type/id, and the ways a reference can name it or miss it."""
    refs: list[Any] = [None, "", "/", "//", "x", 5, ["Patient/p1"], "Patient/", "/p1", "Patient//p1", *extra]
    for key in slow.index:
        rtype, _, rid = key.partition("/")
        refs += [key, f"https://ehr.example/fhir/{key}", f"{key}/", f"{key}//", f"urn:{key}", f"/{key}",
                 f"{key}/_history/2", f"X/{key}", key.upper(), f"{rtype}/{rid}x", key.rpartition("/")[2],
                 "/".join(key.split("/")[-2:]), f"a/{key.split('/')[-1]}"]
    return refs


def _same_record(fast: Record, slow: _RecordBefore, extra_refs: Iterable[Any] = ()) -> None:
    """Equal field by field, the very same resource objects in the same order (identity, not equality), and every
    reference resolving to the very same resource."""
    assert fast.patient_id == slow.patient_id
    assert list(fast.resources) == list(slow.resources)
    for rtype, kept in slow.resources.items():
        assert type(fast.resources[rtype]) is tuple
        assert [id(r) for r in fast.resources[rtype]] == [id(r) for r in kept], rtype
    assert [id(d) for d in fast.draft_orders] == [id(d) for d in slow.draft_orders]
    assert fast.selections == slow.selections
    assert fast.missing == slow.missing
    for ref in _references(slow, extra_refs):
        assert fast.resolve(ref) is slow.resolve(ref), ref


def _two_pass(values: list[Any]) -> list[Any]:
    """The resources as the two-pass reading listed them: a Bundle's entries, anything else as it is."""
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            out.extend(bundle_resources(value))
        else:
            out.append(value)
    return out


def _one_pass(values: list[Any]) -> RecordParts:
    parts = RecordParts()
    for value in values:
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            parts.add_entries(value)
        else:
            parts.add(value)
    return parts


def _check(values: list[Any], drafts: list[Any] = (), selections: tuple[str, ...] = (),  # type: ignore[assignment]
           missing: tuple[str, ...] = ()) -> Record:
    listed = _two_pass(values)
    parts = _one_pass(values)
    assert parts.received == len(listed)
    fast = parts.record("p1", drafts, selections, missing)
    slow = _RecordBefore.build("p1", listed, drafts, selections, missing)
    _same_record(fast, slow)
    _same_record(Record.build("p1", listed, drafts, selections, missing), slow)  # the general path too
    return fast


def _bundle(*entries: Any, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": list(entries), **extra}


def _entry(resource: Any) -> dict[str, Any]:
    return {"fullUrl": "urn:x", "resource": resource}


def test_usual_bundles() -> None:
    obs = [{"resourceType": "Observation", "id": f"o{i}"} for i in range(5)]
    meds = [{"resourceType": "MedicationRequest", "id": "m1"}, {"resourceType": "Medication", "id": "med1"},
            {"resourceType": "MedicationRequest", "id": "m2"}]
    record = _check([{"resourceType": "Patient", "id": "p1"}, _bundle(*map(_entry, obs)), _bundle(*map(_entry, meds))])
    assert [r["id"] for r in record.of("MedicationRequest")] == ["m1", "m2"]
    assert record.resolve("Medication/med1") is meds[1]


def test_odd_entries_are_skipped_as_bundle_resources_skips_them() -> None:
    good = {"resourceType": "Condition", "id": "c1"}
    record = _check([_bundle(
        "not an entry", None, 7, ["a list"], {"no": "resource"}, {"resource": None}, {"resource": "text"},
        {"resource": ["list"]}, _entry({"id": "no-type"}), _entry({"resourceType": None, "id": "x"}),
        _entry({"resourceType": 5, "id": "x"}), _entry({"resourceType": _Str("Condition"), "id": "sub"}),
        _entry({"resourceType": "", "id": "empty-type"}), _entry({"resourceType": "OperationOutcome", "id": "oo"}),
        _entry(good), _entry({"resourceType": "Condition"}), _entry({"resourceType": "Condition", "id": ""}),
        _entry({"resourceType": "Condition", "id": 12}), _entry({"resourceType": "Condition", "id": None}),
    )])
    assert record.of("Condition")[0] is good
    assert len(record.of("Condition")) == 5  # the id-less ones are kept, never deduplicated
    assert record.of("OperationOutcome") == ()


def test_entry_lists_that_are_not_lists() -> None:
    for entry in (None, {}, "x", 3, {"resource": {"resourceType": "Condition", "id": "c"}}):
        _check([{"resourceType": "Bundle", "entry": entry}])
    _check([{"resourceType": "Bundle"}, {"resourceType": "Bundle", "total": 0}])


def test_duplicate_ids_across_bundles_keep_the_first() -> None:
    first = {"resourceType": "Medication", "id": "med1", "code": {"text": "first"}}
    again = {"resourceType": "Medication", "id": "med1", "code": {"text": "again"}}
    record = _check([
        _bundle(_entry({"resourceType": "MedicationRequest", "id": "m1"}), _entry(first)),
        _bundle(_entry({"resourceType": "MedicationAdministration", "id": "a1"}), _entry(again), _entry(first)),
        again,
    ])
    assert record.of("Medication") == (first,)
    assert record.resolve("Medication/med1") is first


def test_draft_orders_colliding_with_prefetch_ids() -> None:
    prefetched = {"resourceType": "ServiceRequest", "id": "sr1", "status": "active"}
    draft = {"resourceType": "ServiceRequest", "id": "sr1", "status": "draft"}
    other = {"resourceType": "ServiceRequest", "id": "sr2", "status": "draft"}
    record = _check([_bundle(_entry(prefetched))], [draft, other, "not a dict", {"id": 3}],
                    ("ServiceRequest/sr1", "ServiceRequest/sr2"))
    assert record.resolve("ServiceRequest/sr1") is prefetched  # the prefetch was indexed first
    assert record.resolve("ServiceRequest/sr2") is other


def test_non_bundle_values_and_outcomes() -> None:
    _check([{"resourceType": "Patient", "id": "p1"}, {"resourceType": "OperationOutcome", "issue": []},
            {"resourceType": "", "id": "x"}, {"resourceType": _Str("Patient"), "id": "p2"}, {"id": "x"}, None, "x",
            [1], {"resourceType": "Patient", "id": "p1", "name": "again"}])


def test_the_same_object_twice_is_kept_once() -> None:
    for res in ({"resourceType": "Condition", "id": "c1"}, {"resourceType": "A/B", "id": "c"},
                {"resourceType": "A", "id": "B/c"}, {"resourceType": "Condition", "id": _Str("s")}):
        record = _check([_bundle(_entry(res), _entry(res)), res, _bundle(_entry(res))], [res])
        assert len(record.of(res["resourceType"])) == 1


def test_ids_with_slashes_collide_as_before() -> None:
    # "A/B" + "c" and "A" + "B/c" give the same index key: first wins either way, as before
    _check([_bundle(_entry({"resourceType": "A/B", "id": "c"}), _entry({"resourceType": "A", "id": "B/c"}),
                    _entry({"resourceType": "A", "id": "B/c"}))])
    _check([_bundle(_entry({"resourceType": "A", "id": "B/c"}), _entry({"resourceType": "A/B", "id": "c"}),
                    _entry({"resourceType": "B", "id": "c"}), _entry({"resourceType": "A", "id": "c/"}))],
           [{"resourceType": "A/B", "id": "c"}, {"resourceType": "", "id": ""}, {"resourceType": "B", "id": "c"},
            {"resourceType": "ServiceRequest", "id": ""}, {"resourceType": "", "id": "x"},
            {"resourceType": "/", "id": "/"}])


_TYPES: list[Any] = ["Observation", "Observation", "Condition", "Medication", "", "OperationOutcome", None, 3,
                     _Str("Observation"), "Bundle", "A/B", "A", "Obs/", "/"]
_IDS: list[Any] = ["a", "b", "c", "a", "", None, 4, "x/y", "d", "B/c", "c", "/", "x/", "/y", _Str("a"), "a/b/c"]


def _odd_resource(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.06:
        return rng.choice([None, "text", [], 5, ["x"]])
    res: dict[str, Any] = {}
    if rng.random() < 0.92:
        res["resourceType"] = rng.choice(_TYPES)
    if rng.random() < 0.85:
        res["id"] = rng.choice(_IDS)
    res["n"] = rng.random()
    return res


def _odd_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.65:
        entries: list[Any] = []
        for _ in range(rng.randrange(0, 12)):
            pick = rng.random()
            entries.append(rng.choice([None, "x", 1, {}]) if pick < 0.08 else
                           {"search": {}} if pick < 0.12 else {"resource": _odd_resource(rng)})
        return {"resourceType": "Bundle", "entry": entries if rng.random() < 0.95 else rng.choice([None, {}, "x"])}
    return _odd_resource(rng)


@pytest.mark.parametrize("seed", range(300))
def test_random_odd_prefetch(seed: int) -> None:
    rng = random.Random(seed)
    values = [_odd_value(rng) for _ in range(rng.randrange(0, 8))]
    drafts = [_odd_resource(rng) for _ in range(rng.randrange(0, 3))]
    _check(values, drafts, tuple(f"Observation/{rng.choice(_IDS)}" for _ in range(rng.randrange(0, 2))),
           tuple(sorted(rng.sample(["a", "b", "c"], rng.randrange(0, 3)))))


# -- assemble end to end: the one-pass assembly against the two-pass reading, fetches and caps included -------------


class _FakeClient:
    """A fhirServer answering from memory: `fetch` by query, `complete` with the pages after a first page."""

    base_url = "https://ehr.example/fhir"

    def __init__(self, answers: Mapping[str, list[Any]], more_pages: list[Any]) -> None:
        self._answers = answers
        self._more = more_pages

    def fetch(self, query: str, deadline: float) -> FetchResult:
        return FetchResult(tuple(self._answers[query]), 1, False)

    def complete(self, body: Resource, deadline: float) -> FetchResult:
        return FetchResult((*bundle_resources(body), *self._more), 2, False)


def _fillable_as_before(template: str, tokens: Mapping[str, str]) -> bool:
    return all(tokens.get(name) is not None for name in _TOKEN.split(template)[1::2])


def _two_pass_assembly(values: Mapping[str, Any], templates: Mapping[str, PrefetchKey], context: Mapping[str, Any],
                       client: _FakeClient | None, max_entries: int, drafts: list[Any],
                       selections: tuple[str, ...]) -> Assembly:
    """The assembly as it was: every resource listed first (bundle_resources), then Record.build."""
    tokens = token_values(context)
    resources: list[Any] = []
    to_fetch: dict[str, str] = {}
    to_complete: dict[str, Resource] = {}
    degraded: dict[str, str] = {}
    for key, spec in templates.items():
        if not _fillable_as_before(spec.template, tokens):
            degraded[key] = "template token has no value in this context"
            continue
        if key not in values:
            to_fetch[key] = fill(spec.template, tokens)
            continue
        kind = classify(values[key])
        if kind == "resource":
            resources.append(values[key])
        elif kind == "bundle":
            resources.extend(bundle_resources(values[key]))
            if next_link(values[key]) is not None:
                to_complete[key] = values[key]
        elif kind != "null":
            degraded[key] = f"prefetch value was {'an OperationOutcome' if kind == 'outcome' else 'not FHIR'}"
            to_fetch[key] = fill(spec.template, tokens)
    unavailable: list[str] = []
    fetched: list[str] = []
    assert client is not None or not (to_fetch or to_complete)
    total = len(resources)
    jobs = [(k, "fetch") for k in to_fetch] + [(k, "pages") for k in to_complete]
    for key, mode in jobs:
        assert client is not None
        if mode == "fetch":
            got = client.fetch(to_fetch[key], 0.0).resources
        else:
            got = client.complete(to_complete[key], 0.0).resources[len(bundle_resources(to_complete[key])):]
        room = max(0, max_entries - total)
        resources.extend(got[:room])
        total += min(room, len(got))
        degraded.pop(key, None)
        if mode == "fetch":
            fetched.append(key)
        if len(got) > room:
            degraded[key] = "partial (page, entry or budget cap reached)"
    record = _RecordBefore.build("p1", resources, drafts, selections, sorted(degraded))
    return Assembly(record, unavailable, degraded, fetched)  # type: ignore[arg-type]


TEMPLATES = {
    "patient": PrefetchKey("Patient/{{context.patientId}}", True, ""),
    "conditions": PrefetchKey("Condition?patient={{context.patientId}}", False, ""),
    "labs": PrefetchKey("Observation?patient={{context.patientId}}&code=x", False, ""),
    "meds": PrefetchKey("MedicationRequest?patient={{context.patientId}}", False, ""),
    "byUser": PrefetchKey("Practitioner/{{userPractitionerId}}", False, ""),
    "unfillable": PrefetchKey("Encounter/{{context.encounterId}}", False, ""),
}
CONTEXT = {"patientId": "p1", "userId": "Practitioner/u1"}


def _answers() -> dict[str, list[Any]]:
    shared = {"resourceType": "Condition", "id": "c1", "from": "server"}
    return {
        "Patient/p1": [{"resourceType": "Patient", "id": "p1", "from": "server"}],
        "Condition?patient=p1": [shared, {"resourceType": "Condition", "id": "c2"}, shared, {"resourceType": ""}],
        "Observation?patient=p1&code=x": [{"resourceType": "Observation", "id": f"o{i}"} for i in range(4)],
        "MedicationRequest?patient=p1": [{"resourceType": "MedicationRequest", "id": "m1", "from": "server"}],
        "Practitioner/u1": [{"resourceType": "Practitioner", "id": "u1"}],
    }


def _compare_assembly(values: dict[str, Any], max_entries: int = 1_000_000, drafts: list[Any] = (),  # type: ignore[assignment]
                      selections: tuple[str, ...] = ()) -> Assembly:
    more = [{"resourceType": "Observation", "id": "page2-a"}, {"resourceType": "Condition", "id": "c1"},
            {"resourceType": "Observation", "id": "page2-b"}]
    client = _FakeClient(_answers(), more)
    with ThreadPoolExecutor(4) as pool:
        fast = assemble(patient_id="p1", context=CONTEXT, prefetch=values, templates=TEMPLATES,
                        plan=FetchPlan(client), executor=pool, budget=5.0, draft_orders=drafts,  # type: ignore[arg-type]
                        selections=selections, max_entries=max_entries)
    slow = _two_pass_assembly(values, TEMPLATES, CONTEXT, client, max_entries, drafts, selections)
    _same_record(fast.record, slow.record)
    assert fast.degraded == slow.degraded
    assert fast.unavailable == slow.unavailable
    assert sorted(fast.fetched) == sorted(slow.fetched)
    return fast


def _paged(*resources: Any) -> dict[str, Any]:
    return _bundle(*map(_entry, resources), link=[{"relation": "self", "url": "x"},
                                                  {"relation": "next", "url": "https://ehr.example/fhir/p2"}])


def _prefetch() -> dict[str, Any]:
    return {
        "patient": {"resourceType": "Patient", "id": "p1"},
        "conditions": _bundle(_entry({"resourceType": "Condition", "id": "c1"}),
                              _entry({"resourceType": "OperationOutcome", "issue": []}), "odd", {"resource": None}),
        "labs": _paged({"resourceType": "Observation", "id": "o1"}, {"resourceType": "Observation"},
                       {"resourceType": "Condition", "id": "c1", "dup": True}),
        "meds": {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]},
        "byUser": None,
    }


def test_assembly_with_fetches_pages_outcomes_and_duplicates() -> None:
    drafts = [{"resourceType": "ServiceRequest", "id": "sr1"}, {"resourceType": "Condition", "id": "c1"}]
    result = _compare_assembly(_prefetch(), drafts=drafts, selections=("ServiceRequest/sr1",))
    assert "meds" in result.fetched
    assert [r.get("id") for r in result.record.of("Observation")][-2:] == ["page2-a", "page2-b"]


@pytest.mark.parametrize("cap", [0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20])
def test_assembly_entry_cap_counts_as_before(cap: int) -> None:
    values = _prefetch()
    values["conditions"]["entry"].append(_entry({"resourceType": "", "id": "counted-not-kept"}))
    del values["patient"]  # fetched
    _compare_assembly(values, max_entries=cap)


def test_assembly_of_non_bundle_and_invalid_values() -> None:
    values = {"patient": {"resourceType": "Patient", "id": "p1"},
              "conditions": {"resourceType": "Condition", "id": "c9"},
              "labs": {"no": "type"}, "meds": ["not", "fhir"], "byUser": {"resourceType": 3}}
    _compare_assembly(values)


@pytest.mark.parametrize("seed", range(60))
def test_assembly_random_odd_prefetch(seed: int) -> None:
    rng = random.Random(1000 + seed)
    values: dict[str, Any] = {}
    for key in TEMPLATES:
        roll = rng.random()
        if roll < 0.15:
            continue  # absent: fetched
        values[key] = None if roll < 0.2 else _odd_value(rng)
        if isinstance(values[key], dict) and values[key].get("resourceType") == "Bundle" and rng.random() < 0.3:
            values[key]["link"] = [{"relation": "next", "url": "https://ehr.example/fhir/next"}]
    drafts = [_odd_resource(rng) for _ in range(rng.randrange(0, 3))]
    _compare_assembly(values, max_entries=rng.choice([3, 8, 1_000_000]), drafts=drafts)


def test_fillable_lists_tokens_as_render_does() -> None:
    tokens = token_values({"patientId": "p 1", "userId": "PractitionerRole/r1", "n": 3, "flag": True, "obj": {}})
    for template in ("Patient/{{context.patientId}}", "x?a={{context.patientId}}&b={{ context.n }}",
                     "{{context.flag}}", "{{context.obj}}", "{{userPractitionerRoleId}}", "{{userPractitionerId}}",
                     "no tokens", "{{context.missing}}{{context.patientId}}", ""):
        assert fillable(template, tokens) == _fillable_as_before(template, tokens), template
        assert (render(template, tokens) is None) == (not _fillable_as_before(template, tokens))


def _token_values_before(context: Mapping[str, Any]) -> dict[str, str]:
    """`token_values` as it was written first."""
    from cdshooks.fhir.prefetch import USER_TOKENS

    values: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            values[f"context.{key}"] = str(value)
    user = context.get("userId")
    if isinstance(user, str) and "/" in user:
        rtype, _, rid = user.partition("/")
        for token, wanted in USER_TOKENS.items():
            if rtype == wanted and rid:
                values[token] = rid
    return values


CONTEXTS: list[dict[str, Any]] = [
    {"patientId": "p1", "userId": "Practitioner/u1"}, {"patientId": "p 1", "userId": "PractitionerRole/r"},
    {"patientId": 7, "userId": "Patient/p1", "flag": True, "f": 1.5, "n": None, "obj": {}, "lst": []},
    {"userId": "RelatedPerson/", "encounterId": "e1"}, {"userId": 3}, {}, {"patientId": "", "userId": "x"},
    {"patientId": _Str("p"), "userId": _Str("Practitioner/u")},
]


def test_token_values_and_prefetch_keys_as_before() -> None:
    from cdshooks.fhir.prefetch import PREFETCH, fillable
    from cdshooks.services import BY_ID

    templates = [*PREFETCH.values(), *(spec for service in BY_ID.values() for spec in service.prefetch.values()),
                 PrefetchKey("Observation?subject={{userPractitionerId}}&x={{context.encounterId}}", False, ""),
                 PrefetchKey("no tokens at all", True, "")]
    for context in CONTEXTS:
        tokens = token_values(context)
        assert tokens == _token_values_before(context)
        for spec in templates:
            assert fillable(spec.template, tokens) == _fillable_as_before(spec.template, tokens), spec.template
