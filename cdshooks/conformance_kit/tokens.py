"""Prefetch templates, read as a CDS client would: token syntax (2.0 or the 3.0 ballot) and query subset.

CDS Hooks 2.0: a token is `{{context.<root-level primitive field>}}` or one of the four user identifiers;
the hook library says which context fields may be tokens (`draftOrders`, `selections`, ... may not).
The 3.0 ballot widens tokens to a FHIRPath subset: paths into the context (`context.draftOrders.entry
.resource.ofType(ServiceRequest).id`), earlier prefetch keys as `%key` (no cycles), `ofType(<FHIR resource
type>)`, `resolve()`, `today()` plus or minus whole days, alternatives joined by `|`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache

from cdshooks.conformance_kit.requirements import B, L, R
from cdshooks.conformance_kit.results import Status
from cdshooks.fhir.prefetch import USER_TOKENS

# context fields usable as prefetch tokens per hook (hook library 1.0.1); a value names the library row that
# forbids the field as a token
HOOK_TOKENS: dict[str, dict[str, str | None]] = {
    "patient-view": {"userId": None, "patientId": None, "encounterId": None},
    "order-select": {"userId": None, "patientId": None, "encounterId": None, "selections": L(89),
                     "draftOrders": L(93)},
    "order-sign": {"userId": None, "patientId": None, "encounterId": None, "draftOrders": L(16)},
    "appointment-book": {"userId": None, "patientId": None, "encounterId": None, "appointments": L(32)},
    "encounter-start": {"userId": None, "patientId": None, "encounterId": None},
    "encounter-discharge": {"userId": None, "patientId": None, "encounterId": None},
    "order-dispatch": {"patientId": None, "dispatchedOrders": None, "performer": None, "fulfillmentTasks": L(73)},
}
COMMON_FIELDS = {"userId", "patientId", "encounterId"}

_TOKEN = re.compile(r"\{\{(.*?)\}\}", re.S)
_SINGLE = re.compile(r"(?<!\{)\{\s*(context\.[\w.]+|user\w+Id)\s*\}(?!\})")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TODAY = re.compile(r"today\(\)(\s*[+-]\s*\d+\s*days?)?")
_PATH = re.compile(r"(context|%[A-Za-z][\w-]*)((?:\.[A-Za-z_]\w*(?:\([^()]*\))?)*)")
_STEP = re.compile(r"\.([A-Za-z_]\w*)(\(([^()]*)\))?")
_VARIABLE = re.compile(r"%([A-Za-z][\w-]*)")
_RESULT_PARAMS = {"_count", "_sort", "_id", "_lastUpdated"}
_PREFIX = re.compile(r"(ne|sa|eb|ap)\d")


@dataclass(frozen=True)
class Finding:
    requirement: str
    status: Status
    message: str


def tokens(template: str) -> list[str]:
    return [t.strip() for t in _TOKEN.findall(template)]


def template_findings(key: str, template: str, hook: str, spec: str, keys: Collection[str]) -> list[Finding]:
    """Token findings for one template (pass findings included, so the caller can tell what was checked)."""
    where = f"prefetch.{key}"
    out: list[Finding] = []
    outside = _TOKEN.sub("", template)
    if "{{" in outside or "}}" in outside or _SINGLE.search(template):
        out.append(Finding(R(55), Status.FAIL, f"{where}: a token is not delimited by {{{{ and }}}}: {template!r}"))
    else:
        out.append(Finding(R(55), Status.PASS, f"{where}: tokens delimited"))
    fields = HOOK_TOKENS.get(hook)
    for token in tokens(template):
        out.extend(_token_findings(where, token, fields, hook, spec, keys))
    return out


def _token_findings(where: str, token: str, fields: Mapping[str, str | None] | None, hook: str, spec: str,
                    keys: Collection[str]) -> list[Finding]:
    shown = f"{where}: {{{{{token}}}}}"
    if token in USER_TOKENS:
        return [Finding(R(56), Status.PASS, f"{shown}: user identifier")]
    if token.startswith("context."):
        out = []
        root_match = _IDENT.match(token[len("context."):])
        root = root_match.group(0) if root_match else ""
        nested = not _IDENT.fullmatch(token[len("context."):])
        if spec == "2.0":
            out.append(Finding(R(57), Status.FAIL if nested else Status.PASS,
                               f"{shown}: {'not a root-level context field' if nested else 'root-level field'}"))
        else:
            out.extend(_fhirpath_findings(shown, token, keys))
        if fields is None:
            out.append(Finding(R(56), Status.PASS, f"{shown}: hook {hook!r} is not in the hook library; field "
                               "names not checked"))
        elif root not in fields:
            out.append(Finding(R(56), Status.FAIL, f"{shown}: {root!r} is not a context field of {hook}"))
        else:
            out.append(Finding(R(56), Status.PASS, f"{shown}: context field of {hook}"))
            forbidden = fields[root]
            if forbidden:
                out.append(Finding(forbidden, Status.FAIL, f"{shown}: {hook} forbids {root} as a prefetch token"))
        out.append(Finding(R(59), Status.PASS, f"{shown}: named context.<field>"))
        return out
    if spec == "3.0" and (token.startswith(("%", "today()")) or "|" in token):
        return _fhirpath_findings(shown, token, keys)
    if _IDENT.fullmatch(token) and (token in COMMON_FIELDS or token in (fields or {})):
        return [Finding(R(59), Status.FAIL, f"{shown}: a context field must be written context.{token}")]
    return [Finding(R(56), Status.FAIL, f"{shown}: neither a context field nor a user identifier")]


def _fhirpath_findings(shown: str, token: str, keys: Collection[str]) -> list[Finding]:
    problems = []
    for alternative in (part.strip() for part in token.split("|")):
        if _TODAY.fullmatch(alternative) or alternative in USER_TOKENS:
            continue
        match = _PATH.fullmatch(alternative)
        if not match:
            problems.append(f"`{alternative}` is not a path, today() arithmetic or a user identifier")
            continue
        head = match.group(1)
        if head.startswith("%") and head[1:] not in keys:
            problems.append(f"{head} names no prefetch key of this service")
        for name, call, argument in _STEP.findall(match.group(2)):
            if not call:
                continue
            if name == "resolve" and not argument.strip():
                continue
            if name == "ofType":
                if not is_resource_type(argument.strip()):
                    problems.append(f"ofType({argument}) does not name a FHIR resource type")
                continue
            problems.append(f"{name}() is outside the ballot's FHIRPath subset (ofType, resolve, today)")
    if problems:
        return [Finding(B("#prefetch-tokens"), Status.FAIL, f"{shown}: {'; '.join(problems)}")]
    return [Finding(B("#prefetch-tokens"), Status.PASS, f"{shown}: within the FHIRPath subset")]


@cache
def is_resource_type(name: str) -> bool:
    """A concrete FHIR R4 resource type (what `ofType()` must name)."""
    if not _IDENT.fullmatch(name) or name in {"Resource", "DomainResource"}:
        return False
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.resource import Resource

    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except (ValueError, KeyError, AttributeError):
        return False


def cycle_findings(templates: Mapping[str, str]) -> list[Finding]:
    """3.0: prefetch keys that depend on themselves through `%key` variables."""
    depends = {key: set(_VARIABLE.findall(" ".join(tokens(t)))) & set(templates) for key, t in templates.items()}
    cyclic = set()
    for start in depends:
        seen: set[str] = set()
        todo = list(depends[start])
        while todo:
            key = todo.pop()
            if key == start:
                cyclic.add(start)
                break
            if key not in seen:
                seen.add(key)
                todo.extend(depends.get(key, ()))
    return [Finding(B("#prefetch-tokens"), Status.FAIL, f"prefetch.{key}: depends on itself through %variables")
            for key in sorted(cyclic)]


def query_findings(key: str, template: str) -> list[Finding]:
    """Outside the recommended query subset (a SHOULD: findings are warnings)."""
    query = _TOKEN.sub("X", template)
    path, _, params = query.partition("?")
    segments = [s for s in path.split("/") if s]
    problems = []
    read_or_search = bool(segments) and bool(re.fullmatch(r"[A-Z][A-Za-z]*", segments[0])) and (
        len(segments) == 1 or (len(segments) == 2 and not params and not segments[1].startswith(("$", "_"))))
    if segments != ["X"] and not read_or_search:  # a whole-token template ({{context.userId}}) is a read
        problems.append("not an instance read or a type-level search")
    for param in filter(None, params.split("&")):
        name, _, value = param.partition("=")
        base, _, modifier = name.partition(":")
        if base.startswith("_") and base not in _RESULT_PARAMS:
            problems.append(f"parameter {base}")
        elif "." in base:
            problems.append(f"chained parameter {base}")
        elif modifier and modifier != "in":
            problems.append(f"modifier :{modifier}")
        if any(_PREFIX.match(v) for v in value.split(",")):
            problems.append(f"date prefix in {name}={value[:20]}")
    if problems:
        return [Finding(R(58), Status.WARN, f"prefetch.{key}: outside the recommended subset: "
                        f"{', '.join(dict.fromkeys(problems))}")]
    return [Finding(R(58), Status.PASS, f"prefetch.{key}: within the recommended subset")]
