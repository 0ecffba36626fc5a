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


def copy_json(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, scalars): about a third of `copy.deepcopy`'s cost, which keeps a
    memo for shared and cyclic objects that parsed JSON never has. Mappings and lists become dicts and lists."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value
