"""Real servers on loopback: a sekmet-fhir FHIR R4 server (session) and `cdshooks serve` (per test)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 180.0  # an upper bound for a busy machine, not a speed target (ready is polled)
COMMAND_SECONDS = 180.0  # the same bound for one `cdshooks` command run to its end (db upgrade, replay, report)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no output)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_until(check: Callable[[], str | None], what: str, *, process: subprocess.Popen[bytes] | None = None,
               stderr: Path | None = None, seconds: float = STARTUP_SECONDS) -> None:
    """Poll `check` (None: done; else what it saw) until done. Event-driven and generous: it returns as soon as
    the condition holds, fails at once when `process` exits, and only gives up after `seconds` (a bound for a
    loaded 2-core machine, never a speed target). Every wait for a served process goes through here."""
    deadline = time.monotonic() + seconds
    last = "no attempt"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = _tail(stderr) if stderr else ""
            pytest.fail(f"{what}: exited with status {process.returncode} first:\n{output}")
        seen = check()
        if seen is None:
            return
        last = seen
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {seconds:.0f} s ({last})" + (f":\n{_tail(stderr)}" if stderr else ""))


def _wait_ready(process: subprocess.Popen[bytes], url: str, stderr: Path, what: str) -> None:
    """Poll `url` until it answers 200; fail (with the server's stderr) on exit or after STARTUP_SECONDS."""

    def answers() -> str | None:
        try:
            response = requests.get(url, timeout=5.0)
        except requests.RequestException as exc:
            return type(exc).__name__
        return None if response.status_code == 200 else f"HTTP {response.status_code}"

    wait_until(answers, f"{what} ready at {url}", process=process, stderr=stderr)


def _start(
    command: list[str], cwd: Path, env: dict[str, str], ready_url: str, what: str
) -> subprocess.Popen[bytes]:
    stdout = cwd / "stdout.log"
    stderr = cwd / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(process, ready_url, stderr, what)
    except BaseException:
        _stop(process)
        raise
    return process


@dataclass(frozen=True)
class Sekmet:
    base_url: str  # FHIR base, http://127.0.0.1:<port>/fhir
    workdir: Path


@pytest.fixture(scope="session")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sekmet]:
    executable = BIN / "sekmet"
    if not executable.exists():
        pytest.skip(f"sekmet-fhir is not installed ({executable} missing): pip install -e '.[test]'")
    workdir = tmp_path_factory.mktemp("sekmet")
    (workdir / "settings.yaml").write_text("simulator:\n  enabled: false\nlog_inbound: false\n")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
    env |= {"SEKMET_BASE_URL": base_url, "SEKMET_CONFIG": str(workdir / "settings.yaml"),
           "SEKMET_DB": str(workdir / "sekmet.db")}
    process = _start([str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)], workdir, env,
                     f"{base_url}/metadata", "sekmet-fhir")
    try:
        yield Sekmet(base_url, workdir)
    finally:
        _stop(process)


def load_bundle(base_url: str, bundle: dict[str, Any]) -> dict[str, Any]:
    """POST a transaction Bundle to the FHIR base; every entry must answer 2xx. Returns the response Bundle."""
    response = requests.post(
        base_url, json=bundle, timeout=30,
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
    )
    assert response.status_code == 200, f"transaction failed: HTTP {response.status_code}: {response.text[:2000]}"
    body: dict[str, Any] = response.json()
    entries = body.get("entry", [])
    assert len(entries) == len(bundle["entry"]), f"{len(entries)} response entries for {len(bundle['entry'])}"
    for i, entry in enumerate(entries):
        status = str(entry.get("response", {}).get("status", ""))
        assert status[:1] == "2", f"entry {i} ({bundle['entry'][i]['request']['url']}): status {status!r}"
    return body


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[str]:
    """`cdshooks serve` (gunicorn, one worker) on a free loopback port; yields its base URL."""
    executable = BIN / "cdshooks"
    if not executable.exists():
        pytest.skip(f"the project is not installed in this interpreter's environment ({executable} missing)")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env |= {"CDSHOOKS_DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "CDSHOOKS_FHIR_ALLOWLIST": "loopback"}
    base_url = f"http://127.0.0.1:{port}"
    process = _start(
        [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--allow-unauthenticated"],
        tmp_path, env, f"{base_url}/healthz", "cdshooks serve",
    )
    try:
        yield base_url
    finally:
        _stop(process)


PG_ADMIN = os.environ.get("CDSHOOKS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _unavailable(what: str) -> None:
    message = f"{what} not reachable on loopback: the scale-path tests need it (see test-infrastructure.md)"
    if os.environ.get("CDSHOOKS_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    name = f"cdshooks_scale_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # no PostgreSQL here
        _unavailable("PostgreSQL")
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
