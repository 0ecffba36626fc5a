"""A small HTTP load generator for bench/served.py when `wrk` is not installed: `--connections` threads, each
posting the same body over one keep-alive connection for `--seconds`; prints a JSON line
{"rps", "requests", "errors", "p50_ms"}. Run in its own process (the server under test must not share its GIL).

    python bench/load.py http://127.0.0.1:8080/cds-services/x body.json --connections 4 --seconds 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("body", type=Path)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    target = urlsplit(args.url)
    body = args.body.read_bytes()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + min(args.seconds, 60.0)

    def worker() -> None:
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=10)
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("POST", target.path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=10)
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(max(1, args.connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    print(json.dumps({"rps": len(latencies) / elapsed, "requests": len(latencies), "errors": errors[0],
                      "p50_ms": latencies[len(latencies) // 2] if latencies else float("nan")}))


if __name__ == "__main__":
    main()
