"""The simulation as text (the terminal) and as one self-contained HTML page (table and chart, no script)."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from cdshooks.analytics.svg import stacked_bars
from cdshooks.simulate.compare import Comparison
from cdshooks.simulate.run import BASE, HOOKS, Simulation

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;text-align:left}th{background:#f3f3f3}td.n{text-align:right}tr.silent{background:#fff8e1}
.small{font-size:12px;color:#555}.added{color:#2e7d32}.removed{color:#c62828}"""


def throughput(sim: Simulation) -> str:
    return (f"{sim.hook_calls} hook calls in {sim.seconds:.2f} s: {sim.patients_per_second:.0f} patients/s "
            f"({sim.calls_per_second:.0f} hook calls/s)")


def format_text(sim: Simulation, comparison: Comparison | None = None) -> str:
    lines = [f"simulated {sim.patients} patients as of {sim.as_of}, knowledge {sim.knowledge}"
             + (f" from {sim.knowledge_dir}" if sim.knowledge_dir else " (shipped)"),
             f"draft orders for order-select/order-sign: {', '.join(sim.drafts) or 'none'}",
             throughput(sim) + (f"; {sim.errors} calls failed" if sim.errors else ""), "",
             f"{'topic':46} {'mode':6} {'patients':>8} {'%':>6} {'p-view':>6} {'select':>6} {'sign':>6}  variants"]
    for t in sim.topics:
        variants = ", ".join(f"{v} {n}" for v, n in t.by_variant.items())
        lines.append(f"{t.topic[:46]:46} {t.mode:6} {t.patients:8d} {t.share * 100:5.1f}% "
                     + " ".join(f"{t.by_hook.get(h, 0):6d}" for h in HOOKS) + f"  {variants}")
    for procedure, counts in sim.ratings.items():
        lines.append(f"ratings at order-sign, {procedure}: "
                     + (", ".join(f"{k} {n}" for k, n in counts.items()) or "none"))
    if comparison is not None:
        lines += ["", f"compared with knowledge {comparison.baseline}"
                  + (f" from {comparison.baseline_dir}" if comparison.baseline_dir else " (shipped)")]
        if not comparison.changed:
            lines.append("  no topic changes for any patient")
        for c in comparison.changed:
            lines.append(f"  {c.topic}: {c.before} -> {c.after} patients (+{c.added} -{c.removed})"
                         + (f"; added e.g. {', '.join(c.added_examples)}" if c.added_examples else "")
                         + (f"; removed e.g. {', '.join(c.removed_examples)}" if c.removed_examples else ""))
    return "\n".join(lines)


def _cell(value: object, numeric: bool = False) -> str:
    return f'<td class="n">{html.escape(str(value))}</td>' if numeric else f"<td>{html.escape(str(value))}</td>"


def render_html(sim: Simulation, comparison: Comparison | None = None, cohort_label: str = "") -> str:
    chart = stacked_bars("Patients who would get each card", [
        (t.topic, (t.patients, 0) if t.mode == "live" else (0, t.patients)) for t in sim.topics],
        ("live", "silent (would have shown)"), colors=("#1565c0", "#ef6c00"))
    rows = []
    for t in sim.topics:
        examples = "<br>".join(
            f"<b>{html.escape(e.patient)}</b> {html.escape(e.hook)}{' / ' + html.escape(e.draft) if e.draft else ''}"
            f"{'' if e.variant == BASE else ' [' + html.escape(e.variant) + ']'}: {html.escape(e.summary)}"
            for e in t.examples)
        variants = "<br>".join(f"{html.escape(v)}: {n}" for v, n in t.by_variant.items())
        rows.append(f'<tr class="{t.mode}">' + _cell(t.topic) + _cell(t.indicator) + _cell(t.mode)
                    + _cell(t.patients, True) + _cell(f"{t.share * 100:.1f}%", True)
                    + "".join(_cell(t.by_hook.get(h, 0), True) for h in HOOKS)
                    + f"<td>{variants}</td><td class=\"small\">{examples}</td></tr>")
    ratings = "".join(f"<tr>{_cell(p)}" + "".join(_cell(c.get(k, 0), True) for k in
                                                   ("appropriate", "not-appropriate", "no-criteria-apply")) + "</tr>"
                      for p, c in sim.ratings.items())
    page = [f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CDS simulation: {sim.patients} patients</title>
<style>{STYLE}</style></head><body>
<h1>Simulation of every hook over a cohort</h1>
<p>{sim.patients} patients{(' from ' + html.escape(cohort_label)) if cohort_label else ''}, evaluated as of
{html.escape(sim.as_of)} with knowledge <b>{html.escape(sim.knowledge)}</b>
{('from ' + html.escape(sim.knowledge_dir)) if sim.knowledge_dir else '(shipped)'}. Order hooks ran with a drafted
{html.escape(', '.join(sim.drafts) or 'nothing')} per patient. {html.escape(throughput(sim))}.</p>
{chart}
<h2>Per topic</h2>
<table><tr><th>topic</th><th>indicator</th><th>mode</th><th>patients</th><th>% of cohort</th>
<th>patient-view</th><th>order-select</th><th>order-sign</th><th>variants (patients)</th><th>examples</th></tr>
{''.join(rows)}</table>
<h2>Ratings of the drafted orders (order-sign)</h2>
<table><tr><th>draft</th><th>appropriate</th><th>not appropriate</th><th>no criteria apply</th></tr>
{ratings}</table>"""]
    if comparison is not None:
        page.append(_comparison(comparison))
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    page.append(f'<p class="small">cdshooks simulate, {html.escape(generated)}</p></body></html>\n')
    return "\n".join(page)


def _comparison(comparison: Comparison) -> str:
    changed = comparison.changed
    chart = stacked_bars("Patients added and removed per topic", [(c.topic, (c.added, c.removed)) for c in changed],
                         ("added", "removed"), colors=("#2e7d32", "#c62828")) if changed else ""
    rows = "".join(
        "<tr>" + _cell(c.topic) + _cell(c.before, True) + _cell(c.after, True)
        + f'<td class="n added">+{c.added}</td><td class="n removed">-{c.removed}</td>'
        + _cell(", ".join(c.added_examples)) + _cell(", ".join(c.removed_examples)) + "</tr>"
        for c in comparison.changes)
    baseline = html.escape(comparison.baseline) + (f" from {html.escape(comparison.baseline_dir)}"
                                                   if comparison.baseline_dir else " (shipped)")
    return (f"<h2>Compared with knowledge {baseline}</h2><p>{len(changed)} topic(s) change for at least one patient."
            f"</p>{chart}<table><tr><th>topic</th><th>patients before</th><th>after</th><th>added</th><th>removed</th>"
            f"<th>added (e.g.)</th><th>removed (e.g.)</th></tr>{rows}</table>")
