"""The assembled patient record: plain FHIR JSON (dicts) grouped by resource type.

Built once per request by `cdshooks.fhir.assemble`; read by the clinical facts layer. Resources are
kept exactly as received (no model validation on the hot path); an index by `Type/id` is built once so
references resolve in O(1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Resource = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """What we know about one patient for one hook call.

    `resources` maps a FHIR resource type to the resources of that type (deduplicated by id, first
    occurrence wins). `draft_orders` are the request resources in `context.draftOrders` (empty for
    patient-view); `selections` the `Type/id` references of the newly selected orders (order-select).

    The `Type/id` index is kept in two parts (`RecordParts`): by type, then id, for every pair whose type and id
    hold no "/" (their `Type/id` has exactly one "/", so the pair and the string name each other), and by the
    `Type/id` string for the odd pairs (a "/" in the type or the id: two or more "/"), which no usual pair can
    equal. `resolve` answers exactly what one index by `Type/id` string answered.
    """

    patient_id: str
    resources: Mapping[str, tuple[Resource, ...]] = field(default_factory=dict)
    draft_orders: tuple[Resource, ...] = ()
    selections: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # prefetch keys whose data could not be had (fully or partly)
    _by_id: Mapping[str, Mapping[str, Resource]] = field(default_factory=dict, repr=False, compare=False)
    _odd_keys: Mapping[str, Resource] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        patient_id: str,
        resources: Iterable[Resource],
        draft_orders: Iterable[Resource] = (),
        selections: Iterable[str] = (),
        missing: Iterable[str] = (),
    ) -> Record:
        parts = RecordParts()
        parts.add_all(resources)
        return parts.record(patient_id, draft_orders, selections, missing)

    def of(self, resource_type: str) -> tuple[Resource, ...]:
        """All resources of one type (empty tuple when none)."""
        return self.resources.get(resource_type, ())

    def resolve(self, reference: str | None) -> Resource | None:
        """Resolve a relative literal reference (`Type/id`, or an absolute URL ending in it)."""
        if not reference or not isinstance(reference, str):
            return None
        slashes = reference.count("/")
        if slashes == 1:  # the reference as it is: a usual Type/id
            rtype, _, rid = reference.partition("/")
            found = self._by_id.get(rtype, _NONE).get(rid)
            if found is not None:
                return found
        elif slashes and self._odd_keys:  # two or more "/": only an odd Type/id can equal it
            found = self._odd_keys.get(reference)
            if found is not None:
                return found
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2:  # its last two segments: a Type/id with one "/", a usual pair or nothing
            return self._by_id.get(parts[-2], _NONE).get(parts[-1])
        return None

    def selected_orders(self) -> tuple[Resource, ...]:
        """Draft orders named in `selections` (order-select); all draft orders otherwise."""
        if not self.selections:
            return self.draft_orders
        wanted = set(self.selections)
        return tuple(
            d for d in self.draft_orders if f"{d.get('resourceType')}/{d.get('id')}" in wanted
        )

    def selected_orders_refs(self) -> tuple[str, ...]:
        return tuple(f"{d.get('resourceType')}/{d.get('id')}" for d in self.selected_orders())

    def count(self) -> int:
        return sum(len(v) for v in self.resources.values())


_NONE: Mapping[str, Resource] = {}


class RecordParts:
    """A Record built in one pass over the prefetch as it arrives: resources added one by one (`add`, what
    `Record.build` does for each) or a Bundle's entries at once (`add_entries`: `bundle_resources` and `add` fused,
    so the entries are read once, not once to list them and again to group them). Same filters, same order, same
    first-occurrence-wins dedup by `Type/id` as listing the resources first and building after (tests compare the
    two on odd shapes). `received` counts what `bundle_resources` would have returned plus the resources added one
    by one: the count the fetch cap is measured against."""

    __slots__ = ("_by_id", "_by_type", "_odd_keys", "received")

    def __init__(self) -> None:
        self._by_type: dict[str, list[Resource]] = {}
        self._by_id: dict[str, dict[str, Resource]] = {}  # type -> id -> first resource (no "/" in either)
        self._odd_keys: dict[str, Resource] = {}  # "Type/id" -> first resource, a "/" in the type or the id
        self.received = 0

    def add(self, res: Any) -> None:
        """One resource: a non-dict, no or empty resourceType or an OperationOutcome is dropped; a repeated Type/id
        keeps the first; a resource without a usable id (not a non-empty str) is kept, never deduplicated."""
        self.received += 1
        self._take(res)

    def _take(self, res: Any) -> None:
        """`add` without the count."""
        if not isinstance(res, dict):
            return
        rtype = res.get("resourceType")
        if not isinstance(rtype, str) or not rtype or rtype == "OperationOutcome":
            return
        rid = res.get("id")
        if isinstance(rid, str) and rid and not self._first(rtype, rid, res):
            return
        self._by_type.setdefault(rtype, []).append(res)

    def add_all(self, resources: Iterable[Any]) -> None:
        for res in resources:
            self.add(res)

    def add_entries(self, bundle: Resource) -> None:
        """The resources of a Bundle's entries, filtered as `bundle_resources` filters them and then as `add` does
        (an entry that is not an object, a resource whose resourceType is not exactly a str, and OperationOutcome
        entries are skipped without counting; an empty resourceType counts but is not kept).

        The usual entry (an object holding a `resource` object whose resourceType and id are non-empty str without
        "/") is taken in a few steps: no method calls, a search's type list and id index kept at hand. Any other
        entry goes through `_odd_entry`, the same reading written out in full."""
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            return
        received = 0
        last_type: str | None = None  # the type whose list and index are at hand (always a usable type)
        kept: list[Resource] = []
        ids: dict[str, Resource] = {}
        for entry in entries:
            if type(entry) is dict:
                try:
                    res = entry["resource"]
                    if type(res) is dict:
                        rtype = res["resourceType"]
                        rid = res["id"]
                    else:
                        rtype = rid = None
                except KeyError:  # no resource, resourceType or id: the odd reading below
                    rtype = rid = None
                if type(rtype) is str and type(rid) is str and rid and "/" not in rid:
                    if rtype != last_type:
                        if not rtype or rtype == "OperationOutcome" or "/" in rtype:
                            received += self._odd_entry(entry)
                            continue
                        kept = self._by_type.setdefault(rtype, [])
                        ids = self._by_id.setdefault(rtype, {})
                        last_type = rtype
                    received += 1
                    if rid not in ids:
                        ids[rid] = res
                        kept.append(res)
                    continue
            received += self._odd_entry(entry)
        self.received += received

    def _odd_entry(self, entry: Any) -> int:
        """One entry read in full (`bundle_resources` then `add`); 1 when `bundle_resources` would list it."""
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            return 0
        rtype = res.get("resourceType")
        if type(rtype) is not str or rtype == "OperationOutcome":
            return 0
        self._take(res)
        return 1

    def _first(self, rtype: str, rid: str, res: Resource) -> bool:
        """Index `res` under rtype/rid unless that Type/id is already indexed; whether it was the first."""
        if "/" in rtype or "/" in rid:
            key = f"{rtype}/{rid}"
            if key in self._odd_keys:
                return False
            self._odd_keys[key] = res
            return True
        ids = self._by_id.setdefault(rtype, {})
        if rid in ids:
            return False
        ids[rid] = res
        return True

    def record(
        self,
        patient_id: str,
        draft_orders: Iterable[Resource] = (),
        selections: Iterable[str] = (),
        missing: Iterable[str] = (),
    ) -> Record:
        """The Record: the draft orders are indexed after the prefetch (a prefetched Type/id stays first), any str
        type and id, empty ones included."""
        drafts = tuple(d for d in draft_orders if isinstance(d, dict))
        for d in drafts:
            rid = d.get("id")
            rtype = d.get("resourceType")
            if isinstance(rid, str) and isinstance(rtype, str):
                self._first(rtype, rid, d)
        return Record(
            patient_id=patient_id,
            resources={k: tuple(v) for k, v in self._by_type.items()},
            draft_orders=drafts,
            selections=tuple(selections),
            missing=tuple(missing),
            _by_id=self._by_id,
            _odd_keys=self._odd_keys,
        )


def copy_json(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, scalars): about a third of `copy.deepcopy`'s cost, which keeps a
    memo for shared and cyclic objects that parsed JSON never has. Mappings and lists become dicts and lists."""
    if isinstance(value, dict):
        return _copied_dict(value)
    if isinstance(value, list):
        return _copied_list(value)
    return value


# The two halves of `copy_json`, calling each other only for containers: a scalar is taken as it is, without a call.
def _copied_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    out = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _copied_dict(item)
        elif isinstance(item, list):
            item = _copied_list(item)
        out[key] = item
    return out


def _copied_list(value: list[Any]) -> list[Any]:
    out = []
    for item in value:
        if isinstance(item, dict):
            item = _copied_dict(item)
        elif isinstance(item, list):
            item = _copied_list(item)
        out.append(item)
    return out
