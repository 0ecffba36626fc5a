"""Building the ACR table (acr_table.yaml) and the rule parameters (parameters.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from cdshooks.clinical.knowledge.model import AcrEntry
from cdshooks.clinical.knowledge.schema import AcrFile, ParametersFile
from cdshooks.clinical.knowledge.validation import validate
from cdshooks.clinical.knowledge.yaml_files import _Loaded


def _build_acr(loaded: _Loaded, procedures: Mapping[str, Any]) -> dict[str, AcrEntry]:
    shape = validate(loaded, AcrFile)
    ratings = {category: rating.code for category, rating in shape.pama_rating.categories.items()}
    table: dict[str, AcrEntry] = {}
    for cls, row in shape.rows.items():
        if cls not in procedures:
            raise loaded.error(cls, "ACR row for an unknown procedure class")
        table[cls] = AcrEntry(
            procedure_class=cls,
            category=row.category,
            rrl=row.rrl,
            rrl_msv=row.rrl_msv,
            source=row.source,
            pama_rating=ratings[row.category],
            acr_wording=row.acr_wording,
            notes=row.notes,
        )
    for cls, row in shape.rows.items():
        # one region of a listed survey (MRI chest alone) is rated as part of that survey (issue 10)
        for part in row.rates_parts:
            if part not in procedures or part in table:
                raise loaded.error(cls, f"rates_parts: {part!r} is unknown or has its own row")
            table[part] = replace(table[cls], procedure_class=part, rated_as=cls)
    return table


def _build_parameters(loaded: _Loaded) -> tuple[dict[str, int | float], dict[str, Mapping[str, Any]]]:
    shape = validate(loaded, ParametersFile)
    values = {name: parameter.value for name, parameter in shape.parameters.items()}
    info: dict[str, Mapping[str, Any]] = {
        name: MappingProxyType(dict(loaded.data["parameters"][name])) for name in shape.parameters}
    return values, info
