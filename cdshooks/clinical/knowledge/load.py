"""Entry points: load_knowledge (shipped files plus site overrides) and default_knowledge."""

from __future__ import annotations

import functools
from pathlib import Path
from types import MappingProxyType

from cdshooks.clinical.knowledge.acr_parameters import _build_acr, _build_parameters
from cdshooks.clinical.knowledge.knowledge import Knowledge
from cdshooks.clinical.knowledge.medications import _build_medications, _names_regex
from cdshooks.clinical.knowledge.procedures import _build_procedures, _proc_parts
from cdshooks.clinical.knowledge.report_phrases import _build_report_grammar
from cdshooks.clinical.knowledge.valuesets import _build_valuesets
from cdshooks.clinical.knowledge.yaml_files import (
    ACR_FILE,
    MEDICATIONS_FILE,
    PARAMETERS_FILE,
    PROCEDURES_FILE,
    REPORT_PHRASES_FILE,
    VALUESETS_FILE,
    _load_file,
    _resolve_override,
)


def load_knowledge(override_dir: str | Path | None = None) -> Knowledge:
    """Load, merge (site overrides) and validate the knowledge files; raise KnowledgeError naming the file
    and entry at the first problem.

    A same-named YAML file in ``override_dir`` replaces entries one by one (parameters per key — a bare number
    is accepted; value sets, procedures and medications per name; ACR rows per procedure class; report phrase
    lists per name, whole — a bare list is its patterns; ``null`` removes an entry) and deep-merges every other
    section. Every file is checked against its shape (schema.py): unknown keys are refused.
    """
    overrides = _resolve_override(override_dir)
    vs_file, proc_file = _load_file(VALUESETS_FILE, overrides), _load_file(PROCEDURES_FILE, overrides)
    acr_file, param_file = _load_file(ACR_FILE, overrides), _load_file(PARAMETERS_FILE, overrides)
    med_file, phrase_file = _load_file(MEDICATIONS_FILE, overrides), _load_file(REPORT_PHRASES_FILE, overrides)

    terms, valuesets, vs_index = _build_valuesets(vs_file)
    procedures, proc_tables = _build_procedures(proc_file, terms)
    acr = _build_acr(acr_file, procedures)
    parameters, parameter_info = _build_parameters(param_file)
    meds = _build_medications(med_file, terms)
    grammar = _build_report_grammar(phrase_file)
    return Knowledge(
        parameters=MappingProxyType(parameters),
        terminology=terms,
        _valuesets=MappingProxyType(valuesets),
        _vs_index=MappingProxyType(vs_index),
        _procedures=MappingProxyType(procedures),
        _proc_codes=MappingProxyType(proc_tables.codes),
        _proc_patterns=tuple(proc_tables.patterns),
        _proc_parts=MappingProxyType(_proc_parts(procedures)),
        _generic_modalities=MappingProxyType(proc_tables.generic),
        _acr=MappingProxyType(acr),
        _acr_data=MappingProxyType(acr_file.data),
        _med_codes=MappingProxyType(meds.codes),
        _med_names=MappingProxyType(meds.names),
        _med_regex=_names_regex(meds.names),
        _meds=MappingProxyType(meds.infos),
        _parameter_info=MappingProxyType(parameter_info),
        report_grammar=grammar,
    )


@functools.cache
def default_knowledge() -> Knowledge:
    """The shipped knowledge, loaded once per process."""
    return load_knowledge(None)
