"""The served parts of `make bench`: HTTP throughput of the service and of the echo under gunicorn, driven by a
load generator in another process, and start-up time to the first 200 with the worker's peak memory.

Load generator: `wrk` when it is installed (Debian package `wrk`), else bench/load.py (threads with keep-alive
connections, in its own process). Both servers run 1 worker x 4 threads (gthread) on 127.0.0.1; the load uses 4
connections; service and echo runs alternate (service, echo, service, echo) so they share the machine's load.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from cdshooks.services import BY_HOOK

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0  # generous: a loaded 2-core machine once took 17 s
CONNECTIONS = 4
THREADS = 4
ROUNDS = 2


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"bench: cannot find `{name}` next to {sys.executable} or on PATH")
    return found


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def peak_rss_mb(self) -> float:
        """Largest peak resident set (VmHWM) of the server's processes (the gunicorn master and its workers)."""
        peak = 0
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            peak = max(peak, int(found.group(1)) if found else 0)
        return peak / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _env(workdir: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env.update({"CDSHOOKS_DATABASE_URL": f"sqlite:///{workdir}/{name}.db", "CDSHOOKS_LOG_LEVEL": "WARNING",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def start_server(name: str, argv: list[str], port: int, env: dict[str, str], log_path: Path) -> Server:
    log = log_path.open("wb")
    proc = subprocess.Popen(  # own session: stopped by its process group, nothing else
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return Server(name, proc, f"http://127.0.0.1:{port}", log_path)


def wait_ready(server: Server, path: str, method: str = "GET", body: bytes | None = None,
               deadline_s: float = READY_TIMEOUT_S) -> float:
    """Seconds from the server's start until `path` answered 200 (polling every 20 ms)."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            response = requests.request(method, server.base_url + path, data=body, timeout=5.0,
                                        headers={"Content-Type": "application/json"})
            if response.status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{server.name} not ready after {deadline_s:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is not None:
        return
    try:
        os.killpg(server.proc.pid, signal.SIGTERM)  # the gunicorn master and its worker (our own group)
    except ProcessLookupError:
        return
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=5)


def service_argv(port: int) -> list[str]:
    """`cdshooks serve`, run from this checkout (the code next to this file, whatever the venv installed)."""
    return [sys.executable, "-c", "from cdshooks.cli import main; main()", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--threads", str(THREADS), "--allow-unauthenticated"]


@contextmanager
def servers(workdir: Path) -> Iterator[tuple[Server, Server]]:
    """The service (`cdshooks serve`) and the echo, both under gunicorn on loopback."""
    started: list[Server] = []
    try:
        port = free_port()
        started.append(start_server("cdshooks serve", service_argv(port), port, _env(workdir, "http"),
                                    workdir / "service.log"))
        port = free_port()
        started.append(start_server(
            "echo gunicorn",
            [venv_bin("gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", str(THREADS), "-k", "gthread",
             "--keep-alive", "5", "bench.baseline_app:app"],
            port, _env(workdir, "echo"), workdir / "echo.log",
        ))
        wait_ready(started[0], "/readyz")
        wait_ready(started[1], "/healthz")
        yield started[0], started[1]
    finally:
        for server in started:
            stop_server(server)


# -- load generation -------------------------------------------------------------------------------------
def _wrk(url: str, body_path: Path, seconds: float, workdir: Path) -> dict[str, Any]:
    script = workdir / "post.lua"
    script.write_text(
        'local f = assert(io.open("' + str(body_path) + '", "rb"))\n'
        'wrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(CONNECTIONS), "-d", f"{seconds:.0f}s", "--latency", "--timeout", "10s",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 60, check=False,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    if rps is None or total is None:
        raise RuntimeError(f"wrk gave no result:\n{out[-2000:]}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    return {"rps": float(rps.group(1)), "requests": int(total.group(1)), "errors": errors,
            "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else math.nan}


def _python_load(url: str, body_path: Path, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), url, str(body_path), "--connections", str(CONNECTIONS),
         "--seconds", str(seconds)],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def generator() -> str:
    return "wrk" if shutil.which("wrk") else "bench/load.py"


def run_throughput(workdir: Path, bodies: dict[str, bytes], seconds: float) -> dict[str, Any]:
    """Requests per second of the service and of the echo at the same concurrency, runs alternating."""
    tool = generator()
    print(f"\nHTTP throughput (gunicorn gthread 1 worker x {THREADS} threads, both; load generator {tool} in its own "
          f"process, {CONNECTIONS} connections, {ROUNDS} x {seconds:.0f} s per server alternating; load average "
          f"{load_average()})")
    if tool != "wrk":
        print("  (wrk not found: `apt-get install wrk` for the figures in bench/README.md)")
    print(f"{'hook':<14} {'service req/s':>13} {'p50 ms':>7} | {'echo req/s':>10} {'p50 ms':>7} | {'ratio':>5} | "
          f"{'requests':>8} {'errors':>6} | load average")
    out: dict[str, Any] = {}
    with servers(workdir) as (service, echo):
        for hook, body in bodies.items():
            body_path = workdir / f"{hook}.json"
            body_path.write_bytes(body)
            path = f"/cds-services/{BY_HOOK[hook].id}"
            runs: dict[str, list[dict[str, Any]]] = {"service": [], "echo": []}
            for _ in range(ROUNDS):
                for name, server in (("service", service), ("echo", echo)):
                    url = server.base_url + path
                    runs[name].append(_wrk(url, body_path, seconds, workdir) if tool == "wrk"
                                      else _python_load(url, body_path, seconds))
            svc = {k: sum(r[k] for r in runs["service"]) for k in ("requests", "errors")}
            base = {k: sum(r[k] for r in runs["echo"]) for k in ("requests", "errors")}
            svc_rps = sum(r["rps"] for r in runs["service"]) / ROUNDS
            echo_rps = sum(r["rps"] for r in runs["echo"]) / ROUNDS
            svc_p50 = sorted(r["p50_ms"] for r in runs["service"])[0]
            echo_p50 = sorted(r["p50_ms"] for r in runs["echo"])[0]
            print(f"{hook:<14} {svc_rps:13.0f} {svc_p50:7.2f} | {echo_rps:10.0f} {echo_p50:7.2f} | "
                  f"{svc_rps / echo_rps:5.2f} | {svc['requests'] + base['requests']:8d} "
                  f"{svc['errors'] + base['errors']:6d} | {load_average()}")
            out[hook] = {"service_rps": round(svc_rps, 1), "echo_rps": round(echo_rps, 1),
                         "ratio": round(svc_rps / echo_rps, 3), "service_p50_ms": svc_p50, "echo_p50_ms": echo_p50,
                         "requests": svc["requests"] + base["requests"], "errors": svc["errors"] + base["errors"],
                         "generator": tool, "load_average": load_average()}
        rss = service.peak_rss_mb()
        print(f"  service worker peak RSS after the runs: {rss:.0f} MB")
        for value in out.values():
            value["service_peak_rss_mb"] = round(rss, 1)
    return out


def measure_startup(workdir: Path, hook_body: bytes, runs: int) -> dict[str, Any]:
    """`cdshooks serve` from launch to the first 200 on /readyz and on a first hook call (fresh SQLite store
    each run; the median of `runs`), and the worker's peak RSS after that first call."""
    readies, hooks, rss = [], [], []
    for i in range(runs):
        port = free_port()
        server = start_server("cdshooks serve", service_argv(port), port, _env(workdir, f"start{i}"),
                              workdir / f"start{i}.log")
        try:
            started = time.monotonic()
            wait_ready(server, "/readyz")
            readies.append(time.monotonic() - started)
            wait_ready(server, f"/cds-services/{BY_HOOK['patient-view'].id}", "POST", hook_body)
            hooks.append(time.monotonic() - started)
            rss.append(server.peak_rss_mb())
        finally:
            stop_server(server)
    ready, hook = sorted(readies)[len(readies) // 2], sorted(hooks)[len(hooks) // 2]
    print(f"\nstart-up (`cdshooks serve`, 1 worker, fresh SQLite store; median of {runs}; load average "
          f"{load_average()})")
    print(f"  first 200 on /readyz {ready:.2f} s, on a first patient-view call {hook:.2f} s (goal < 2 s); worker "
          f"peak RSS {max(rss):.0f} MB")
    return {"readyz_s": round(ready, 3), "first_hook_s": round(hook, 3), "peak_rss_mb": round(max(rss), 1),
            "runs": runs, "load_average": load_average()}

