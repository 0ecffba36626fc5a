"""The prefetch code filters are generated from the value sets (one source of truth): the code list of each
template equals the exact codes of the value sets its extractor reads, a knowledge change shows up in the generated
templates, and the templates stay legal CDS Hooks 2.0 queries of a sane length."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cdshooks.clinical.extract.conditions import SYMPTOM_SETS, symptom_kind
from cdshooks.clinical.extract.observations import LAB_SETS, RECEPTOR_SETS
from cdshooks.clinical.knowledge import default_knowledge, load_knowledge
from cdshooks.fhir.prefetch import (
    CODE_FILTER_VALUE_SETS,
    MAX_QUERY_LENGTH,
    PREFETCH,
    build_prefetch,
    render,
    value_set_codes,
)
from cdshooks.services import SERVICES

KB = default_knowledge()
ALLOWED_TOKEN = re.compile(r"\{\{\s*context\.patientId\s*\}\}")


def _code_filter(template: str) -> set[tuple[str, str]]:
    query = parse_qs(urlsplit(template).query)
    tokens = ",".join(query.get("code", [])).split(",")
    return {(token.rsplit("|", 1)[0], token.rsplit("|", 1)[1]) for token in tokens if token}


def _expected(names: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(entry.system, entry.code) for name in names for entry in KB.valueset(name).codes}


@pytest.mark.parametrize("key", sorted(CODE_FILTER_VALUE_SETS))
def test_template_code_list_equals_the_value_set_codes(key: str) -> None:
    assert _code_filter(PREFETCH[key].template) == _expected(CODE_FILTER_VALUE_SETS[key])


def test_every_value_set_an_observation_extractor_reads_feeds_a_filter() -> None:
    assert set(CODE_FILTER_VALUE_SETS["labs"]) == {name for name, _ in LAB_SETS} | {"VS_LAB_LFT"}
    assert set(CODE_FILTER_VALUE_SETS["tumorMarkers"]) == {name for name, _ in RECEPTOR_SETS}
    assert set(CODE_FILTER_VALUE_SETS["symptomObservations"]) == set(SYMPTOM_SETS)


def test_symptom_sets_are_the_ones_symptom_kind_reads() -> None:
    # a code of each symptom set is recognised by symptom_kind, so the filter asks for what the extractor reads
    for name in SYMPTOM_SETS:
        entry = KB.valueset(name).codes[0]
        assert symptom_kind(KB, {"coding": [{"system": entry.system, "code": entry.code}]}) is not None, name


@pytest.mark.parametrize(("key", "system", "code"), [
    ("labs", "http://loinc.org", "77147-7"),
    ("labs", "http://loinc.org", "98980-6"),
    ("labs", "http://loinc.org", "77141-0"),
    ("labs", "http://loinc.org", "1744-2"),
    ("symptomObservations", "http://hl7.org/fhir/sid/icd-10-cm", "G89.3"),
    ("symptomObservations", "http://snomed.info/sct", "12584003"),
    ("tumorMarkers", "http://loinc.org", "85337-4"),
])
def test_codes_added_to_the_value_sets_are_asked_for(key: str, system: str, code: str) -> None:
    assert (system, code) in _code_filter(PREFETCH[key].template)


def test_a_value_set_change_changes_the_generated_template(tmp_path: Path) -> None:
    (tmp_path / "valuesets.yaml").write_text(
        "valuesets:\n"
        "  VS_LAB_ALP:\n"
        "    description: ALP with a local code\n"
        "    source: test\n"
        "    codes:\n"
        "      - {system: http://loinc.org, code: 6768-6, display: ALP, status: C}\n"
        "      - {system: 'urn:local:lab', code: ALP1, display: local ALP, status: UNVERIFIED}\n"
    )
    local = load_knowledge(tmp_path)
    generated = build_prefetch(local)
    assert ("urn:local:lab", "ALP1") in _code_filter(generated["labs"].template)
    assert ("http://loinc.org", "77141-0") not in _code_filter(generated["labs"].template)
    assert _code_filter(build_prefetch(KB)["labs"].template) == _code_filter(PREFETCH["labs"].template)


def test_value_set_codes_keep_file_order_without_repeats() -> None:
    codes = value_set_codes(KB, ("VS_LAB_EGFR", "VS_LAB_EGFR"))
    assert len(codes) == len(set(codes)) == len(KB.valueset("VS_LAB_EGFR").codes)
    assert codes[0] == ("http://loinc.org", "98979-8")


@pytest.mark.parametrize("key", sorted(PREFETCH))
def test_templates_use_only_cds_hooks_2_tokens_and_stay_short(key: str) -> None:
    template = PREFETCH[key].template
    leftover = ALLOWED_TOKEN.sub("", template)
    assert "{{" not in leftover and "}}" not in leftover
    assert re.fullmatch(r"[A-Za-z0-9?&=|,:/._\-{}]+", template), template  # nothing that needs quoting
    rendered = render(template, {"context.patientId": "p" * 64})
    assert rendered is not None and len(rendered) < MAX_QUERY_LENGTH


def test_medication_templates_include_the_referenced_medication() -> None:
    assert "_include=MedicationRequest:medication" in PREFETCH["medicationRequests"].template
    assert "_include=MedicationAdministration:medication" in PREFETCH["medicationAdministrations"].template
    assert "_include=MedicationStatement:medication" in PREFETCH["medicationStatements"].template


def test_discovery_advertises_the_generated_templates() -> None:
    for service in SERVICES:
        advertised = service.discovery()["prefetch"]
        assert advertised == {key: spec.template for key, spec in PREFETCH.items()}
