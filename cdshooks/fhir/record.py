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
    """

    patient_id: str
    resources: Mapping[str, tuple[Resource, ...]] = field(default_factory=dict)
    draft_orders: tuple[Resource, ...] = ()
    selections: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # prefetch keys whose data could not be had (fully or partly)
    _index: Mapping[str, Resource] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        patient_id: str,
        resources: Iterable[Resource],
        draft_orders: Iterable[Resource] = (),
        selections: Iterable[str] = (),
        missing: Iterable[str] = (),
    ) -> Record:
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
        return cls._from_parts(patient_id, by_type, index, draft_orders, selections, missing)

    @classmethod
    def _from_parts(
        cls,
        patient_id: str,
        by_type: dict[str, list[Resource]],
        index: dict[str, Resource],
        draft_orders: Iterable[Resource],
        selections: Iterable[str],
        missing: Iterable[str],
    ) -> Record:
        drafts = tuple(d for d in draft_orders if isinstance(d, dict))
        for d in drafts:
            rid = d.get("id")
            rtype = d.get("resourceType")
            if isinstance(rid, str) and isinstance(rtype, str):
                index.setdefault(f"{rtype}/{rid}", d)
        return cls(
            patient_id=patient_id,
            resources={k: tuple(v) for k, v in by_type.items()},
            draft_orders=drafts,
            selections=tuple(selections),
            missing=tuple(missing),
            _index=index,
        )

    def of(self, resource_type: str) -> tuple[Resource, ...]:
        """All resources of one type (empty tuple when none)."""
        return self.resources.get(resource_type, ())

    def resolve(self, reference: str | None) -> Resource | None:
        """Resolve a relative literal reference (`Type/id`, or an absolute URL ending in it)."""
        if not reference or not isinstance(reference, str):
            return None
        if reference in self._index:
            return self._index[reference]
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2:
            return self._index.get(f"{parts[-2]}/{parts[-1]}")
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


class RecordParts:
    """`Record.build` in one pass over the prefetch as it arrives: resources are added one by one (`add`) or a
    Bundle's entries at once (`add_entries`, which is `bundle_resources` and `add` fused, so the entries are read
    once, not once to list them and again to group them). Same filters, same order, same first-occurrence-wins
    dedup as `Record.build(patient_id, resources, ...)` over the same resources in the same order (tests compare
    the two on odd shapes). `received` counts what `bundle_resources` would have returned plus the resources
    added one by one: the count the fetch cap is measured against."""

    __slots__ = ("_by_type", "_index", "received")

    def __init__(self) -> None:
        self._by_type: dict[str, list[Resource]] = {}
        self._index: dict[str, Resource] = {}
        self.received = 0

    def add(self, res: Any) -> None:
        """One resource, as `Record.build` takes it (a non-dict, no or empty resourceType or an
        OperationOutcome is dropped; a repeated Type/id keeps the first)."""
        self.received += 1
        if not isinstance(res, dict):
            return
        rtype = res.get("resourceType")
        if not isinstance(rtype, str) or not rtype or rtype == "OperationOutcome":
            return
        self._keep(res, rtype)

    def add_all(self, resources: Iterable[Any]) -> None:
        for res in resources:
            self.add(res)

    def add_entries(self, bundle: Resource) -> None:
        """The resources of a Bundle's entries, filtered as `bundle_resources` filters them and then as `add` does
        (an entry that is not an object, a resource whose resourceType is not exactly a str, and OperationOutcome
        entries are skipped without counting; an empty resourceType counts but is not kept)."""
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            return
        by_type = self._by_type
        index = self._index
        received = 0
        last_type: str | None = None  # a search's entries are mostly of one type: its list is kept at hand
        kept: list[Resource] = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            res = entry.get("resource")
            if not isinstance(res, dict):
                continue
            rtype = res.get("resourceType")
            if type(rtype) is not str or rtype == "OperationOutcome":
                continue
            received += 1
            if not rtype:
                continue
            rid = res.get("id")
            if isinstance(rid, str) and rid:
                key = f"{rtype}/{rid}"
                if key in index:
                    continue
                index[key] = res
            if rtype != last_type:
                kept = by_type.setdefault(rtype, [])
                last_type = rtype
            kept.append(res)
        self.received += received

    def _keep(self, res: Resource, rtype: str) -> None:
        rid = res.get("id")
        if isinstance(rid, str) and rid:
            key = f"{rtype}/{rid}"
            if key in self._index:
                return
            self._index[key] = res
        self._by_type.setdefault(rtype, []).append(res)

    def record(
        self,
        patient_id: str,
        draft_orders: Iterable[Resource] = (),
        selections: Iterable[str] = (),
        missing: Iterable[str] = (),
    ) -> Record:
        """The Record (the draft orders indexed after the prefetch, as `Record.build` does)."""
        return Record._from_parts(patient_id, self._by_type, self._index, draft_orders, selections, missing)


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
