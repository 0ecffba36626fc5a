"""`cdshooks` command line: serve | demo | replay | check-config | check-service | db | report | knowledge |
simulate."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import click

from cdshooks.settings import Settings, SettingsError, env_name, is_loopback_host, redact_url, unknown_names

if TYPE_CHECKING:
    from sqlalchemy import Engine

NO_CLIENTS = (
    "no trusted clients: set CDSHOOKS_CLIENTS_FILE to a clients file (see README, Security), or, for local "
    "development only, pass --allow-unauthenticated (CDSHOOKS_ALLOW_UNAUTHENTICATED=1)"
)


def _settings_or_exit(**overrides: Any) -> Settings:
    for line in unknown_names():
        click.echo(f"warning: {line}", err=True)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    return settings.with_overrides(**overrides) if overrides else settings


def _fail(message: str, status: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _engine_or_exit(settings: Settings, *, current: bool = True) -> Engine:
    """An engine on CDSHOOKS_DATABASE_URL that answers (and, with `current`, on this version's schema; SQLite
    upgrades itself). A database that cannot be used is one line saying what to do, never a traceback."""
    from cdshooks.store.dbcheck import DatabaseProblem, open_engine

    try:
        return open_engine(settings.database_url, current=current)
    except DatabaseProblem as exc:
        _fail(str(exc))


def _knowledge_or_exit(settings: Settings) -> None:
    """Load the knowledge set (knowledge, cards, version, silent topics) with its site override exactly as a worker
    will (cdshooks.governance.knowledge_set), so a bad one stops here with one line, not in every gunicorn worker."""
    problem = _knowledge_problem(settings)
    if problem:
        _fail(problem)


def _knowledge_problem(settings: Settings) -> str | None:
    from cdshooks.governance.knowledge_set import load_knowledge_set
    from cdshooks.knowledge_overrides import ignored_entries

    ignored = ignored_entries(settings.knowledge_dir) if settings.knowledge_dir else []
    if ignored:
        return f"knowledge override: {ignored[0]}"
    try:  # what create_app does with the knowledge, step for step
        loaded = load_knowledge_set(settings.knowledge_dir or None)
        loaded.silent(settings.silent_topics)
    except Exception as exc:  # KnowledgeError / CatalogError name the file and entry; anything else is one line too
        if not settings.knowledge_dir:
            return f"the shipped knowledge does not load: {exc}"
        return f"knowledge override in CDSHOOKS_KNOWLEDGE_DIR={settings.knowledge_dir!r} rejected: {exc}"
    return None


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
    _engine_or_exit(settings).dispose()
    _knowledge_or_exit(settings)  # the knowledge, cards and any site override, loaded as every worker will
    from cdshooks.ports import bind_problem, suggest_port

    problem = bind_problem(host, port)
    if problem == "in use":
        other = suggest_port(host, port)
        _fail(f"port {port} is in use; try `make run PORT={other}` or `cdshooks serve --port {other}`")
    if problem:
        _fail(f"cannot listen on {host}:{port}: {problem}")
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
    knowledge = _knowledge_problem(settings)
    if knowledge:
        problems.append(knowledge)
    from cdshooks.store.dbcheck import DatabaseProblem, open_engine

    try:
        open_engine(settings.database_url, current=False).dispose()
    except DatabaseProblem as exc:
        problems.append(str(exc))
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
    answers: list[dict[str, Any]] = []
    try:
        for path in fixtures:
            try:
                fixture = replaying.load_fixture(path)
            except ValueError as exc:
                if as_json:
                    answers.append({"fixture": str(path), "error": f"not a fixture ({exc})"})
                else:
                    click.echo(f"{path}: not a fixture ({exc})")
                failures += 1
                continue
            outcome = sender.send(fixture, pinned)
            if as_json:
                answers.append(outcome.to_json(path))
            else:
                click.echo(replaying.describe(path, fixture, outcome))
            failures += outcome.failed
    except replaying.ServiceUnreachable as exc:
        _fail(str(exc), status=1)
    finally:
        sender.close()
    if as_json:  # one JSON document on stdout; the tally goes to stderr
        click.echo(json.dumps(answers, indent=2))
    click.echo(f"{len(fixtures)} fixtures, {failures} with problems", err=as_json)
    sys.exit(1 if failures else 0)


@main.command()
@click.option("--url", default=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '8080')}",
              show_default="http://127.0.0.1:8080 ($PORT)", help="Base URL of the running service (`make run`).")
@click.option("--request", "print_request", is_flag=True,
              help="Only print the request JSON (for curl --data @-), do not send it.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Build the dates relative to this day instead of today (YYYY-MM-DD).")
def demo(url: str, print_request: bool, today: datetime | None) -> None:
    """Send one order-select request that shows a card: an MRI chest/abdomen/pelvis selected for a named
    patient on neoadjuvant chemotherapy with new bone pain, dates relative to today."""
    from cdshooks import demo as demoing
    from cdshooks import replay as replaying

    request = demoing.demo_request((today or datetime.now()).date())
    if print_request:
        click.echo(json.dumps(request, indent=2))
        return
    fixture = replaying.Fixture(request, demoing.SERVICE_ID, None, demoing.DESCRIPTION,
                                {"topics": [demoing.EXPECTED_TOPIC]})
    sender = replaying.RemoteSender(url)
    try:
        outcome = sender.send(fixture, None)
    except replaying.ServiceUnreachable as exc:
        _fail(f"{exc}", status=1)
    finally:
        sender.close()
    click.echo(replaying.describe(Path("demo"), fixture, outcome))
    sys.exit(1 if outcome.failed else 0)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the database at CDSHOOKS_DATABASE_URL to the schema this version needs."""
    from sqlalchemy.exc import SQLAlchemyError

    from cdshooks.store.dbcheck import describe
    from cdshooks.store.schema import current_revision, upgrade

    settings = _settings_or_exit()
    engine = _engine_or_exit(settings, current=False)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        _fail(describe(settings.database_url, exc))
    finally:
        engine.dispose()
    click.echo(f"schema {before or 'empty'} -> {after} ({redact_url(settings.database_url)})")


@db.command("current")
def db_current() -> None:
    """Print the database's schema revision and the one this version needs."""
    from sqlalchemy.exc import SQLAlchemyError

    from cdshooks.store.dbcheck import describe
    from cdshooks.store.schema import current_revision, head_revision

    settings = _settings_or_exit()
    engine = _engine_or_exit(settings, current=False)
    try:
        current, head = current_revision(engine), head_revision()
    except (SQLAlchemyError, OSError) as exc:
        _fail(describe(settings.database_url, exc))
    finally:
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

    try:
        moment = parse_since(since)
    except ValueError:
        raise click.BadParameter("must be an ISO 8601 date or date-time", param_hint="--since") from None
    settings = _settings_or_exit()
    engine = _engine_or_exit(settings)
    from cdshooks.catalog.check import load_cards

    try:
        result = build_report(engine, since=moment, threshold=threshold, min_shown=min_shown,
                              catalog=load_cards(settings.knowledge_dir or None).catalog)
    finally:
        engine.dispose()
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else format_text(result))
    if html_file is not None:
        from cdshooks.analytics.html import write_html

        try:
            write_html(result, html_file)
        except OSError as exc:
            _fail(f"cannot write {html_file} ({exc.strerror or type(exc).__name__}): name a file in a writable "
                  "folder, e.g. --html /tmp/analytics.html")
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
