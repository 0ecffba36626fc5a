"""Instructions per in-process call, service and echo: the repeatable own-work figure (not part of `make bench`).

    .venv/bin/python bench/instructions.py [--hook patient-view] [--resources 200] [--calls 20]

Runs a small driver under `valgrind --tool=cachegrind --cache-sim=no` (Debian package `valgrind`) twice per
app, with 0 and with `--calls` timed calls after the same warm-up, and divides the difference: start-up cancels
out, and the count does not move with the machine's load (`PYTHONHASHSEED=0` keeps set and dict orders fixed).
About 4 minutes for the defaults.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _drive(app_name: str, hook: str, resources: int, calls: int) -> None:
    """The measured process: build the app, 3 warm-up calls, freeze the heap, `calls` calls."""
    import gc
    import json
    import tempfile
    from datetime import UTC, date, datetime
    from datetime import time as clock_time

    sys.path.insert(0, str(ROOT))
    from bench.baseline_app import create_baseline_app
    from bench.record import typical_request
    from cdshooks import create_app
    from cdshooks.services import BY_HOOK
    from cdshooks.settings import Settings

    as_of = date(2026, 6, 1)
    now = datetime.combine(as_of, clock_time(19, 0), tzinfo=UTC)
    with tempfile.TemporaryDirectory() as workdir:
        app = create_app(Settings(database_url=f"sqlite:///{workdir}/i.db", log_level="WARNING",
                                  allow_unauthenticated=True), clock=lambda: now) \
            if app_name == "service" else create_baseline_app()
        body = json.dumps(typical_request(hook, as_of, n_resources=resources), separators=(",", ":")).encode()
        client = app.test_client()
        path = f"/cds-services/{BY_HOOK[hook].id}"
        for _ in range(3):
            assert client.post(path, data=body, content_type="application/json").status_code == 200
        gc.collect()
        gc.freeze()
        for _ in range(calls):
            client.post(path, data=body, content_type="application/json")
        if app_name == "service":
            app.extensions["cdshooks"].close()


def _count(app_name: str, hook: str, resources: int, calls: int) -> int:
    argv = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
            __file__, "--drive", app_name, "--hook", hook, "--resources", str(resources), "--calls", str(calls)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=True,
                         env=dict(os.environ, PYTHONHASHSEED="0")).stderr
    found = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{out[-1500:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hook", default="patient-view")
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--drive", choices=("service", "echo"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        _drive(args.drive, args.hook, args.resources, args.calls)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found (apt-get install valgrind)")
    per_call = {}
    for name in ("service", "echo"):
        per_call[name] = (_count(name, args.hook, args.resources, args.calls)
                          - _count(name, args.hook, args.resources, 0)) / args.calls
    own = (per_call["service"] - per_call["echo"]) / per_call["echo"]
    print(f"{args.hook}, {args.resources} resources: service {per_call['service'] / 1e6:.1f} M, echo "
          f"{per_call['echo'] / 1e6:.1f} M instructions per call; own work / echo {own:.2f}")


if __name__ == "__main__":
    main()
