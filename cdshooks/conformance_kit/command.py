"""The `cdshooks check-service` command (registered on the `cdshooks` group in cdshooks/cli.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

SIGNING = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"]


@click.command("check-service")
@click.argument("base_url")
@click.option("--spec", type=click.Choice(["2.0", "3.0"]), default="2.0", show_default=True,
              help="3.0: also the 3.0.0 ballot's changed rules (discovery version, OperationOutcome on errors, "
                   "SMART v2 scopes, FHIRPath prefetch tokens).")
@click.option("--fixtures", "fixtures", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="CDS Hooks request files (or folders of them, `cdshooks replay` format) sent besides the kit's "
                   "own minimal requests. Repeatable.")
@click.option("--jwt-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM private key: sign a client JWT for every call, as a real CDS client does.")
@click.option("--jwt-issuer", help="With --jwt-key: the iss claim (the client as the service registered it).")
@click.option("--jwt-kid", help="With --jwt-key: the kid header.")
@click.option("--jwt-alg", type=click.Choice(SIGNING), default="ES384", show_default=True)
@click.option("--jwt-jku", help="With --jwt-key: the jku header, a URL where the key's JWK set is published, or "
              "`kit` to have the kit publish it on its loopback FHIR stub.")
@click.option("--audience", help="With --jwt-key: the service's public base URL when it differs from BASE_URL.")
@click.option("--auth-required", is_flag=True, help="The service requires client authentication: also check "
              "that calls without a token, and tokens with alg none, HMAC, a wrong aud, expired or replayed, are "
              "refused. Needs --jwt-key.")
@click.option("--origin", default="https://sandbox.cds-hooks.org", show_default=True,
              help="Browser origin used for the CORS checks (one the service allows).")
@click.option("--fhir-stub-host", default="127.0.0.1", show_default=True,
              help="Address the kit's FHIR stub listens on (the service must reach it).")
@click.option("--fhir-stub-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the FHIR stub (0: any free port); fix it to register the stub as a FHIR server.")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds one call may take.")
@click.option("--max-seconds", type=click.FloatRange(1, 3600), default=300.0, show_default=True,
              help="Seconds the whole run may take; later calls are not made.")
@click.option("--insecure", is_flag=True, help="Do not verify the service's TLS certificate (test servers).")
@click.option("--print-jwks", is_flag=True, help="With --jwt-key: print the key's public JWK set (to register with "
              "the service) and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JUnit XML to this file.")
def check_service(base_url: str, spec: str, fixtures: tuple[Path, ...], jwt_key: Path | None, jwt_issuer: str | None,
                  jwt_kid: str | None, jwt_alg: str, jwt_jku: str | None, audience: str | None, auth_required: bool,
                  origin: str, fhir_stub_host: str, fhir_stub_port: int, timeout: float, max_seconds: float,
                  insecure: bool, print_jwks: bool, as_json: bool, junit_file: Path | None) -> None:
    """Check a running CDS Hooks service against the spec's service requirements.

    Reports every requirement by id (pass, fail, warn, n/a) with the request sent and an excerpt of the
    answer. Exit status 0 when nothing failed, 1 otherwise, 2 for a usage error.
    """
    from cdshooks.conformance_kit import reporters
    from cdshooks.conformance_kit.runner import Options, public_jwks, run
    from cdshooks.replay import TokenSigner

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise click.BadParameter("must be the service's base URL, e.g. https://cds.example.org", param_hint="BASE_URL")
    signer = None
    if jwt_key is not None:
        if not (jwt_issuer and jwt_kid):
            raise click.UsageError("--jwt-key needs --jwt-issuer and --jwt-kid")
        signer = TokenSigner(jwt_key.read_bytes(), jwt_issuer, jwt_kid, jwt_alg, audience, jku=jwt_jku)
        try:
            signer.token(base_url, "/cds-services")
        except Exception as exc:
            raise click.BadParameter(f"cannot sign {jwt_alg} with this key ({type(exc).__name__})",
                                     param_hint="--jwt-key") from None
    elif auth_required or jwt_jku or audience or print_jwks:
        raise click.UsageError("--auth-required, --jwt-jku, --audience and --print-jwks need --jwt-key")
    if print_jwks and signer is not None:
        click.echo(json.dumps(public_jwks(signer), indent=2))
        return
    try:
        report = run(Options(base_url.rstrip("/"), spec, signer, auth_required, fixtures, origin, fhir_stub_host,
                             fhir_stub_port, None, timeout, max_seconds, not insecure))
    except OSError as exc:  # the stub could not listen
        click.echo(f"error: the FHIR stub cannot listen on {fhir_stub_host}:{fhir_stub_port} ({exc})", err=True)
        sys.exit(2)
    click.echo(reporters.json_text(report) if as_json else reporters.text(report))
    if junit_file is not None:
        junit_file.write_bytes(reporters.junit(report))
        click.echo(f"wrote {junit_file}", err=True)
    sys.exit(1 if report.failed else 0)
