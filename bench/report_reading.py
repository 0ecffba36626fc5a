"""Report-reader benchmark: mean time to read one report of the labelled corpora (issue 9: < 1 ms).

Called by bench/run.py (`make bench`); also runs alone: `.venv/bin/python bench/report_reading.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cdshooks.clinical import report_reading  # noqa: E402
from cdshooks.clinical.report_reading import read_report  # noqa: E402

CORPORA = (ROOT / "tests" / "data" / "report_sentences.yaml", ROOT / "tests" / "data" / "report_sentences_blind.yaml")
ROUNDS = 5


def mean_read_ms() -> tuple[float, int]:
    """Mean milliseconds per `read_report` over every corpus item (with its modality), and the item count."""
    items: list[tuple[str, str | None]] = []
    for path in CORPORA:
        if path.exists():
            items += [(i["text"], i.get("modality")) for i in yaml.safe_load(path.read_text(encoding="utf-8"))]
    read_report("warm up")  # compiles the phrase grammar once
    elapsed = 0.0
    for _ in range(ROUNDS):
        if hasattr(report_reading, "forget_readings"):  # the reader's own cost: every text read afresh
            report_reading.forget_readings()
        start = time.perf_counter()
        for text, modality in items:
            read_report(text, modality=modality)
        elapsed += time.perf_counter() - start
    return elapsed * 1000 / (ROUNDS * max(len(items), 1)), len(items)


def print_report_reading() -> float:
    mean_ms, count = mean_read_ms()
    print(f"\nreport reader: mean {mean_ms * 1000:.0f} µs per report over {count} corpus reports x {ROUNDS} "
          f"(budget 1 ms)")
    return mean_ms


if __name__ == "__main__":
    print_report_reading()
