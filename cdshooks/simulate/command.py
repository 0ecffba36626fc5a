"""`cdshooks simulate COHORT... [--as-of DATE] [--knowledge-dir DIR] [--compare-to DIR] [--html FILE]`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

SHIPPED = "shipped"


@click.command("simulate")
@click.argument("cohort", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as-of", "as_of", help="Evaluation time (ISO 8601); default: the export manifest's transactionTime, "
              "else now.")
@click.option("--knowledge-dir", type=click.Path(exists=True, file_okay=False),
              help="Knowledge override directory to simulate (default: CDSHOOKS_KNOWLEDGE_DIR, else the shipped "
                   "knowledge).")
@click.option("--compare-to", help=f"Also run with this knowledge directory ('{SHIPPED}': the shipped knowledge) "
              "and show what the simulated knowledge adds and removes, per topic.")
@click.option("--draft", "drafts", multiple=True, metavar="CLASS",
              help="Procedure class drafted for the order hooks, one call per class (repeatable; default: "
                   "BONE_SCAN_WB and CT_CAP_IV).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page (table and chart).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def simulate_command(cohort: tuple[Path, ...], as_of: str | None, knowledge_dir: str | None, compare_to: str | None,
                     drafts: tuple[str, ...], html_file: Path | None, as_json: bool) -> None:
    """Run every hook over a cohort of patient records (FHIR Bundles or bulk-export ndjson) in process, without a
    server, and report per topic how many patients would get the card, per hook and per variant, with examples.

    Exit status 0, 1 when a simulated call failed, 2 on a bad cohort, knowledge or setting."""
    from cdshooks import logs
    from cdshooks.catalog.loader import CatalogError
    from cdshooks.clinical.knowledge import KnowledgeError
    from cdshooks.governance.knowledge_set import load_knowledge_set
    from cdshooks.replay import parse_as_of
    from cdshooks.settings import Settings, SettingsError
    from cdshooks.simulate.cohort import CohortError, load_cohort
    from cdshooks.simulate.compare import compare
    from cdshooks.simulate.drafts import DEFAULT_DRAFTS
    from cdshooks.simulate.render import format_text, render_html
    from cdshooks.simulate.run import simulate

    def fail(message: str) -> None:
        click.echo(f"error: {message}", err=True)
        sys.exit(2)

    try:
        settings = Settings.from_env()
        logs.configure("WARNING")
        population = load_cohort(cohort)
        if not population.patients:
            fail("no patient found in the cohort (FHIR Bundles *.json or bulk-export *.ndjson)")
        moment = parse_as_of(as_of) if as_of else population.as_of or parse_as_of(_now())
        simulated = load_knowledge_set(knowledge_dir or settings.knowledge_dir or None)
        chosen = drafts or DEFAULT_DRAFTS
        result = simulate(population, moment, simulated, settings, chosen)
        comparison = None
        if compare_to:
            baseline_dir = None if compare_to == SHIPPED else compare_to
            if baseline_dir is not None and not Path(baseline_dir).is_dir():
                fail(f"--compare-to {compare_to!r}: not a directory (or '{SHIPPED}')")
            baseline = simulate(population, moment, load_knowledge_set(baseline_dir), settings, chosen)
            comparison = compare(result, baseline)
    except (CohortError, KnowledgeError, CatalogError, SettingsError, ValueError) as exc:
        fail(str(exc))
    except KeyError as exc:
        fail(f"--draft {exc.args[0] if exc.args else ''}: not an orderable procedure class of the knowledge")
    if as_json:
        click.echo(json.dumps(_as_json(result, comparison), indent=2))
    else:
        click.echo(format_text(result, comparison))
    if html_file is not None:
        html_file.write_text(render_html(result, comparison, ", ".join(str(p) for p in cohort)), encoding="utf-8")
        click.echo(f"wrote {html_file}", err=True)
    sys.exit(1 if result.errors else 0)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _as_json(result: Any, comparison: Any) -> dict[str, Any]:
    body = asdict(result)
    body.pop("hits", None)
    body |= {"patients_per_second": round(result.patients_per_second, 1),
             "calls_per_second": round(result.calls_per_second, 1)}
    if comparison is not None:
        body["comparison"] = asdict(comparison)
    return body
