"""The README's Quickstart shows a card on its first call to the service (dates built for a fixed day here)."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdshooks import create_app
from cdshooks.cli import main
from cdshooks.demo import EXPECTED_TOPIC, ORDER_ID
from cdshooks.settings import Settings
from tests.conftest import REPO

DAY = "2026-03-17"
NOON = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)  # the service's pinned clock: the day the request is built for


def quickstart_commands() -> list[str]:
    """The shell commands of the README's Quickstart, continuation lines joined, in order."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            commands.append(re.sub(r"\s+#.*$", "", command).strip())
    return [c for c in commands if c]


def calls_the_service(command: str) -> bool:
    return "127.0.0.1:8080" in command or command.startswith(".venv/bin/cdshooks demo")


def test_the_first_call_to_the_service_is_the_demo() -> None:
    calls = [c for c in quickstart_commands() if calls_the_service(c)]
    assert calls[0] == ".venv/bin/cdshooks demo", calls
    curl = next(c for c in calls if "curl" in c and "--data @-" in c)
    assert curl.startswith(".venv/bin/cdshooks demo --request | curl ")


def test_the_quickstart_curl_request_answers_a_card(tmp_path: Path) -> None:
    """The README's curl pipeline, run against the app: `cdshooks demo --request` (built for DAY) posted to the
    README's URL on an app whose clock is pinned to that day."""
    curl = next(c for c in quickstart_commands() if "--data @-" in c)
    producer, consumer = (shlex.split(part) for part in curl.split("|")[:2])
    assert producer[:3] == [".venv/bin/cdshooks", "demo", "--request"]
    url = next(arg for arg in consumer if arg.startswith("http://"))
    path = url.removeprefix("http://127.0.0.1:8080")
    printed = CliRunner().invoke(main, [*producer[1:], "--today", DAY])
    assert printed.exit_code == 0, printed.output
    request = json.loads(printed.stdout)
    assert request["prefetch"]["patient"]["name"][0]["text"]  # a name for the EHR's (or sandbox's) banner
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/q.db", allow_unauthenticated=True),
                     clock=lambda: NOON)
    try:
        response = app.test_client().post(path, json=request)
    finally:
        app.extensions["cdshooks"].close()
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    cards = response.get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == [EXPECTED_TOPIC]
    assert cards[0]["indicator"] == "warning" and cards[0]["suggestions"]


@pytest.mark.parametrize("days_later", [0, 365])
def test_the_demo_request_is_built_for_the_given_day(days_later: int) -> None:
    """The same card on any day: dates move with --today (no fixture rot)."""
    from datetime import timedelta

    from cdshooks.demo import demo_request

    day = NOON.date() + timedelta(days=days_later)
    request = demo_request(day)
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    assert order["id"] == ORDER_ID and order["authoredOn"] == day.isoformat()
    pain = request["prefetch"]["conditions"]["entry"][1]["resource"]
    assert pain["onsetDateTime"] == (day - timedelta(days=10)).isoformat()
