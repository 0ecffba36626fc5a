"""Overrides grouped by the CDS Hooks 3.0 ballot's non-adherence categories (issue 13): every override reason of
the catalog names its category, and the analytics count overrides per category."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from cdshooks.analytics.categories import CATEGORY_DISPLAY, UNMAPPED, categories_html, category_counts
from cdshooks.analytics.html import render_html
from cdshooks.catalog.loader import OverrideCategory, load_catalog
from tests.store.analytics_data import report_for

CATALOG = load_catalog()


def test_every_override_reason_names_one_of_the_six_ballot_categories() -> None:
    assert set(CATEGORY_DISPLAY) == set(get_args(OverrideCategory))
    reasons = [r for spec in CATALOG.values() for r in spec.override_reasons]
    assert reasons and all(r.category in CATEGORY_DISPLAY for r in reasons)


def test_overrides_are_counted_per_category_most_first() -> None:
    overrides = [("acr-usually-not-appropriate", "problem-solving"),  # the patient is outside the card's point
                 ("acr-usually-not-appropriate", "contrast-contraindicated"),
                 ("renal-impairment-contrast", "contrast-risk-accepted"),
                 ("bone-mets-no-bma", "declined"),
                 ("bone-mets-no-bma", "not-a-code-of-ours"), ("bone-mets-no-bma", None)]
    assert category_counts(overrides, CATALOG) == {
        "recipient-concerns-outcomes": 2, UNMAPPED: 2, "cds-not-applicable": 1, "does-not-align-preferences": 1}
    page = categories_html(category_counts(overrides, CATALOG))
    assert "Recipient has concerns about outcomes" in page and "<td>2</td><td>33%</td>" in page


def test_the_analytics_page_shows_the_categories(tmp_path: Path) -> None:
    report = report_for(tmp_path, 1)
    assert sum(report.override_categories.values()) == sum(t.overridden for t in report.topics) > 0
    assert UNMAPPED not in report.override_categories  # the seeded history uses the catalog's own reasons
    assert "Overrides by non-adherence category" in render_html(report)
