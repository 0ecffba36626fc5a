"""Building the procedure classes, their code and text indexes and the generic modality codes from
procedures.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdshooks.clinical.knowledge.model import Terminology, _ProcCode, _ProcPattern
from cdshooks.clinical.knowledge.schema import ProcedureCode, ProceduresFile, ProcedureShape
from cdshooks.clinical.knowledge.validation import _compile, validate
from cdshooks.clinical.knowledge.yaml_files import _Loaded


@dataclass
class _ProcedureTables:
    codes: dict[tuple[str, str], _ProcCode] = field(default_factory=dict)
    patterns: list[_ProcPattern] = field(default_factory=list)
    generic: dict[tuple[str, str], str] = field(default_factory=dict)


def _build_procedures(
    loaded: _Loaded, terms: Terminology
) -> tuple[dict[str, Mapping[str, Any]], _ProcedureTables]:
    """The procedure entries as written (Knowledge.procedure() hands out copies of them) and their indexes."""
    shape = validate(loaded, ProceduresFile)
    fragments = shape.text_fragments
    excluded = {key for item in shape.excluded_codes if (key := terms.key(item.system, item.code))}
    tables = _ProcedureTables()
    for order, (name, procedure) in enumerate(shape.procedures.items()):
        for code in procedure.codes:
            _add_procedure_code(loaded, name, code, terms, tables, excluded)
        for item in procedure.text_patterns:
            regex = _compile(loaded, name, item.pattern, fragments)
            tables.patterns.append(_ProcPattern(item.priority, order, regex, name, item.region))
    _check_procedure_links(loaded, shape.procedures)
    for generic in shape.generic_modality_codes:
        key = terms.key(generic.system, generic.code)
        if key in tables.codes:
            raise loaded.error("generic_modality_codes", f"code {generic.code!r} is also a procedure-class code")
        if key:
            tables.generic[key] = generic.modality
    tables.patterns.sort(key=lambda p: (p.priority, p.order))
    return {name: loaded.data["procedures"][name] for name in shape.procedures}, tables


def _add_procedure_code(
    loaded: _Loaded,
    name: str,
    code: ProcedureCode,
    terms: Terminology,
    tables: _ProcedureTables,
    excluded: set[tuple[str, str]],
) -> None:
    key = terms.key(code.system, code.code)
    if key is None:
        raise loaded.error(name, f"code {code.code!r} cannot be normalised")
    if key in excluded:
        raise loaded.error(name, f"code {code.code!r} is listed in excluded_codes and must not be mapped")
    existing = tables.codes.get(key)
    if existing is not None and existing.procedure_class != name:
        raise loaded.error(name, f"code {code.code!r} is already mapped to {existing.procedure_class}")
    tables.codes[key] = _ProcCode(name, code.region, code.iodinated_contrast)


def _check_procedure_links(loaded: _Loaded, procedures: Mapping[str, ProcedureShape]) -> None:
    for name, procedure in procedures.items():
        alternative = procedure.non_contrast_alternative
        if alternative is not None and (alternative not in procedures
                                        or procedures[alternative].iodinated_contrast is not False):
            raise loaded.error(name, f"non_contrast_alternative {alternative!r} must be a known class without "
                                     "iodinated contrast")
        refines = [procedure.refines] if procedure.refines is not None else []
        for other in [*procedure.combined_from, *refines]:
            if other not in procedures or other == name:
                raise loaded.error(name, f"refers to unknown procedure class {other!r}")


def _proc_parts(procedures: Mapping[str, Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Every class's transitive parts (MRI_CAP -> MRI_CHEST, MRI_ABDOMEN_PELVIS, MRI_ABDOMEN, MRI_PELVIS)."""
    result: dict[str, frozenset[str]] = {}
    for name, entry in procedures.items():
        seen: set[str] = set()
        pending = list(entry.get("combined_from") or ())
        while pending:
            part = pending.pop()
            if part not in seen:
                seen.add(part)
                pending.extend(procedures[part].get("combined_from") or ())
        result[name] = frozenset(seen)
    return result
