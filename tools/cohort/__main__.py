"""Write (or check) the shipped synthetic cohort: `python -m tools.cohort [--check]` (see generate.py)."""

from __future__ import annotations

import sys

from tools.cohort.generate import OUT, cohort, files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = dict(files(cohort()))
    if check:
        present = {p.name for p in OUT.glob("*") if p.is_file() and p.suffix in {".json", ".ndjson"}}
        stale = sorted(name for name, text in wanted.items()
                       if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text)
        stale += sorted(present - set(wanted))
        if stale:
            print("cohort out of date (run python -m tools.cohort):", *stale, sep="\n  ")
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
