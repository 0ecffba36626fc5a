"""Slow clients against the documented production arrangement (issue 16, finding 2): nginx with
deploy/nginx/cdshooks.conf.template in front of `cdshooks serve` (gunicorn, 2 workers × 4 threads).

200 connections send their headers or their body a byte at a time, without any token, for the whole test;
meanwhile normal calls (discovery and a patient-view hook) must all be answered. Without the buffering
proxy the same 200 connections hold every gunicorn thread and normal calls time out (measured: 30 s).
Bounded: the slow connections live at most SLOW_SECONDS; every request has a timeout. The latency figures
are printed (run with -s); `make bench` documents them.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import PATIENT_VIEW, hook_request
from tests.integration.conftest import BIN, _start, _stop, free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "nginx" / "cdshooks.conf.template"
SLOW_CONNECTIONS = 200
SLOW_SECONDS = 300.0  # the slow connections' outer bound: the normal calls end long before on any machine
NORMAL_CALLS = 60
CALL_SECONDS = 60.0  # one call's bound: generous (a loaded 2-core machine answers slowly; the test is about answers)


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        message = "nginx is not installed (apt-get install nginx-light; .ci/run installs it)"
        if os.environ.get("CDSHOOKS_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def render_config(folder: Path, listen: int, upstream: str) -> Path:
    """The shipped template, wrapped in a minimal main configuration that lives in `folder`."""
    site = TEMPLATE.read_text().replace("${CDS_LISTEN}", f"127.0.0.1:{listen}")
    site = site.replace("${CDS_UPSTREAM_1}", upstream).replace("${CDS_UPSTREAM_2}", upstream)
    (folder / "site.conf").write_text(site)
    main = f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    include {folder}/site.conf;
}}
"""
    path = folder / "nginx.conf"
    path.write_text(main)
    return path


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    nginx = _nginx()
    executable = BIN / "cdshooks"
    if not executable.exists():
        pytest.skip(f"the project is not installed in this environment ({executable} missing)")
    folder = tmp_path_factory.mktemp("slow")
    app_port, proxy_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env |= {"CDSHOOKS_DATABASE_URL": f"sqlite:///{folder}/s.db", "CDSHOOKS_LOG_LEVEL": "WARNING"}
    app = _start([str(executable), "serve", "--host", "127.0.0.1", "--port", str(app_port), "--workers", "2",
                  "--threads", "4", "--allow-unauthenticated"], folder, env,
                 f"http://127.0.0.1:{app_port}/healthz", "cdshooks serve")
    config = render_config(folder, proxy_port, f"127.0.0.1:{app_port}")
    checked = subprocess.run([nginx, "-t", "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    proxy = None
    try:
        proxy = _start([nginx, "-c", str(config), "-g", "daemon off;"], folder, env,
                       f"http://127.0.0.1:{proxy_port}/healthz", "nginx")
        yield f"http://127.0.0.1:{proxy_port}"
    finally:
        if proxy is not None:
            _stop(proxy)
        _stop(app)


def _slow_client(port: int, n: int, stop: threading.Event) -> None:
    """Half send their headers a byte at a time, half a body that never completes."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    try:
        if n % 2:
            payload = (f"POST /cds-services/{PATIENT_VIEW} HTTP/1.1\r\nHost: x\r\nX-Slow: "
                       + "a" * 5000).encode()
        else:
            sock.sendall(f"POST /cds-services/{PATIENT_VIEW} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/json\r\nContent-Length: 100000\r\n\r\n".encode())
            payload = b"{" + b" " * 99_999
        for i in range(len(payload)):
            if stop.wait(1.0):
                return
            sock.sendall(payload[i:i + 1])
    except OSError:
        return  # the proxy hung up on us (its timeouts): fine
    finally:
        sock.close()


def test_normal_calls_are_answered_while_200_clients_are_slow(proxied: str) -> None:
    port = int(proxied.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [threading.Thread(target=_slow_client, args=(port, n, stop), daemon=True)
            for n in range(SLOW_CONNECTIONS)]
    for thread in slow:
        thread.start()
    deadline = time.monotonic() + SLOW_SECONDS
    latencies: list[float] = []
    statuses: list[int] = []
    try:
        time.sleep(2.0)  # let the slow connections open first (ordering only; nothing timed depends on it)
        session = requests.Session()
        body = hook_request()
        for i in range(NORMAL_CALLS):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            if i % 2:
                response = session.post(f"{proxied}/cds-services/{PATIENT_VIEW}", json=body, timeout=CALL_SECONDS)
            else:
                response = session.get(f"{proxied}/cds-services", timeout=CALL_SECONDS)
            latencies.append(time.perf_counter() - started)
            statuses.append(response.status_code)
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=5)
    assert len(statuses) == NORMAL_CALLS, f"only {len(statuses)} normal calls within {SLOW_SECONDS:.0f} s"
    assert set(statuses) == {200}
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"\nslow clients: {SLOW_CONNECTIONS} open; {len(latencies)} normal calls, "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")


def test_proxy_errors_are_operation_outcomes(proxied: str) -> None:
    response = requests.get(f"{proxied}/cds-services", headers={"X-Big": "a" * 200_000}, timeout=CALL_SECONDS)
    assert response.status_code in {400, 431}
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"
    too_big = requests.post(f"{proxied}/cds-services/{PATIENT_VIEW}", data=b"x" * (11 * 1024 * 1024),
                            headers={"Content-Type": "application/json"}, timeout=30)
    assert too_big.status_code == 413
    assert too_big.json()["resourceType"] == "OperationOutcome"
