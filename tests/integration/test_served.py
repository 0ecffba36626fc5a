"""The service as deployed: `cdshooks serve` (gunicorn) over real HTTP on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import COMMAND_SECONDS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "fixtures" / "starter"
TIMEOUT = 30.0  # one call to the served app; generous for a loaded machine
SERVICE_IDS = {
    "bone-mets-imaging-order-select", "bone-mets-imaging-order-sign", "bone-mets-imaging-patient-view",
}


def test_discovery_lists_the_three_services(served_app: str) -> None:
    response = requests.get(f"{served_app}/cds-services", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    services = response.json()["services"]
    assert len(services) == 3
    assert {s["id"] for s in services} == SERVICE_IDS
    assert {s["hook"] for s in services} == {"order-select", "order-sign", "patient-view"}


def test_cors_preflight_allows_authorization_and_content_type(served_app: str) -> None:
    response = requests.options(
        f"{served_app}/cds-services/bone-mets-imaging-patient-view", timeout=TIMEOUT,
        headers={"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "Authorization, Content-Type"},
    )
    assert response.status_code == 200
    allowed = {h.strip().lower() for h in response.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in response.headers.get("Access-Control-Allow-Methods", "")
    assert response.headers.get("Access-Control-Allow-Origin") in {"*", "https://sandbox.cds-hooks.org"}


def test_minimal_patient_view_answers_no_cards(served_app: str) -> None:
    body = json.loads((STARTER / "patient-view-minimal.json").read_text())
    body.pop("extension")
    response = requests.post(f"{served_app}/cds-services/bone-mets-imaging-patient-view", json=body,
                             timeout=TIMEOUT)
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"cards": []}


def test_replay_and_demo_against_the_served_app(served_app: str) -> None:
    executable = Path(sys.executable).parent / "cdshooks"
    fixtures = sorted(STARTER.glob("*.json"))
    assert fixtures, f"no fixtures under {STARTER}"
    result = subprocess.run(
        [str(executable), "replay", str(STARTER), "--url", served_app],
        capture_output=True, text=True, timeout=COMMAND_SECONDS, cwd=REPO, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    assert f"{len(fixtures)} fixtures, 0 with problems" in result.stdout

    # the README's first call: `cdshooks demo` shows a card (dates built for today, served with today's clock)
    demo = subprocess.run([str(executable), "demo", "--url", served_app], capture_output=True, text=True,
                          timeout=COMMAND_SECONDS, cwd=REPO, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, f"stdout:\n{demo.stdout[-4000:]}\nstderr:\n{demo.stderr[-4000:]}"
    assert "[warning] acr-usually-not-appropriate:" in demo.stdout
