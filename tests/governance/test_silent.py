"""Silent mode per topic: evaluated and recorded as "would have shown", never sent; by setting or card file;
an unknown topic in the setting stops start-up; the report shows silent topics beside the live ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cdshooks.analytics.report import build_report, format_text
from cdshooks.catalog.loader import catalog_dir
from cdshooks.cli import main
from cdshooks.settings import SettingsError
from tests.governance.conftest import NO_BMA, NOT_APPROPRIATE, AppFactory, call, card_rows, topics

TOPIC = "acr-usually-not-appropriate"


def test_a_silent_topic_is_evaluated_and_recorded_but_never_sent(gov_app: AppFactory) -> None:
    app = gov_app(silent_topics=(TOPIC,))
    body = call(app, NOT_APPROPRIATE)
    assert TOPIC not in topics(body)
    assert "not-appropriate" in str(body["systemActions"])  # the rating still goes: silence is for cards
    rows = {r.topic: r.delivery for r in card_rows(app)}
    assert rows[TOPIC] == "silent"
    report = build_report(app.extensions["cdshooks"].store.engine)
    assert TOPIC not in {t.topic for t in report.topics}  # the live statistics count shown cards only
    row = next(r for r in report.delivery if r.topic == TOPIC)
    assert (row.mode, row.shown, row.silent, row.patients_silent) == ("silent", 0, 1, 1)


def test_live_and_silent_side_by_side_in_the_report(gov_app: AppFactory) -> None:
    live = gov_app()
    call(live, NOT_APPROPRIATE)
    call(live, NO_BMA)
    silent = gov_app(silent_topics=(TOPIC,))  # the same store: the topic piloted after being live
    call(silent, NOT_APPROPRIATE)
    card_rows(live), card_rows(silent)  # both writers done
    rows = {r.topic: r for r in build_report(live.extensions["cdshooks"].store.engine).delivery}
    assert (rows[TOPIC].mode, rows[TOPIC].shown, rows[TOPIC].silent) == ("live+silent", 1, 1)
    assert (rows["bone-mets-no-bma"].mode, rows["bone-mets-no-bma"].shown) == ("live", 1)
    text = format_text(build_report(live.extensions["cdshooks"].store.engine))
    assert "delivery by topic" in text and "live+silent" in text


def test_a_card_file_can_put_its_topic_in_silent_mode(gov_app: AppFactory, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "cards").mkdir(parents=True)
    card = yaml.safe_load((catalog_dir() / "bone-mets-no-bma.yaml").read_text(encoding="utf-8"))
    (site / "cards" / "bone-mets-no-bma.yaml").write_text(yaml.safe_dump(card | {"mode": "silent"}), encoding="utf-8")
    app = gov_app(knowledge_dir=str(site))
    assert "bone-mets-no-bma" not in topics(call(app, NO_BMA))
    assert {r.topic: r.delivery for r in card_rows(app)}["bone-mets-no-bma"] == "silent"
    (site / "cards" / "bone-mets-no-bma.yaml").write_text(yaml.safe_dump(card | {"mode": "quiet"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bone-mets-no-bma.yaml: mode"):
        gov_app(knowledge_dir=str(site))


def test_an_unknown_silent_topic_stops_start_up(gov_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="CDSHOOKS_SILENT_TOPICS: unknown topic 'acr-usualy-not-appropriate'"):
        gov_app(silent_topics=("acr-usualy-not-appropriate",))
    monkeypatch.setenv("CDSHOOKS_SILENT_TOPICS", "acr-usualy-not-appropriate")
    result = CliRunner().invoke(main, ["serve", "--allow-unauthenticated"])
    assert result.exit_code == 2 and "CDSHOOKS_SILENT_TOPICS: unknown topic" in result.output
