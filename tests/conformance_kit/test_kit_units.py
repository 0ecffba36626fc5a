"""The kit's parts on their own: prefetch token rules (2.0 and 3.0), the query subset, requirement ids, answers
of any shape, TLS, the command line, and the 3.0-readiness settings of our own service."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks import create_app
from cdshooks.cli import main
from cdshooks.conformance_kit.checks.responses import check_answer
from cdshooks.conformance_kit.checks.security import tls
from cdshooks.conformance_kit.client import Exchange, ServiceClient
from cdshooks.conformance_kit.context import Context
from cdshooks.conformance_kit.requirements import BY_ID, B, L, R
from cdshooks.conformance_kit.results import Recorder, Status
from cdshooks.conformance_kit.stub import FhirStub
from cdshooks.conformance_kit.tokens import cycle_findings, query_findings, template_findings
from cdshooks.protocol.conformance import discovery_problems, response_problems
from cdshooks.protocol.request import parse_request
from cdshooks.settings import Settings, SettingsError
from tests.conformance_kit.toy_services import serve
from tests.conftest import hook_request


def _failing(template: str, spec: str, hook: str = "order-select", keys: tuple[str, ...] = ("labs",)) -> set[str]:
    return {f.requirement for f in template_findings("k", template, hook, spec, keys) if f.status is Status.FAIL}


@pytest.mark.parametrize(("template", "in_2_0", "in_3_0"), [
    ("Patient/{{context.patientId}}", set(), set()),
    ("PractitionerRole?_id={{userPractitionerRoleId}}", set(), set()),
    ("Observation?patient={{ context.patientId }}&code=4548-4", set(), set()),
    ("ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}", {R(57), L(93)}, {L(93)}),
    ("X?_id={{context.selections}}", {L(89)}, {L(89)}),
    ("Condition?patient={context.patientId}", {R(55)}, {R(55)}),
    ("Condition?patient={{context.patientId}", {R(55)}, {R(55)}),
    ("Condition?patient={{patientId}}", {R(59)}, {R(59)}),
    ("Condition?patient={{context.medication}}", {R(56)}, {R(56)}),
    ("Observation?date=gt{{today() - 90 days}}", {R(56)}, set()),
    ("Observation?_id={{%labs.entry.resource.id}}", {R(56)}, set()),
    ("Observation?_id={{%nothing.entry.resource.id}}", {R(56)}, {B("#prefetch-tokens")}),
    ("C?_id={{context.draftOrders.entry.resource.ofType(ServiceRequest).reasonReference.resolve().ofType(Condition)"
     ".id}}", {R(57), L(93)}, {L(93)}),
    ("C?_id={{context.draftOrders.entry.resource.ofType(Coding).id}}", {R(57), L(93)}, {L(93), B("#prefetch-tokens")}),
    ("C?_id={{context.draftOrders.entry.resource.where(status='draft').id}}", {R(57), L(93)},
     {L(93), B("#prefetch-tokens")}),
])
def test_prefetch_token_rules(template: str, in_2_0: set[str], in_3_0: set[str]) -> None:
    assert _failing(template, "2.0") == in_2_0
    assert _failing(template, "3.0") == in_3_0


def test_the_hook_decides_which_context_fields_are_tokens() -> None:
    assert _failing("X?_id={{context.draftOrders}}", "2.0", hook="order-sign") == {L(16)}
    assert _failing("X?_id={{context.appointments}}", "2.0", hook="appointment-book") == {L(32)}
    assert _failing("X?_id={{context.anything}}", "2.0", hook="my-own-hook") == set()  # not in the library


def test_prefetch_variables_must_not_depend_on_themselves() -> None:
    findings = cycle_findings({"a": "X?_id={{%b.id}}", "b": "Y?_id={{%a.id}}", "c": "Z?_id={{%a.id}}"})
    assert [f.message.split(":")[0] for f in findings] == ["prefetch.a", "prefetch.b"]
    assert cycle_findings({"a": "X?_id={{%b.id}}", "b": "Y?patient={{context.patientId}}"}) == []


@pytest.mark.parametrize(("template", "warned"), [
    ("Observation?patient={{context.patientId}}&code:in=http://vs&_sort=-date&_count=5&date=ge2024-01-01", False),
    ("Patient/{{context.patientId}}", False),
    ("{{context.userId}}", False),
    ("MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication", True),
    ("Observation?patient={{context.patientId}}&code:text=bone", True),
    ("Observation?subject.name=x", True),
    ("Observation?date=ne2024-01-01", True),
    ("Patient/{{context.patientId}}/_history", True),
])
def test_query_subset(template: str, warned: bool) -> None:
    (finding,) = query_findings("k", template)
    assert finding.status is (Status.WARN if warned else Status.PASS), finding.message


JSON_KEYS = st.sampled_from([
    "cards", "summary", "indicator", "source", "label", "url", "icon", "topic", "system", "code", "display",
    "suggestions", "selectionBehavior", "uuid", "isRecommended", "actions", "type", "description", "resource",
    "resourceType", "id", "resourceId", "overrideReasons", "links", "appContext", "autolaunchable", "detail",
    "systemActions", "extension", "actionSelectionBehavior", "services", "hook", "prefetch", "title"])
JSON_TEXT = st.sampled_from(["", "absolute", "smart", "create", "update", "delete", "any", "at-most-one", "all",
                             "info", "critical", "http://[::1", "https://x.org/a", "Patient/1", "<b>x</b>", "x" * 150])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | JSON_TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=5),
                    max_leaves=25)


@pytest.fixture(scope="module")
def offline_context() -> Context:
    return Context(ServiceClient("http://127.0.0.1:9"), Recorder("3.0"), "3.0", cast(FhirStub, None), False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.fixed_dictionaries({"cards": st.lists(JSON, max_size=3)}, optional={"systemActions": JSON}) | JSON)
def test_answers_of_any_shape_are_judged_never_raised_on(offline_context: Context, body: Any) -> None:
    for problem in [*response_problems(body), *discovery_problems(body)]:
        assert problem.requirement in BY_ID or problem.requirement == "", problem  # every tag is a kit id
    check_answer(offline_context, Exchange("POST", "http://x/cds-services/s", status=200), body)


def _self_signed(folder: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


def test_tls_version_is_checked_on_https(tmp_path: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    with serve(Flask("tls"), ssl_context=context) as url:
        https = url.replace("http://", "https://")
        for verify, expected, said in ((False, Status.PASS, "negotiated TLSv1."),
                                       (True, Status.FAIL, "handshake")):  # self-signed: untrusted when verified
            recorder = Recorder("2.0")
            tls(Context(ServiceClient(https, verify_tls=verify), recorder, "2.0", cast(FhirStub, None), False))
            outcome = recorder.report(https, 0).by_id()[R(168)]
            assert outcome.status is expected and said in outcome.evidence[0].message, outcome.evidence


@pytest.mark.parametrize("arguments", [
    ["check-service", "ftp://cds.example.org"],
    ["check-service", "http://127.0.0.1:9", "--auth-required"],
    ["check-service", "http://127.0.0.1:9", "--jwt-key", __file__],
])
def test_usage_errors_exit_2(arguments: list[str]) -> None:
    assert CliRunner().invoke(main, arguments).exit_code == 2


def _discovery(tmp_path: Path, **overrides: Any) -> list[dict[str, Any]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/d.db", allow_unauthenticated=True, **overrides)
    app = create_app(settings)
    try:
        services: list[dict[str, Any]] = app.test_client().get("/cds-services").get_json()["services"]
        return services
    finally:
        app.extensions["cdshooks"].close()


def test_discovery_version_is_sent_only_when_set(tmp_path: Path) -> None:
    assert all("version" not in s for s in _discovery(tmp_path))  # not a 2.0 field: off by default
    assert {s["version"] for s in _discovery(tmp_path, discovery_version="STU2")} == {"STU2"}
    with pytest.raises(SettingsError, match="CDSHOOKS_DISCOVERY_VERSION"):
        Settings.from_env({"CDSHOOKS_DISCOVERY_VERSION": "latest"})


@pytest.mark.parametrize("scope", [
    "patient/*.rs",  # SMART v2 (CDS Hooks 3.0)
    "patient/Observation.rs?category=laboratory patient/Condition.rs patient/Patient.r launch/patient openid",
    "user/*.cruds fhirUser",
    "patient/*.read",  # SMART v1 (CDS Hooks 2.0)
])
def test_fhir_authorization_scopes_of_smart_v1_and_v2_are_accepted(scope: str) -> None:
    body = hook_request(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={
        "access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": scope, "subject": "svc",
        "patient": "bc-1"})
    request, _ = parse_request(body, expected_hook="patient-view")
    assert request.fhirAuthorization is not None and request.fhirAuthorization.scope == scope
