"""Codes and text of the orders a card suggests, from the knowledge's procedure entries.

A procedure may name a region after a colon (`MRI_SPINE:lumbar`): the entry's `order_by_region` is used.
A class without a single CPT code whose parts have one (CT chest/abdomen/pelvis with contrast = CPT 71260 +
74177, `combined_from`) is ordered as its parts, so every suggested ServiceRequest carries CPT and LOINC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdshooks.clinical.knowledge import Knowledge

CPT = "http://www.ama-assn.org/go/cpt"

Order = tuple[list[dict[str, str]], str]  # (codings, text) of one ServiceRequest to create


def _order(kb: Knowledge, procedure: str, region: str = "") -> tuple[list[dict[str, str]], str, bool]:
    entry = kb.procedure(procedure)
    order: Any = entry.get("order") or {}
    if region:
        order = (entry.get("order_by_region") or {}).get(region) or order
    # CPT descriptors are AMA-copyrighted: CPT codings go out with the code only
    codings = [{k: str(c[k]) for k in ("system", "code", "display") if c.get(k)
                and not (k == "display" and c.get("system") == CPT)} for c in order.get("codes", [])]
    has_cpt = any(c.get("system") == CPT for c in codings)
    return codings, str(order.get("text") or entry.get("display") or procedure), has_cpt


def procedure_orders(kb: Knowledge) -> Callable[[str], list[Order]]:
    def orders(name: str) -> list[Order]:
        procedure, _, region = name.partition(":")
        codings, text, has_cpt = _order(kb, procedure, region)
        if not codings:
            raise KeyError(f"procedure {name!r} has no order codes")
        parts = kb.procedure_field(procedure, "combined_from") or ()
        if not has_cpt and parts:
            halves = [_order(kb, part) for part in parts]
            if all(h[0] and h[2] for h in halves):
                return [(h[0], h[1]) for h in halves]
        return [(codings, text)]

    return orders
