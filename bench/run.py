"""Benchmark: the hook services against a bare Flask echo, in-process and over HTTP, plus the cost curve, the
fallback fetches, start-up and the hostile-fhirServer figures, printed in one run with the load average.

Run with `make bench` (or `.venv/bin/python bench/run.py [--json results.json] [--quick]`). Loopback only, every
part bounded in calls and time (about two minutes on 2 cores). What is measured and how to read it: bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, on sys.path
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from bench.baseline_app import create_baseline_app  # noqa: E402
from bench.fallback import print_fallback  # noqa: E402
from bench.hostile_fhir import print_hostile_fhir  # noqa: E402
from bench.record import HOOKS, resource_count, typical_request  # noqa: E402
from bench.report_reading import print_report_reading  # noqa: E402
from bench.served import measure_startup, run_throughput  # noqa: E402
from cdshooks import create_app  # noqa: E402
from cdshooks.clinical.knowledge import Knowledge  # noqa: E402
from cdshooks.services import BY_HOOK  # noqa: E402
from cdshooks.settings import Settings  # noqa: E402

AS_OF = date(2026, 6, 1)  # in-process: record dates and the pinned service clock
PINNED_NOW = datetime.combine(AS_OF, clock_time(19, 0), tzinfo=UTC)  # after every instant on AS_OF
N_CALLS = 300
N_WARMUP = 30
CURVE = ((50, 200), (200, 200), (1000, 40), (4000, 10))  # (resources, timed calls)
SERIES_CAP_S = 15.0  # a series stops early past this (reported as cut short)

GOAL_OWN_WORK = 1.0  # (service - echo) / echo, in-process, 200 resources
GOAL_THROUGHPUT = 0.5  # service requests/s / echo requests/s under gunicorn
GOAL_CURVE_4K = 2.0  # service / json.loads at 4,000 resources
GOAL_STARTUP_S = 2.0
GOAL_FALLBACK = 1.3

Call = Callable[[], tuple[int, bytes]]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- measurement -----------------------------------------------------------------------------------------
@dataclass
class Samples:
    label: str
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def p(self, q: float, cpu: bool = False) -> float:
        values = sorted(self.cpu_ms if cpu else self.wall_ms)
        if not values:
            return math.nan
        return values[max(1, math.ceil(q / 100 * len(values))) - 1]

    def mean(self, cpu: bool = False) -> float:
        values = self.cpu_ms if cpu else self.wall_ms
        return sum(values) / len(values) if values else math.nan

    def to_json(self) -> dict[str, Any]:
        return {"n": len(self.wall_ms), "wall_p50_ms": round(self.p(50), 3), "wall_p99_ms": round(self.p(99), 3),
                "wall_mean_ms": round(self.mean(), 3), "cpu_p50_ms": round(self.p(50, True), 3),
                "cpu_mean_ms": round(self.mean(True), 3), "errors": len(self.errors)}


def _check(status: int, body: bytes) -> str | None:
    """None when the answer is a 200 with a `cards` array (the content is not asserted)."""
    if status != 200:
        return f"HTTP {status}: {body[:160]!r}"
    try:
        parsed = json.loads(body)
    except ValueError:
        return "200 with a non-JSON body"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("cards"), list):
        return "200 without a `cards` array"
    return None


def _timed(call: Call, into: Samples) -> None:
    cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
    status, body = call()
    into.wall_ms.append((time.perf_counter_ns() - wall) / 1e6)
    into.cpu_ms.append((time.thread_time_ns() - cpu) / 1e6)
    problem = _check(status, body)
    if problem:
        into.errors.append(problem)


def interleaved(calls: dict[str, Call], n: int, warmup: int, cap_s: float = SERIES_CAP_S) -> dict[str, Samples]:
    """Every call of `calls` once per round, the order rotating each round, `warmup` untimed rounds first: the
    series see the same machine load, call by call. Wall time and CPU time (this thread's) per call."""
    samples = {name: Samples(name) for name in calls}
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    gc.collect()
    started = time.monotonic()
    for i in range(n):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            _timed(calls[name], samples[name])
        if time.monotonic() - started > cap_s:
            break
    return samples


def in_process_call(app: Flask, path: str, body: bytes) -> Call:
    client = app.test_client()

    def call() -> tuple[int, bytes]:
        response = client.post(path, data=body, content_type="application/json")
        return response.status_code, response.get_data()

    return call


def loads_call(body: bytes) -> Call:
    def call() -> tuple[int, bytes]:
        json.loads(body)
        return 200, b'{"cards":[]}'

    return call


def service_path(hook: str) -> str:
    return f"/cds-services/{BY_HOOK[hook].id}"


def encode(request: dict[str, Any]) -> bytes:
    return json.dumps(request, separators=(",", ":")).encode()


def clear_caches(kb: Knowledge) -> None:
    """Forget everything the service remembers across calls (concept profiles, dates, report readings,
    normalised codes, text-pattern hits): the cost of a record never seen before."""
    from cdshooks.clinical import report_reading
    from cdshooks.fhir import codes

    for memory in (getattr(codes, "_PROFILES", None), getattr(codes, "_DATES", None),
                   getattr(kb.terminology, "_keys", None)):
        if memory is not None:
            memory.clear()
    if hasattr(report_reading, "forget_readings"):  # (absent from versions before issue 15)
        report_reading.forget_readings()
    for name in kb.valueset_names:
        kb.valueset(name)._text_cache.clear()


# -- parts -----------------------------------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value:7.2f}" if not math.isnan(value) else "    n/a"


def run_in_process(app: Flask, bodies: dict[str, bytes], n: int, warmup: int) -> dict[str, Any]:
    echo = create_baseline_app()
    print(f"\nown work, in-process (Flask test client; service and echo interleaved call by call, {n} rounds after "
          f"{warmup} warm-up; wall and CPU ms; load average {load_average()})")
    print(f"{'hook':<14} {'service p50':>11} {'p99':>7} {'cpu p50':>7} | {'echo p50':>8} {'p99':>7} {'cpu p50':>7} | "
          f"{'ratio':>5} {'cpu':>5} | {'own/echo':>8} {'cpu':>5} | {'n':>4} {'err':>3}")
    out: dict[str, Any] = {}
    for hook in HOOKS:
        path = service_path(hook)
        s = interleaved({"service": in_process_call(app, path, bodies[hook]),
                         "echo": in_process_call(echo, path, bodies[hook])}, n, warmup)
        svc, base = s["service"], s["echo"]
        ratio, ratio_cpu = svc.p(50) / base.p(50), svc.p(50, True) / base.p(50, True)
        print(f"{hook:<14} {_ms(svc.p(50)):>11} {_ms(svc.p(99))} {_ms(svc.p(50, True))} | {_ms(base.p(50)):>8} "
              f"{_ms(base.p(99))} {_ms(base.p(50, True))} | {ratio:5.2f} {ratio_cpu:5.2f} | {ratio - 1:8.2f} "
              f"{ratio_cpu - 1:5.2f} | {len(svc.wall_ms):>4} {len(svc.errors) + len(base.errors):>3}")
        for problem in sorted(set(svc.errors + base.errors))[:3]:
            print(f"    error: {problem}")
        out[hook] = {"service": svc.to_json(), "echo": base.to_json(), "ratio_p50": round(ratio, 3),
                     "ratio_cpu_p50": round(ratio_cpu, 3), "own_work_ratio": round(ratio - 1, 3),
                     "own_work_ratio_cpu": round(ratio_cpu - 1, 3), "load_average": load_average()}
    # the same record, every cache emptied before each call: what a patient seen for the first time costs
    kb = app.extensions["cdshooks"].knowledge
    service = in_process_call(app, service_path("patient-view"), bodies["patient-view"])

    def cold() -> tuple[int, bytes]:
        clear_caches(kb)
        return service()

    s = interleaved({"cold": cold, "echo": in_process_call(echo, service_path("patient-view"),
                                                          bodies["patient-view"])}, min(n, 100), 5)
    ratio_cpu = s["cold"].p(50, True) / s["echo"].p(50, True)
    print(f"{'p-view cold':<14} {_ms(s['cold'].p(50)):>11} {_ms(s['cold'].p(99))} {_ms(s['cold'].p(50, True))} | "
          f"{_ms(s['echo'].p(50)):>8} {_ms(s['echo'].p(99))} {_ms(s['echo'].p(50, True))} | "
          f"{s['cold'].p(50) / s['echo'].p(50):5.2f} {ratio_cpu:5.2f} | {s['cold'].p(50) / s['echo'].p(50) - 1:8.2f} "
          f"{ratio_cpu - 1:5.2f} | {len(s['cold'].wall_ms):>4} {len(s['cold'].errors):>3}   (caches emptied per call)")
    out["patient-view-cold"] = {"service": s["cold"].to_json(), "echo": s["echo"].to_json(),
                                "own_work_ratio_cpu": round(ratio_cpu - 1, 3)}
    return out


def run_curve(app: Flask, warmup: int) -> list[dict[str, Any]]:
    echo = create_baseline_app()
    print(f"\ncost curve (patient-view, in-process; service, echo and json.loads interleaved; p50 ms; load average "
          f"{load_average()})")
    print(f"{'resources':>9} {'KB':>7} {'json.loads':>10} {'echo':>7} {'service':>8} {'cpu':>7} | "
          f"{'service/json.loads':>18} {'cpu':>5} | {'own µs/resource':>15} | {'n':>3}")
    rows = []
    path = service_path("patient-view")
    for resources, n in CURVE:
        body = encode(typical_request("patient-view", AS_OF, n_resources=resources))
        s = interleaved({"loads": loads_call(body), "echo": in_process_call(echo, path, body),
                         "service": in_process_call(app, path, body)}, n, min(warmup, max(2, n // 5)), cap_s=30.0)
        svc, loads, base = s["service"], s["loads"], s["echo"]
        ratio, ratio_cpu = svc.p(50) / loads.p(50), svc.p(50, True) / loads.p(50, True)
        own_us = (svc.p(50, True) - base.p(50, True)) * 1000 / resources
        print(f"{resources:>9} {len(body) / 1024:7.0f} {_ms(loads.p(50)):>10} {_ms(base.p(50))} {_ms(svc.p(50)):>8} "
              f"{_ms(svc.p(50, True))} | {ratio:18.2f} {ratio_cpu:5.2f} | {own_us:15.1f} | {len(svc.wall_ms):>3}")
        rows.append({"resources": resources, "kb": round(len(body) / 1024, 1), "json_loads": loads.to_json(),
                     "echo": base.to_json(), "service": svc.to_json(), "ratio_to_loads": round(ratio, 3),
                     "ratio_to_loads_cpu": round(ratio_cpu, 3), "own_us_per_resource_cpu": round(own_us, 2),
                     "errors": len(svc.errors) + len(base.errors), "load_average": load_average()})
    return rows


def print_summary(results: dict[str, Any]) -> None:
    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    print(f"\nsummary (goals of issue 15; load average now {load_average()})")
    own = max(results["in_process"][h]["own_work_ratio_cpu"] for h in HOOKS)
    own_wall = max(results["in_process"][h]["own_work_ratio"] for h in HOOKS)
    print(f"  own work / echo, in-process, worst hook:  CPU {own:.2f}, wall {own_wall:.2f}  (goal <= {GOAL_OWN_WORK})"
          f"  {verdict(own <= GOAL_OWN_WORK)}")
    if "http" in results:
        worst = min(results["http"][h]["ratio"] for h in results["http"])
        print(f"  HTTP throughput service / echo, worst:    {worst:.2f}  (goal >= {GOAL_THROUGHPUT})"
              f"  {verdict(worst >= GOAL_THROUGHPUT)}")
    big = results["curve"][-1]
    big_ok = big["ratio_to_loads_cpu"] <= GOAL_CURVE_4K
    print(f"  {big['resources']} resources / json.loads:           CPU {big['ratio_to_loads_cpu']:.2f}, wall "
          f"{big['ratio_to_loads']:.2f}  (goal <= {GOAL_CURVE_4K})  {verdict(big_ok)}")
    if "startup" in results:
        start = results["startup"]["first_hook_s"]
        print(f"  start-up to first 200 (hook call):        {start:.2f} s  (goal < {GOAL_STARTUP_S:.0f} s)"
              f"  {verdict(start < GOAL_STARTUP_S)}")
    if "fallback" in results:
        ratio = results["fallback"]["ratio"]
        print(f"  fallback / slowest single search:         {ratio:.2f}  (goal <= {GOAL_FALLBACK})"
              f"  {verdict(ratio <= GOAL_FALLBACK)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("-n", "--calls", type=int, default=N_CALLS, help=f"timed rounds per hook ({N_CALLS})")
    parser.add_argument("--warmup", type=int, default=N_WARMUP, help=f"warm-up rounds per series ({N_WARMUP})")
    parser.add_argument("--no-http", action="store_true", help="skip the served parts (gunicorn, start-up)")
    parser.add_argument("--quick", action="store_true", help="fewer calls, shorter load runs, no hostile server")
    args = parser.parse_args(argv)
    n = max(1, min(args.calls if not args.quick else min(args.calls, 60), 5000))
    warmup = max(0, min(args.warmup, 1000))
    run_started = time.monotonic()

    print(f"cdshooks bench: Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; load average {load_average()}")
    print(f"in-process: clock pinned to {PINNED_NOW.isoformat()}, record as of {AS_OF}; the heap is frozen after "
          "start-up (gc.freeze(), as served workers do)")
    requests_in_process = {hook: typical_request(hook, AS_OF) for hook in HOOKS}
    bodies = {hook: encode(r) for hook, r in requests_in_process.items()}
    print("\nrequest bodies")
    for hook in HOOKS:
        print(f"  {hook:<14} {len(bodies[hook]) / 1024:7.1f} KB  {resource_count(requests_in_process[hook]):5d} "
              "resources")

    results: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(), "calls": n,
                               "load_average_start": load_average()}
    workdir = Path(tempfile.mkdtemp(prefix="cdshooks-bench-"))
    app: Flask | None = None
    errors = 0
    try:
        settings = Settings(database_url=f"sqlite:///{workdir}/inprocess.db", log_level="WARNING",
                            allow_unauthenticated=True)
        app = create_app(settings, clock=lambda: PINNED_NOW)
        gc.collect()
        gc.freeze()
        results["in_process"] = run_in_process(app, bodies, n, warmup)
        results["curve"] = run_curve(app, warmup)
        errors += sum(v["service"]["errors"] + v["echo"]["errors"] for v in results["in_process"].values())
        errors += sum(row["errors"] for row in results["curve"])
    finally:
        if app is not None:
            app.extensions["cdshooks"].close()
        gc.unfreeze()
    try:
        if not args.no_http:
            http_as_of = datetime.now(UTC).date() - timedelta(days=1)  # the server's clock cannot be pinned
            http_bodies = {hook: encode(typical_request(hook, http_as_of)) for hook in ("order-select", "patient-view")}
            results["http"] = run_throughput(workdir, http_bodies, seconds=2.0 if args.quick else 4.0)
            errors += sum(v["errors"] for v in results["http"].values())
            results["startup"] = measure_startup(workdir, http_bodies["patient-view"], runs=1 if args.quick else 3)
        results["fallback"] = print_fallback(datetime.now(UTC).date() - timedelta(days=1))
        results["report_read_mean_ms"] = round(print_report_reading(), 4)
        if not args.quick:
            results["hostile_fhir"] = print_hostile_fhir()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_summary(results)
    results["errors"] = errors
    results["load_average_end"] = load_average()
    results["elapsed_s"] = round(time.monotonic() - run_started, 1)
    print(f"\nerrors (non-200 answers or answers without `cards`, all parts): {errors}; total {results['elapsed_s']} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
