"""Codes and text of the orders a card suggests, from the knowledge's procedure entries.

A procedure may name a region after a colon (`MRI_SPINE:lumbar`): the entry's `order_by_region` is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdshooks.clinical.knowledge import Knowledge

CPT = "http://www.ama-assn.org/go/cpt"


def procedure_codes(kb: Knowledge) -> Callable[[str], tuple[list[dict[str, str]], str]]:
    def codes(name: str) -> tuple[list[dict[str, str]], str]:
        procedure, _, region = name.partition(":")
        entry = kb.procedure(procedure)
        order: Any = entry.get("order") or {}
        if region:
            order = (entry.get("order_by_region") or {}).get(region) or order
        # CPT descriptors are AMA-copyrighted: CPT codings go out with the code only
        codings = [{k: str(c[k]) for k in ("system", "code", "display") if c.get(k)
                    and not (k == "display" and c.get("system") == CPT)} for c in order.get("codes", [])]
        if not codings:
            raise KeyError(f"procedure {name!r} has no order codes")
        return codings, str(order.get("text") or entry.get("display") or name)

    return codes
