"""Clinical knowledge loaded from reviewable data: value sets, procedures, ACR table, parameters, medications
and the radiology-report phrases.

The knowledge itself lives in ``cdshooks/knowledge/*.yaml`` — every code with its verification status and
source, every window with its provenance — so that a clinician can review it without reading Python. This
package only loads, validates and indexes it, and answers the questions the rules ask:

* ``knowledge.valueset("VS_BONE_METS").matches(condition["code"])``
* ``knowledge.procedure_class(service_request["code"])``  ->  ``"BONE_SCAN_WB"``
* ``knowledge.acr("BONE_SCAN_WB")``  ->  category, RRL, Argonaut pama-rating code
* ``knowledge.medication(med_request["medicationCodeableConcept"])``  ->  ingredient + class
* ``knowledge.param("P_FLARE_MIN_DAYS")``
* ``read_report(text, modality, procedure_class, grammar=knowledge.report_grammar)``

Lookups are indexed once at load (system|code -> value sets / procedure class / ingredient), so matching a
concept costs O(number of its codings); text fallbacks are regexes compiled once.
"""

from __future__ import annotations

from cdshooks.clinical.knowledge.knowledge import Knowledge
from cdshooks.clinical.knowledge.load import default_knowledge, load_knowledge
from cdshooks.clinical.knowledge.model import (
    ACR_CATEGORIES,
    CODE_STATUSES,
    CPT,
    DRUG_CLASSES,
    ICD10CM,
    LOINC,
    MODALITIES,
    PARAMETER_STATUSES,
    PROCEDURE_SYSTEM_ORDER,
    RXNORM,
    SNOMED,
    AcrEntry,
    CodeEntry,
    KnowledgeError,
    Medication,
    PrefixEntry,
    ProcedureMatch,
    Terminology,
    TextPattern,
    ValueSet,
)
from cdshooks.clinical.knowledge.yaml_files import (
    ACR_FILE,
    ENTRY_SECTIONS,
    KNOWLEDGE_DIR,
    MEDICATIONS_FILE,
    PARAMETERS_FILE,
    PROCEDURES_FILE,
    REPORT_PHRASES_FILE,
    VALUESETS_FILE,
)

__all__ = [
    "ACR_CATEGORIES",
    "ACR_FILE",
    "CODE_STATUSES",
    "CPT",
    "DRUG_CLASSES",
    "ENTRY_SECTIONS",
    "ICD10CM",
    "KNOWLEDGE_DIR",
    "LOINC",
    "MEDICATIONS_FILE",
    "MODALITIES",
    "PARAMETERS_FILE",
    "PARAMETER_STATUSES",
    "PROCEDURES_FILE",
    "PROCEDURE_SYSTEM_ORDER",
    "REPORT_PHRASES_FILE",
    "RXNORM",
    "SNOMED",
    "VALUESETS_FILE",
    "AcrEntry",
    "CodeEntry",
    "Knowledge",
    "KnowledgeError",
    "Medication",
    "PrefixEntry",
    "ProcedureMatch",
    "Terminology",
    "TextPattern",
    "ValueSet",
    "default_knowledge",
    "load_knowledge",
]
