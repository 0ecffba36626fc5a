"""The rule summaries in `docs/clinical-rules.md`, split into one section per rule id, and rule-id citations.

The document has one `## Rnn — title` heading per rule; everything up to the next `## ` heading is that rule's
summary (Markdown). Sub-rules (R04a, R15b) are described inside their base rule's section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RULE_ID = re.compile(r"\bR(\d\d)([a-z]?)\b")
_HEADING = re.compile(r"^## (R\d\d)\b\s*[—–-]?\s*(.*)$")
_TOPIC_FIELD = re.compile(r"^\s*[-*]\s*\*\*Card topics?:\*\*(.*)$", re.MULTILINE)
_BUILDS_ON_FIELD = re.compile(r"^\s*[-*]\s*\*\*Builds on:\*\*(.*)$", re.MULTILINE)
_TOPIC_CODE = re.compile(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`")


@dataclass(frozen=True)
class RuleSection:
    id: str  # "R13"
    title: str
    body: str  # Markdown, without the heading
    topics: tuple[str, ...]  # the card topics the section names under **Card topic(s):**
    builds_on: tuple[str, ...] = ()  # rule ids named under **Builds on:** (their conditions apply too)

    @property
    def anchor(self) -> str:
        return f"rule-{self.id.lower()}"


@dataclass(frozen=True)
class RulesDoc:
    path: Path
    intro: str  # Markdown before the first rule section (without the document title)
    sections: dict[str, RuleSection]
    appendix: str  # Markdown after the last rule section that is not a rule (e.g. the section map)


def rule_ids(text: str) -> tuple[str, ...]:
    """Rule ids cited in a text, in order of first mention ("R13", "R04a")."""
    found: list[str] = []
    for match in RULE_ID.finditer(text):
        rid = match.group(0)
        if rid not in found:
            found.append(rid)
    return tuple(found)


def base_rule(rule_id: str) -> str:
    """"R04a" -> "R04"."""
    return rule_id[:3]


def load_rules_doc(path: Path) -> RulesDoc:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"{path}: the rule summaries cannot be read ({exc.strerror or exc})") from None
    intro: list[str] = []
    appendix: list[str] = []
    sections: dict[str, RuleSection] = {}
    current: tuple[str, str] | None = None
    body: list[str] = []
    in_appendix = False

    def close() -> None:
        if current is not None:
            content = "\n".join(body).strip()
            topics = tuple(code for field in _TOPIC_FIELD.findall(content) for code in _TOPIC_CODE.findall(field))
            builds_on = tuple(rid for field in _BUILDS_ON_FIELD.findall(content) for rid in rule_ids(field))
            sections[current[0]] = RuleSection(current[0], current[1].strip(), content, topics, builds_on)

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close()
            current, body, in_appendix = (heading.group(1), heading.group(2)), [], False
        elif line.startswith("## "):  # a section that is not a rule: intro before the rules, appendix after
            close()
            current, in_appendix = None, bool(sections)
            (appendix if in_appendix else intro).append(line)
        elif line.startswith("# ") and not sections and not intro:
            continue  # the document title
        elif current is not None:
            body.append(line)
        elif in_appendix:
            appendix.append(line)
        else:
            intro.append(line)
    close()
    return RulesDoc(path, "\n".join(intro).strip(), sections, "\n".join(appendix).strip())
