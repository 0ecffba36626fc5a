"""The card writer's CPU per hook call, one transaction per call against the linger's gathered transactions.

    .venv/bin/python bench/card_writer.py [--calls 1000] [--gap-ms 3]

Queues what one order-select call queues (two cards and a rating) every `gap` ms, as a served worker at about 300
calls/s does, into a SQLite store, and reads the writer thread's CPU time from /proc (Linux; clock ticks of 10 ms,
so about a thousand calls are needed). Printed for linger 0 (a transaction per call, before issue 15's round 5)
and for the shipped `WRITE_LINGER_S`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cdshooks.store.store import WRITE_LINGER_S, IssuedCard, IssuedRating, Store  # noqa: E402


def _rows(n: int, at: datetime) -> list[IssuedCard | IssuedRating]:
    who = {"knowledge_version": "1", "knowledge_hash": "h", "user_key": "u:x"}
    return [IssuedCard(f"c{n}-{i}", "svc", "order-select", f"h{n}", "topic", "info", ("a", "b"), "p" * 64, at,
                       evidence_key="e", **who) for i in range(2)] + \
           [IssuedRating(f"urn:uuid:{n}", "svc", "order-select", f"h{n}", "CT_CAP_IV", "appropriate", "p" * 64, at,
                         **who)]


def _thread_cpu_s(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def writer_cpu_ms_per_call(linger: float, calls: int, gap_s: float) -> float:
    with tempfile.TemporaryDirectory(prefix="cdshooks-writer-") as folder:
        store = Store(f"sqlite:///{folder}/w.db", b"k" * 32, linger=linger)
        store.create_schema()
        at = datetime.now(UTC)
        batches = [_rows(n, at) for n in range(calls)]
        native_id = store._writer.native_id
        assert native_id is not None
        before = _thread_cpu_s(native_id)
        for batch in batches:
            store.record_cards(batch)
            time.sleep(gap_s)
        store.flush(timeout=60)
        spent = _thread_cpu_s(native_id) - before
        store.close()
    return spent * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--gap-ms", type=float, default=3.0)
    args = parser.parse_args()
    print(f"card writer, {args.calls} calls {args.gap_ms:g} ms apart (2 cards + 1 rating each), SQLite; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for linger in (0.0, WRITE_LINGER_S):
        cost = writer_cpu_ms_per_call(linger, args.calls, args.gap_ms / 1000)
        print(f"  linger {linger * 1000:4.0f} ms: writer CPU {cost:.3f} ms per call")


if __name__ == "__main__":
    main()
