"""The requirements `cdshooks check-service` checks, each with a stable id, its level and its spec anchor.

Ids follow the Inferno catalogue of CDS Hooks 2.0 service requirements
(../shared/knowledge/cds-hooks-conformance-checks.md, Appendix A): `cds-hooks_2.0@83` is its row 83, and
`cds-hooks-library_1.0.1@89` a row of the hook library. A rule the catalogue lacks is named by its spec anchor
instead: `cds-hooks_2.0#prefetch-template.null` (CDS Hooks 2.0) or
`cds-hooks_3.0.0-ballot#returning-operationoutcome` (the 3.0.0 normative ballot). The wording here is our own
short paraphrase; the anchor links the spec text.

`specs` says under which `--spec` a requirement applies: 3.0 keeps every 2.0 rule except those the ballot
changed (prefetch tokens may use a FHIRPath subset, so the 2.0 root-level-only token rules give way to
`#prefetch-tokens`; a systemAction may omit `description`).
"""

from __future__ import annotations

from dataclasses import dataclass

SPECS = ("2.0", "3.0")
BOTH = frozenset(SPECS)
ONLY_2 = frozenset({"2.0"})
ONLY_3 = frozenset({"3.0"})

V2 = "cds-hooks_2.0"
V3 = "cds-hooks_3.0.0-ballot"
LIBRARY = "cds-hooks-library_1.0.1"
V2_URL = "https://cds-hooks.hl7.org/2.0/"
V3_URL = "https://build.fhir.org/ig/HL7/cds-hooks/"
LIBRARY_URL = "https://cds-hooks.hl7.org/hooks/STU1/"

AREAS = ("general", "discovery", "prefetch-templates", "invocation", "prefetch-handling", "response", "security",
         "feedback")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str  # SHALL | SHALL NOT | SHOULD | SHOULD NOT
    area: str
    text: str
    url: str
    specs: frozenset[str] = BOTH

    @property
    def advisory(self) -> bool:
        """A SHOULD: not meeting it is a warning, not a failure."""
        return self.level.startswith("SHOULD")


def R(row: int | str) -> str:
    """Id of a CDS Hooks 2.0 rule: Inferno row `R(83)`, or spec anchor `R("#link.autolaunchable")`."""
    return f"{V2}{row}" if isinstance(row, str) else f"{V2}@{row}"


def B(anchor: str) -> str:
    """Id of a CDS Hooks 3.0.0-ballot rule, by anchor."""
    return f"{V3}{anchor}"


def L(row: int) -> str:
    """Id of a hook library 1.0.1 row."""
    return f"{LIBRARY}@{row}"


def _v2(row: int | str, level: str, area: str, anchor: str, text: str, specs: frozenset[str] = BOTH) -> Requirement:
    return Requirement(R(row), level, area, text, f"{V2_URL}#{anchor}", specs)


def _v3(anchor: str, level: str, area: str, text: str) -> Requirement:
    return Requirement(B(anchor), level, area, text, f"{V3_URL}#{anchor.lstrip('#').split('.')[0]}", ONLY_3)


def _library(row: int, hook: str, field: str) -> Requirement:
    return Requirement(L(row), "SHALL NOT", "prefetch-templates", f"{hook}: `context.{field}` is not a prefetch token",
                       f"{LIBRARY_URL}{hook}.html#context", ONLY_2)


CATALOGUE: tuple[Requirement, ...] = (
    # general
    _v2(1, "SHALL", "general", "use-of-json", "Answers are JSON: a JSON content type and a body that parses."),
    _v2(3, "SHALL NOT", "general", "use-of-json", "No null or empty values (an empty `cards` array excepted)."),
    _v2(214, "SHALL", "general", "extensions", "An `extension` value is a JSON object."),
    _v2(215, "SHOULD", "general", "extensions", "Extension names are globally unique (reverse-domain notation)."),
    # discovery
    _v2(4, "SHALL", "discovery", "discovery", "The discovery endpoint is `{base}/cds-services` (HTTP GET)."),
    _v2(13, "SHALL", "discovery", "http-status-codes", "A successful discovery answers 200."),
    _v2(6, "SHALL", "discovery", "response", "Discovery is an object with a `services` array of objects."),
    _v2(7, "SHALL", "discovery", "response", "Every service has `hook`, a string."),
    _v2(8, "SHOULD", "discovery", "response", "Every service has `title`, a string."),
    _v2(9, "SHALL", "discovery", "response", "Every service has `description`, a string."),
    _v2(10, "SHALL", "discovery", "response", "Every service has `id`, a string, unique per hook."),
    _v2(36, "SHALL", "discovery", "prefetch-template", "`prefetch` maps each prefetch key to a query string."),
    _v3("#response.version", "SHOULD", "discovery",
        "Every service advertises `version`, the CDS Hooks version it implements (STU1 | STU2 | STU3)."),
    # prefetch templates
    _v2(55, "SHALL", "prefetch-templates", "prefetch-tokens", "Prefetch tokens are delimited by `{{` and `}}`."),
    _v2(56, "SHALL", "prefetch-templates", "prefetch-tokens",
        "A token names a field of the hook's context or a user identifier (userPractitionerId, ...)."),
    _v2(57, "SHALL", "prefetch-templates", "prefetch-tokens",
        "Only root-level, primitive context fields are tokens (no `context.draftOrders.X.id`).", ONLY_2),
    _v2(58, "SHOULD", "prefetch-templates", "prefetch-query-restrictions",
        "Queries keep to the recommended subset: read, search by reference, token (`:in`), date (eq lt gt ge le), "
        "`_count`, `_sort`."),
    _v2(59, "SHALL", "prefetch-templates", "example-prefetch-token", "Context tokens are named `context.<field>`."),
    _library(16, "order-sign", "draftOrders"),
    _library(32, "appointment-book", "appointments"),
    _library(73, "order-dispatch", "fulfillmentTasks"),
    _library(89, "order-select", "selections"),
    _library(93, "order-select", "draftOrders"),
    _v3("#prefetch-tokens", "SHALL", "prefetch-templates",
        "Tokens use the ballot's FHIRPath subset only: context paths, `%<prefetch key>` (no cycles), "
        "ofType(<FHIR resource type>), resolve(), today() +/- N days."),
    # invocation
    _v2(16, "SHALL", "invocation", "http-request_1",
        "Every advertised service answers POST `{base}/cds-services/{id}`."),
    _v2(74, "SHALL", "invocation", "cds-service-response", "A successful call answers 200 with a `cards` array."),
    _v2(75, "SHALL", "invocation", "cds-service-response", "`systemActions`, when sent, is a non-empty array."),
    _v2(27, "SHOULD", "invocation", "providing-fhir-resources-to-a-cds-service",
        "Answers come quickly (on the order of 500 ms)."),
    _v2("#http-status-codes.malformed-request", "SHALL", "invocation", "http-status-codes",
        "A malformed call (not JSON, a required field missing) gets a 4xx: never a 2xx for bad JSON, never a 5xx."),
    _v3("#returning-operationoutcome", "SHOULD", "invocation", "An answer other than 2xx carries an OperationOutcome."),
    # prefetch handling
    _v2(54, "SHALL", "prefetch-handling", "prefetch-template",
        "Required data neither prefetched nor obtainable from a FHIR server: 412 Precondition Failed."),
    _v2(34, "SHOULD", "prefetch-handling", "providing-fhir-resources-to-a-cds-service",
        "Absent prefetch keys are fetched from `fhirServer`."),
    _v2(61, "SHALL", "prefetch-handling", "fhir-resource-access",
        "Every call to `fhirServer` presents the `fhirAuthorization` access token."),
    _v2(52, "SHOULD", "prefetch-handling", "prefetch-template",
        "Prefetched OperationOutcomes are recognised (the data is fetched or the call answered without it)."),
    _v2("#prefetch-template.null", "SHALL", "prefetch-handling", "prefetch-template",
        "A prefetch key whose value is `null` (the client has no data) is answered normally."),
    _v2("#prefetch-template.pagination", "SHOULD", "prefetch-handling", "prefetch-template",
        "A paginated searchset in prefetch is completed from its `next` links."),
    _v3("#passing-the-access-token-to-the-cds-service", "SHALL", "prefetch-handling",
        "`fhirAuthorization.scope` in SMART v2 syntax (`patient/*.rs`) is accepted."),
    # response: cards, suggestions, actions, links, codings
    _v2(80, "SHALL", "response", "card-attributes", "`card.uuid`, when sent, is a string, unique in the answer."),
    _v2(83, "SHALL", "response", "card-attributes", "`card.summary` is a string under 140 characters."),
    _v2(85, "SHALL", "response", "card-attributes", "`card.detail`, when sent, is (GitHub-flavoured) markdown."),
    _v2(87, "SHALL", "response", "card-attributes", "`card.indicator` is present."),
    _v2(88, "SHALL", "response", "card-attributes", "`card.indicator` is info, warning or critical."),
    _v2(90, "SHALL", "response", "card-attributes", "`card.source` is an object."),
    _v2(105, "SHALL", "response", "source", "`source.label` is a string."),
    _v2(107, "SHALL", "response", "source", "`source.url`, when sent, is an absolute URL."),
    _v2(111, "SHALL", "response", "source", "`source.icon`, when sent, is an absolute URL."),
    _v2(115, "SHALL", "response", "source", "`source.topic`, when sent, is a Coding."),
    _v2(92, "SHALL", "response", "card-attributes", "`card.suggestions` is an array of objects."),
    _v2(93, "SHALL", "response", "card-attributes", "A card with suggestions has `selectionBehavior`."),
    _v2(95, "SHALL", "response", "card-attributes", "`selectionBehavior` is at-most-one or any."),
    _v2(98, "SHALL", "response", "card-attributes", "`card.overrideReasons` is an array of Codings."),
    _v2(100, "SHALL", "response", "card-attributes", "Every override reason has a `display`."),
    _v2(103, "SHALL", "response", "card-attributes", "`card.links` is an array of objects."),
    _v2(117, "SHALL", "response", "suggestion", "`suggestion.label` is a string."),
    _v2(119, "SHALL", "response", "suggestion", "`suggestion.uuid`, when sent, is a string."),
    _v2(121, "SHALL", "response", "suggestion", "`suggestion.isRecommended`, when sent, is a boolean."),
    _v2(122, "SHALL", "response", "suggestion",
        "Several suggestions are recommended only with selectionBehavior any (cds-resp-1)."),
    _v2(124, "SHALL", "response", "suggestion", "`suggestion.actions` is an array of objects."),
    _v2(127, "SHALL", "response", "action", "`action.type` is create, update or delete."),
    _v2(128, "SHALL", "response", "action", "`action.description` is a string (3.0: for suggestion actions)."),
    _v2(131, "SHALL", "response", "action", "A create action carries the new FHIR resource."),
    _v2(132, "SHALL", "response", "action", "An update action carries the whole resource, with its id."),
    _v2(133, "SHALL NOT", "response", "action", "A delete action carries no `resource`."),
    _v2(134, "SHOULD", "response", "action", "A delete action names `resourceId` (Type/id)."),
    _v2(135, "SHALL", "response", "action", "`action.resourceId` is a string."),
    _v2(138, "SHALL", "response", "link", "`link.label` is a string."),
    _v2(139, "SHALL", "response", "link", "`link.url` is an absolute URL."),
    _v2(142, "SHALL", "response", "link", "`link.type` is absolute or smart."),
    _v2(144, "SHALL", "response", "link", "`link.appContext`, when sent, is a string."),
    _v2(147, "SHALL NOT", "response", "link", "An absolute link carries no `appContext` (cds-resp-3)."),
    _v2("#link.autolaunchable", "SHALL", "response", "link", "`link.autolaunchable`, when sent, is a boolean."),
    _v2(216, "SHALL", "response", "coding", "`Coding.code` is a string."),
    _v2(217, "SHALL", "response", "coding", "`Coding.system` is a string."),
    _v3("#suggestion.actionSelectionBehavior", "SHALL", "response",
        "`suggestion.actionSelectionBehavior` is all, any or at-most-one (cds-resp-7), and used only with clients "
        "that document support."),
    # security
    _v2(168, "SHALL", "security", "security-and-safety", "Served over HTTPS, TLS 1.2 or later."),
    _v2(208, "SHALL", "security", "cross-origin-resource-sharing",
        "CORS: a browser preflight asking for `Authorization` is allowed."),
    _v2(176, "SHALL", "security", "trusting-cds-clients",
        "Calls are authenticated by a signed client JWT: refused without one, accepted with a valid one."),
    _v2(201, "SHALL NOT", "security", "jwt-signing-algorithm", "A JWT with alg `none` is never accepted."),
    _v2(203, "SHALL NOT", "security", "jwt-signing-algorithm", "A JWT signed with a symmetric (HMAC) algorithm is "
        "never accepted."),
    _v2(205, "SHOULD", "security", "jwt-signing-algorithm", "ES384 and RS384 client JWTs are accepted."),
    _v2("#trusting-cds-clients.aud", "SHALL", "security", "trusting-cds-clients",
        "A JWT whose `aud` is not the endpoint called is refused."),
    _v2("#trusting-cds-clients.exp", "SHALL", "security", "trusting-cds-clients", "An expired JWT is refused."),
    _v2("#trusting-cds-clients.jti", "SHOULD", "security", "trusting-cds-clients",
        "A JWT seen before (same `jti`) is refused."),
    # feedback
    _v2("#feedback.accepted", "SHALL", "feedback", "feedback",
        "A feedback endpoint, when offered, accepts a well-formed feedback batch."),
    _v2("#feedback.malformed-request", "SHALL", "feedback", "feedback",
        "A feedback endpoint answers malformed JSON with a 4xx."),
)

BY_ID: dict[str, Requirement] = {r.id: r for r in CATALOGUE}


def applicable(spec: str) -> tuple[Requirement, ...]:
    """The requirements checked under `--spec` (2.0 or 3.0), in report order."""
    return tuple(sorted((r for r in CATALOGUE if spec in r.specs), key=lambda r: AREAS.index(r.area)))
