"""`cdshooks` command line: serve | replay | check-config."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from cdshooks.settings import Settings, SettingsError, env_name, redact_url


def _settings_or_exit(**overrides: Any) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    return settings.with_overrides(**overrides) if overrides else settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cdshooks-bonemets")
def main() -> None:
    """CDS Hooks 2.0 service for imaging decisions in breast cancer with bone metastases."""


@main.command()
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1 or $HOST")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8080")),
              show_default="8080 or $PORT")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Threads per worker (hook calls wait on the EHR's FHIR server).")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Development mode: accept calls without a client JWT.")
def serve(host: str, port: int, workers: int, threads: int, allow_unauthenticated: bool) -> None:
    """Run the service under gunicorn."""
    if allow_unauthenticated:
        os.environ[env_name("allow_unauthenticated")] = "1"
    settings = _settings_or_exit()
    if settings.allow_unauthenticated:
        click.echo("WARNING: development mode, calls are accepted without client authentication.", err=True)
    from cdshooks.server import run

    click.echo(f"CDS Hooks discovery: http://{_url_host(host)}:{port}/cds-services", err=True)
    run(host=host, port=port, workers=workers, threads=threads)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@main.command("check-config")
def check_config() -> None:
    """Print the effective settings (secrets redacted) and check them."""
    settings = _settings_or_exit()
    for name, value, secret in settings.described():
        shown = value
        if secret and name.endswith("DATABASE_URL"):
            shown = redact_url(value)
        elif secret:
            shown = "***" if value else "(unset)"
        click.echo(f"{name}={shown}")
    problems = []
    warnings = []
    if "*" in settings.cors_origins:
        warnings.append("CORS allows any origin (development default)")
    if "*" in settings.fhir_allowlist:
        warnings.append("any fhirServer may be called (development only)")
    if settings.allow_unauthenticated:
        warnings.append("client authentication is off (development mode)")
    if not settings.pseudonym_key:
        warnings.append("no CDSHOOKS_PSEUDONYM_KEY: patient keys do not correlate across restarts")
    if settings.knowledge_dir and not Path(settings.knowledge_dir).is_dir():
        problems.append(f"CDSHOOKS_KNOWLEDGE_DIR {settings.knowledge_dir!r} is not a directory")
    from cdshooks.store.store import make_engine

    try:
        engine = make_engine(settings.database_url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        problems.append(f"database not reachable ({type(exc).__name__})")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for item in problems:
        click.echo(f"error: {item}", err=True)
    if problems:
        sys.exit(1)
    click.echo("configuration ok", err=True)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--url", help="Base URL of a running service (default: in-process).")
@click.option("--as-of", "as_of", help="Evaluation time for in-process replay (ISO 8601); default: the "
              "fixture's own asOf, else now.")
@click.option("--json", "as_json", is_flag=True, help="Print raw JSON responses.")
def replay(paths: tuple[Path, ...], url: str | None, as_of: str | None, as_json: bool) -> None:
    """Send fixture requests and print the cards.

    Exit status 0 when every response follows the CDS Hooks spec and meets the fixture's expectations,
    1 otherwise.
    """
    from cdshooks import replay as replaying

    pinned = None
    if as_of:
        if url:
            raise click.UsageError("--as-of applies to in-process replay; with --url fixture dates are shifted "
                                   "to today instead")
        try:
            pinned = replaying.parse_as_of(as_of)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--as-of") from None
    fixtures = replaying.collect(paths)
    if not fixtures:
        raise click.UsageError("no fixture (*.json) found under the given paths")
    sender = replaying.RemoteSender(url) if url else replaying.InProcessSender()
    failures = 0
    for path in fixtures:
        try:
            fixture = replaying.load_fixture(path)
        except ValueError as exc:
            click.echo(f"{path}: not a fixture ({exc})")
            failures += 1
            continue
        outcome = sender.send(fixture, pinned)
        if as_json:
            click.echo(json.dumps({"fixture": str(path), "status": outcome.status, "response": outcome.body},
                                  indent=2))
        else:
            click.echo(replaying.describe(path, fixture, outcome))
        failures += bool(outcome.problems or outcome.mismatches)
    sender.close()
    click.echo(f"{len(fixtures)} fixtures, {failures} with problems")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
