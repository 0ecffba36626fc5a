"""The start-up schema check reads the revision without Alembic (start-up time), and agrees with Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cdshooks.store.schema import _config, current_revision, ensure_current, head_revision
from cdshooks.store.store import make_engine


def test_head_revision_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(_config()).get_current_head()


def test_current_revision_is_what_alembic_reads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/s.db")
    try:
        assert current_revision(engine) is None  # no version table yet
        ensure_current(engine)  # SQLite upgrades itself
        with engine.connect() as conn:
            alembic_reads = MigrationContext.configure(conn).get_current_revision()
        assert current_revision(engine) == alembic_reads == head_revision()
    finally:
        engine.dispose()


def test_a_current_schema_is_checked_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    engine = make_engine(url)
    ensure_current(engine)
    engine.dispose()
    code = ("import sys\nfrom cdshooks.store.schema import ensure_current\n"
            "from cdshooks.store.store import make_engine\n"
            f"ensure_current(make_engine({url!r}))\nprint(sorted(m for m in sys.modules if m.startswith('alembic')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
