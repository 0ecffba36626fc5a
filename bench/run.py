"""Latency benchmark: the three hook services against a bare Flask baseline, in-process and over HTTP.

Run with `make bench` (or `.venv/bin/python bench/run.py [--json results.json]`). Loopback only, bounded in
calls and time (each series stops at its time cap; the whole run takes about a minute on 2 cores). What is
measured and how to read it: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, on sys.path
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from flask import Flask  # noqa: E402

from bench.baseline_app import create_baseline_app  # noqa: E402
from bench.hostile_fhir import print_hostile_fhir  # noqa: E402
from bench.record import HOOKS, resource_count, typical_request  # noqa: E402
from bench.report_reading import print_report_reading  # noqa: E402
from cdshooks import create_app  # noqa: E402
from cdshooks.services import BY_HOOK  # noqa: E402
from cdshooks.settings import Settings  # noqa: E402

AS_OF = date(2026, 6, 1)  # in-process: record dates and the pinned service clock
PINNED_NOW = datetime.combine(AS_OF, clock_time(19, 0), tzinfo=UTC)  # after every instant on AS_OF
N_CALLS = 300
N_WARMUP = 30
N_SCALE = 30
N_SCALE_WARMUP = 3
SCALE_RESOURCES = 4000
SERIES_CAP_S = 12.0  # a series stops early past this (reported as truncated)
READY_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 10.0

Call = Callable[[], tuple[int, bytes]]


# -- measurement -----------------------------------------------------------------------------------------
@dataclass
class Series:
    label: str
    n: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    errors: int
    error_examples: list[str] = field(default_factory=list)
    truncated: bool = False


def _percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_ms:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def _check(status: int, body: bytes) -> str | None:
    """None when the answer is a 200 with a `cards` array; else what was wrong (never asserts on content)."""
    if status != 200:
        return f"HTTP {status}: {body[:160]!r}"
    try:
        parsed = json.loads(body)
    except ValueError:
        return "200 with a non-JSON body"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("cards"), list):
        return "200 without a `cards` array"
    return None


def _guarded(call: Call) -> tuple[int, bytes]:
    """A transport failure (refused, reset, timeout) is an error of status 0, not a crash of the run."""
    try:
        return call()
    except (requests.RequestException, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}".encode()


def measure(label: str, call: Call, n: int, warmup: int, cap_s: float = SERIES_CAP_S) -> Series:
    """`warmup` unmeasured calls, then up to `n` timed calls (fewer if `cap_s` runs out)."""
    errors: list[str] = []
    started = time.monotonic()
    for _ in range(warmup):
        status, body = _guarded(call)
        problem = _check(status, body)
        if problem:
            errors.append(f"warm-up: {problem}")
        if time.monotonic() - started > cap_s:
            break
    samples: list[float] = []
    started = time.monotonic()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        status, body = _guarded(call)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        problem = _check(status, body)
        if problem:
            errors.append(problem)
        if time.monotonic() - started > cap_s:
            break
    samples.sort()
    return Series(
        label=label,
        n=len(samples),
        p50_ms=_percentile(samples, 50),
        p99_ms=_percentile(samples, 99),
        mean_ms=sum(samples) / len(samples) if samples else math.nan,
        errors=len(errors),
        error_examples=sorted(set(errors))[:3],
        truncated=len(samples) < n,
    )


def json_loads_ms(body: bytes, repeat: int = 30) -> float:
    """Median time of `json.loads` alone on the request body."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        json.loads(body)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    times.sort()
    return times[len(times) // 2]


# -- targets ---------------------------------------------------------------------------------------------
def service_path(hook: str) -> str:
    return f"/cds-services/{BY_HOOK[hook].id}"


def in_process_call(app: Flask, path: str, body: bytes) -> Call:
    client = app.test_client()

    def call() -> tuple[int, bytes]:
        response = client.post(path, data=body, content_type="application/json")
        return response.status_code, response.get_data()

    return call


def http_call(session: requests.Session, url: str, body: bytes) -> Call:
    headers = {"Content-Type": "application/json"}

    def call() -> tuple[int, bytes]:
        response = session.post(url, data=body, headers=headers, timeout=HTTP_TIMEOUT_S)
        return response.status_code, response.content

    return call


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


def start_server(name: str, argv: list[str], port: int, env: dict[str, str], log_path: Path) -> Server:
    log = log_path.open("wb")
    proc = subprocess.Popen(  # own session: stopped by its process group, nothing else
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return Server(name, proc, f"http://127.0.0.1:{port}", log_path)


def wait_ready(server: Server, path: str, deadline_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.base_url + path, timeout=1.0).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready after {deadline_s:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is not None:
        return
    try:
        os.killpg(server.proc.pid, signal.SIGTERM)  # the gunicorn master and its worker (our own group)
    except ProcessLookupError:
        return
    try:
        server.proc.wait(timeout=12)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=5)


@contextmanager
def servers(workdir: Path) -> Iterator[tuple[Server, Server]]:
    """The service (`cdshooks serve`) and the baseline app, both under gunicorn on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env.update({
        "CDSHOOKS_DATABASE_URL": f"sqlite:///{workdir}/http.db",
        "CDSHOOKS_LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    started: list[Server] = []
    try:
        port = free_port()
        started.append(start_server(
            "cdshooks serve",
            [venv_bin("cdshooks"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--threads", "4", "--allow-unauthenticated"],
            port, env, workdir / "service.log",
        ))
        port = free_port()
        started.append(start_server(
            "baseline gunicorn",
            [venv_bin("gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "4", "-k", "gthread",
             "--keep-alive", "5", "bench.baseline_app:app"],
            port, env, workdir / "baseline.log",
        ))
        wait_ready(started[0], "/readyz")
        wait_ready(started[1], "/healthz")
        yield started[0], started[1]
    finally:
        for server in started:
            stop_server(server)


# -- the run ---------------------------------------------------------------------------------------------
@dataclass
class Pair:
    hook: str
    service: Series
    baseline: Series

    @property
    def ratio_p50(self) -> float:
        return self.service.p50_ms / self.baseline.p50_ms

    @property
    def ratio_mean(self) -> float:
        return self.service.mean_ms / self.baseline.mean_ms

    def to_json(self) -> dict[str, Any]:
        return asdict(self.service) | {"baseline": asdict(self.baseline), "ratio_p50": round(self.ratio_p50, 3),
                                       "ratio_mean": round(self.ratio_mean, 3)}


def encode(request: dict[str, Any]) -> bytes:
    return json.dumps(request, separators=(",", ":")).encode()


def run_in_process(workdir: Path, bodies: dict[str, bytes], n: int, warmup: int) -> tuple[list[Pair], Flask]:
    settings = Settings(database_url=f"sqlite:///{workdir}/inprocess.db", log_level="WARNING",
                        allow_unauthenticated=True)
    app = create_app(settings, clock=lambda: PINNED_NOW)
    baseline = create_baseline_app()
    pairs = []
    for hook in HOOKS:
        path = service_path(hook)
        service = measure(f"{hook}", in_process_call(app, path, bodies[hook]), n, warmup)
        base = measure(f"{hook} baseline", in_process_call(baseline, path, bodies[hook]), n, warmup)
        pairs.append(Pair(hook, service, base))
    return pairs, app


def run_http(workdir: Path, bodies: dict[str, bytes], n: int, warmup: int) -> list[Pair]:
    pairs = []
    with servers(workdir) as (service_srv, baseline_srv), requests.Session() as session:
        session.trust_env = False  # loopback only: no proxy from the environment
        for hook in HOOKS:
            path = service_path(hook)
            service = measure(hook, http_call(session, service_srv.base_url + path, bodies[hook]), n, warmup)
            base = measure(f"{hook} baseline", http_call(session, baseline_srv.base_url + path, bodies[hook]),
                           n, warmup)
            pairs.append(Pair(hook, service, base))
    return pairs


def _ms(value: float) -> str:
    return f"{value:8.2f}" if not math.isnan(value) else "     n/a"


def _series_cells(s: Series) -> str:
    return f"{_ms(s.p50_ms)} {_ms(s.p99_ms)} {_ms(s.mean_ms)}"


def print_pairs(title: str, pairs: list[Pair]) -> None:
    print(f"\n{title}")
    print(f"{'hook':<14} {'service p50':>11} {'p99':>8} {'mean':>8} | {'baseline p50':>12} {'p99':>8} {'mean':>8}"
          f" | {'ratio p50':>9} {'mean':>6} | {'n':>4} {'errors':>6}")
    for p in pairs:
        n = f"{p.service.n}{'*' if p.service.truncated or p.baseline.truncated else ''}"
        print(f"{p.hook:<14} {_ms(p.service.p50_ms):>11} {_ms(p.service.p99_ms)} {_ms(p.service.mean_ms)} | "
              f"{_ms(p.baseline.p50_ms):>12} {_ms(p.baseline.p99_ms)} {_ms(p.baseline.mean_ms)} | "
              f"{p.ratio_p50:>8.1f}x {p.ratio_mean:>5.1f}x | {n:>4} {p.service.errors + p.baseline.errors:>6}")
        for example in p.service.error_examples + p.baseline.error_examples:
            print(f"    error: {example}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("-n", "--calls", type=int, default=N_CALLS, help=f"timed calls per series ({N_CALLS})")
    parser.add_argument("--warmup", type=int, default=N_WARMUP, help=f"warm-up calls per series ({N_WARMUP})")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn (HTTP) part")
    args = parser.parse_args(argv)
    n = max(1, min(args.calls, 5000))
    warmup = max(0, min(args.warmup, 1000))
    run_started = time.monotonic()

    requests_in_process = {hook: typical_request(hook, AS_OF) for hook in HOOKS}
    bodies = {hook: encode(r) for hook, r in requests_in_process.items()}
    counts = {hook: resource_count(r) for hook, r in requests_in_process.items()}
    scale_body = encode(typical_request("patient-view", AS_OF, n_resources=SCALE_RESOURCES))

    print(f"cdshooks bench: Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"in-process: Flask test client, clock pinned to {PINNED_NOW.isoformat()}, record as of {AS_OF}; "
          f"{n} timed calls after {warmup} warm-up per series; latencies in ms")
    print("\nrequest bodies")
    for hook in HOOKS:
        print(f"  {hook:<14} {len(bodies[hook]) / 1024:7.1f} KB  {counts[hook]:5d} resources  "
              f"json.loads alone {json_loads_ms(bodies[hook]):6.2f} ms")
    scale_loads = json_loads_ms(scale_body, repeat=7)
    print(f"  {'scale (p-view)':<14} {len(scale_body) / 1024:7.1f} KB  {SCALE_RESOURCES:5d} resources  "
          f"json.loads alone {scale_loads:6.2f} ms")

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "calls": n,
        "warmup": warmup,
        "bodies": {hook: {"kb": round(len(bodies[hook]) / 1024, 1), "resources": counts[hook],
                          "json_loads_ms": round(json_loads_ms(bodies[hook]), 3)} for hook in HOOKS},
    }
    workdir = Path(tempfile.mkdtemp(prefix="cdshooks-bench-"))
    app: Flask | None = None
    exit_code = 0
    try:
        in_process, app = run_in_process(workdir, bodies, n, warmup)
        print_pairs("in-process (Flask test client)", in_process)
        results["in_process"] = [p.to_json() for p in in_process]

        scale_call = in_process_call(app, service_path("patient-view"), scale_body)
        scale = measure("patient-view scale", scale_call, N_SCALE, N_SCALE_WARMUP, cap_s=20.0)
        scale_base = measure("scale baseline", in_process_call(create_baseline_app(), service_path("patient-view"),
                                                               scale_body), N_SCALE, N_SCALE_WARMUP, cap_s=10.0)
        typical = next(p for p in in_process if p.hook == "patient-view")
        growth = scale.p50_ms / typical.service.p50_ms
        more = SCALE_RESOURCES / counts["patient-view"]
        print(f"\nscale: patient-view, {SCALE_RESOURCES} resources ({len(scale_body) / 1024:.0f} KB), in-process, "
              f"N={scale.n}{'*' if scale.truncated else ''}")
        print(f"  service p50 {scale.p50_ms:.2f}  p99 {scale.p99_ms:.2f}  mean {scale.mean_ms:.2f} ms | baseline p50 "
              f"{scale_base.p50_ms:.2f} ms | ratio {scale.p50_ms / scale_base.p50_ms:.1f}x | {growth:.1f}x the "
              f"{counts['patient-view']}-resource p50 for {more:.0f}x the resources "
              f"({scale.p50_ms * 1000 / SCALE_RESOURCES:.1f} µs/resource) | errors {scale.errors + scale_base.errors}")
        results["scale"] = asdict(scale) | {"resources": SCALE_RESOURCES, "kb": round(len(scale_body) / 1024, 1),
                                            "json_loads_ms": round(scale_loads, 3), "baseline": asdict(scale_base),
                                            "ratio_p50": round(scale.p50_ms / scale_base.p50_ms, 3)}

        http: list[Pair] = []
        if not args.no_http:
            http_as_of = datetime.now(UTC).date() - timedelta(days=1)  # the server's clock cannot be pinned
            http_bodies = {hook: encode(typical_request(hook, http_as_of)) for hook in HOOKS}
            http = run_http(workdir, http_bodies, n, warmup)
            print_pairs("over HTTP (gunicorn gthread, 1 worker x 4 threads; sequential, keep-alive session; "
                        f"record as of {http_as_of})", http)
            results["http"] = [p.to_json() for p in http]
        errors = sum(p.service.errors + p.baseline.errors for p in in_process + http)
        errors += scale.errors + scale_base.errors
        results["errors"] = errors
        exit_code = 1 if errors else 0
    finally:
        if app is not None:
            app.extensions["cdshooks"].close()
        shutil.rmtree(workdir, ignore_errors=True)

    results["report_read_mean_ms"] = round(print_report_reading(), 4)
    results["hostile_fhir"] = print_hostile_fhir()
    elapsed = time.monotonic() - run_started
    results["elapsed_s"] = round(elapsed, 1)
    print(f"\nerrors: non-200 answers or answers without `cards` (warm-up included); * = series cut short by "
          f"its {SERIES_CAP_S:.0f} s cap; total {elapsed:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results written to {args.json}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
