"""`cdshooks` command line: serve | replay | check-config | check-service | report | knowledge | simulate."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from cdshooks.settings import Settings, SettingsError, env_name, is_loopback_host, redact_url

NO_CLIENTS = (
    "no trusted clients: set CDSHOOKS_CLIENTS_FILE to a clients file (see README, Security), or, for local "
    "development only, pass --allow-unauthenticated (CDSHOOKS_ALLOW_UNAUTHENTICATED=1)"
)


def _settings_or_exit(**overrides: Any) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    return settings.with_overrides(**overrides) if overrides else settings


def _clients_or_exit(settings: Settings) -> int:
    """Number of registered clients; a bad clients file prints the problem and exits 2."""
    if not settings.clients_file:
        return 0
    from cdshooks.auth.clients import ClientsError, load_clients

    try:
        return len(load_clients(settings.clients_file))
    except ClientsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


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
    clients = _clients_or_exit(settings)
    if settings.allow_unauthenticated:
        click.echo("WARNING: development mode: calls are accepted without client authentication and fhirServer "
                   "is limited to CDSHOOKS_FHIR_ALLOWLIST. Never expose this to a network.", err=True)
    elif not clients:
        click.echo(f"error: {NO_CLIENTS}", err=True)
        sys.exit(2)
    else:
        click.echo(f"{clients} trusted client(s); JWT audience base {settings.public_base_url}", err=True)
    _knowledge_or_exit(settings)
    _schema_or_exit(settings)
    from cdshooks.server import run

    click.echo(f"CDS Hooks discovery: http://{_url_host(host)}:{port}/cds-services", err=True)
    run(host=host, port=port, workers=workers, threads=threads)


def _knowledge_or_exit(settings: Settings) -> None:
    """Start only with knowledge and cards that load and agree with the rules (the message names file and key)."""
    from cdshooks.catalog.check import load_cards
    from cdshooks.catalog.loader import CatalogError
    from cdshooks.clinical.knowledge import KnowledgeError, load_knowledge
    from cdshooks.clinical.topics import registry
    from cdshooks.governance.delivery import silent_topics
    from cdshooks.governance.knowledge_version import read_version

    try:
        load_knowledge(settings.knowledge_dir or None)
        cards = load_cards(settings.knowledge_dir or None)
        read_version(settings.knowledge_dir or None)
        silent_topics(settings.silent_topics, cards.catalog, registry().topics)
    except (KnowledgeError, CatalogError, SettingsError) as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


def _schema_or_exit(settings: Settings) -> None:
    """Start only on a current schema (SQLite upgrades itself; other databases say what to run)."""
    from cdshooks.store.schema import SchemaError, ensure_current
    from cdshooks.store.store import make_engine

    engine = make_engine(settings.database_url)
    try:
        ensure_current(engine)
    except SchemaError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        click.echo(f"error: database not reachable ({type(exc).__name__}): {redact_url(settings.database_url)}",
                   err=True)
        sys.exit(2)
    finally:
        engine.dispose()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@main.command("check-config")
def check_config() -> None:
    """Print the effective settings (secrets redacted) and check them."""
    settings = _settings_or_exit()
    for name, value, secret in settings.described():
        shown = value
        if secret and name.endswith("_URL"):
            shown = redact_url(value) if value else "(unset)"
        elif secret:
            shown = "***" if value else "(unset)"
        click.echo(f"{name}={shown}")
    problems = []
    warnings = []
    if "*" in settings.cors_origins:
        warnings.append("CORS allows any origin (development default)")
    if "*" in settings.fhir_allowlist:
        warnings.append("any fhirServer may be called (development only)")
    clients = _clients_or_exit(settings)
    if settings.allow_unauthenticated:
        warnings.append("client authentication is off (development mode)")
    elif not clients:
        warnings.append(f"`cdshooks serve` would refuse to start: {NO_CLIENTS}")
    else:
        click.echo(f"clients: {clients} trusted client(s) in {settings.clients_file}", err=True)
        if is_loopback_host(urlsplit(settings.public_base_url).hostname):
            warnings.append(f"CDSHOOKS_PUBLIC_BASE_URL is {settings.public_base_url}: JWT aud must name that URL")
    if not settings.pseudonym_key:
        warnings.append("no CDSHOOKS_PSEUDONYM_KEY: patient keys do not correlate across restarts")
    if settings.repeat_window_days and settings.database_url.startswith("sqlite:"):
        warnings.append("CDSHOOKS_REPEAT_WINDOW_DAYS with a SQLite store: each replica knows only its own overrides "
                        "(share one PostgreSQL store between replicas)")
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
    if settings.redis_url:
        import redis

        try:
            connection = redis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            connection.ping()
            connection.close()
        except redis.RedisError as exc:
            problems.append(f"redis not reachable ({type(exc).__name__})")
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
@click.option("--jwt-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --url: PEM private key to sign a client JWT for every call (the service's clients file "
                   "must register its public key).")
@click.option("--jwt-issuer", help="With --jwt-key: the iss claim (a registered client issuer).")
@click.option("--jwt-kid", help="With --jwt-key: the kid header.")
@click.option("--jwt-alg", default="ES384", show_default=True,
              type=click.Choice(["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"]))
@click.option("--audience", help="With --jwt-key: the service's public base URL, when it differs from --url.")
def replay(paths: tuple[Path, ...], url: str | None, as_of: str | None, as_json: bool, jwt_key: Path | None,
           jwt_issuer: str | None, jwt_kid: str | None, jwt_alg: str, audience: str | None) -> None:
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
    signer = None
    if jwt_key is not None:
        if not (url and jwt_issuer and jwt_kid):
            raise click.UsageError("--jwt-key needs --url, --jwt-issuer and --jwt-kid")
        signer = replaying.TokenSigner(jwt_key.read_bytes(), jwt_issuer, jwt_kid, jwt_alg, audience)
    if url:
        sender: replaying.RemoteSender | replaying.InProcessSender = replaying.RemoteSender(url, signer=signer)
    else:  # in-process: no client to authenticate (InProcessSender turns authentication off itself)
        sender = replaying.InProcessSender()
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


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the database at CDSHOOKS_DATABASE_URL to the schema this version needs."""
    from cdshooks.store.schema import current_revision, upgrade
    from cdshooks.store.store import make_engine

    settings = _settings_or_exit()
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine, revision)
    click.echo(f"schema {before or 'empty'} -> {current_revision(engine)} ({redact_url(settings.database_url)})")
    engine.dispose()


@db.command("current")
def db_current() -> None:
    """Print the database's schema revision and the one this version needs."""
    from cdshooks.store.schema import current_revision, head_revision
    from cdshooks.store.store import make_engine

    engine = make_engine(_settings_or_exit().database_url)
    current, head = current_revision(engine), head_revision()
    engine.dispose()
    click.echo(f"database {current or 'empty'}, service needs {head}")
    sys.exit(0 if current == head else 1)


@main.command()
@click.option("--since", help="Only cards issued since this date (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page with a chart of acceptance per topic over time.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Override rate from which a topic is flagged as an alert-fatigue risk.")
@click.option("--min-shown", type=click.IntRange(1), default=10, show_default=True,
              help="Cards a topic must have been shown before it can be flagged.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the per-orderer and per-site counts and rates as CSV.")
def report(since: str | None, as_json: bool, html_file: Path | None, threshold: float, min_shown: int,
           csv_file: Path | None) -> None:
    """Card analytics: shown, accepted, overridden, reasons, time to feedback, alert-fatigue risks."""
    from cdshooks.analytics.report import build_report, format_text
    from cdshooks.http.analytics import parse_since
    from cdshooks.store.schema import SchemaError, ensure_current
    from cdshooks.store.store import make_engine

    try:
        moment = parse_since(since)
    except ValueError:
        raise click.BadParameter("must be an ISO 8601 date or date-time", param_hint="--since") from None
    engine = make_engine(_settings_or_exit().database_url)
    try:
        ensure_current(engine)
    except SchemaError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    result = build_report(engine, since=moment, threshold=threshold, min_shown=min_shown)
    engine.dispose()
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else format_text(result))
    if html_file is not None:
        from cdshooks.analytics.html import write_html

        write_html(result, html_file)
        click.echo(f"wrote {html_file}", err=True)
    if csv_file is not None:
        from cdshooks.analytics.by_orderer import write_csv

        write_csv(result.by_orderer, csv_file)
        click.echo(f"wrote {csv_file}", err=True)


@main.command("knowledge")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write the knowledge book as one self-contained HTML page ('-': standard output).")
@click.option("--markdown", "markdown_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write the knowledge book as Markdown ('-': standard output).")
@click.option("--version", "show_version", is_flag=True,
              help="Print the knowledge version and content hash every card and rating carries, and exit.")
def knowledge_book(html_file: Path | None, markdown_file: Path | None, show_version: bool) -> None:
    """Render the clinical knowledge (shipped, or overridden by CDSHOOKS_KNOWLEDGE_DIR) as a book a clinician
    can review and sign: card topics, rules, parameters, ACR table, value sets. SOURCE_DATE_EPOCH, when set,
    fixes the date printed in it."""
    from cdshooks.knowledge_book import BookError, write_book

    if show_version:
        _print_knowledge_version(_settings_or_exit().knowledge_dir or None)
        return
    if html_file is None and markdown_file is None:
        raise click.UsageError("give --html FILE and/or --markdown FILE (or --version)")
    if str(html_file) == "-" and str(markdown_file) == "-":
        raise click.UsageError("only one of --html and --markdown can write to standard output")
    try:
        write_book(_settings_or_exit().knowledge_dir, html_file=html_file, markdown_file=markdown_file)
    except BookError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _print_knowledge_version(knowledge_dir: str | None) -> None:
    """`knowledge <version>` and `sha256 <hash>` (what every card's `org.bonemets-cds.knowledge` extension says)."""
    from cdshooks.catalog.loader import CatalogError
    from cdshooks.clinical.knowledge import KnowledgeError
    from cdshooks.governance.knowledge_version import knowledge_version

    try:
        version = knowledge_version(knowledge_dir)
    except (KnowledgeError, CatalogError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"knowledge {version.version}\nsha256 {version.hash}")
    if knowledge_dir:
        click.echo(f"override {knowledge_dir}")


from cdshooks.conformance_kit.command import check_service  # noqa: E402 - registered after the group exists

main.add_command(check_service)

from cdshooks.simulate.command import simulate_command  # noqa: E402 - registered after the group exists

main.add_command(simulate_command)


if __name__ == "__main__":  # pragma: no cover
    main()
