"""Which procedure classes are a body survey or a visceral survey is knowledge (procedures.yaml `groups`), loaded
and checked like every other entry, and the rules read it from the facts: a site regrouping a class changes the
rules without Python."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from cdshooks.clinical.facts import BODY_SURVEY, VISCERAL_SURVEY, Condition, ImagingResult, LabResult, PatientFacts
from cdshooks.clinical.knowledge import KnowledgeError, default_knowledge, load_knowledge
from cdshooks.clinical.report_reading import BoneMetResult
from cdshooks.clinical.rules.markers import elevated_alp
from tests.conftest import NOW

KB = default_knowledge()


def test_the_shipped_groups() -> None:
    groups = KB.procedure_groups
    assert groups[BODY_SURVEY] == {"BONE_SCAN_WB", "CT_CAP_IV", "CT_CAP_NOIV", "CT_CAP_WO_W", "FDG_PETCT", "MRI_CAP"}
    assert groups[VISCERAL_SURVEY] == {"CT_CAP_IV", "CT_CAP_WO_W", "FDG_PETCT"}
    assert PatientFacts(now=NOW).classes_in(BODY_SURVEY, VISCERAL_SURVEY) == groups[BODY_SURVEY]


def _override(tmp_path: Path, groups: list[str]) -> Path:
    entry = copy.deepcopy(KB.procedure("MRI_CAP"))
    entry["groups"] = groups
    (tmp_path / "procedures.yaml").write_text(yaml.safe_dump({"procedures": {"MRI_CAP": entry}}), encoding="utf-8")
    return tmp_path


def test_a_site_regroups_a_class(tmp_path: Path) -> None:
    kb = load_knowledge(_override(tmp_path, []))
    assert "MRI_CAP" not in kb.procedure_groups[BODY_SURVEY]
    assert "MRI_CAP" in KB.procedure_groups[BODY_SURVEY]  # the shipped knowledge is untouched


def test_an_unknown_group_is_refused_naming_file_entry_and_key(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=r"procedures\.yaml \[MRI_CAP\]: group 1 must be .body-survey."):
        load_knowledge(_override(tmp_path, ["whole-body"]))


def test_rules_read_the_groups_from_the_facts() -> None:
    """elevated_alp stays silent after a recent body survey; which classes count comes from the facts."""
    alp = LabResult("alp", NOW - timedelta(days=3), 310.0, "U/L", "high", "reference-range")
    mri = ImagingResult("DiagnosticReport/mri", "MRI C/A/P", "MRI_CAP", "MR", NOW - timedelta(days=10),
                        BoneMetResult.NEGATIVE, None)
    facts = PatientFacts(now=NOW, breast_cancer=Condition("Breast cancer", None, "Condition/bc"), labs=(alp,),
                         imaging=(mri,))
    assert elevated_alp(facts, KB.parameters) == []
    regrouped = replace(facts, procedure_groups={BODY_SURVEY: frozenset({"BONE_SCAN_WB"})})
    assert [f.topic for f in elevated_alp(regrouped, KB.parameters)] == ["elevated-alp-workup"]
