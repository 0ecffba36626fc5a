"""The errors a new user meets first: each is one line that says what to do, never a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdshooks import ports
from cdshooks.cli import main
from cdshooks.governance.knowledge_set import load_knowledge_set
from cdshooks.settings import Settings, SettingsError, unknown_names
from tests.conftest import REPO

STARTER = REPO / "fixtures" / "starter"
BIN = Path(sys.executable).parent
UNREACHABLE_PG = "postgresql+psycopg://nobody@127.0.0.1:1/none"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CDSHOOKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something listens on (as a first `make run` would)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def one_line_error(output: str) -> str:
    """The output holds no traceback and exactly one `error:` line; that line."""
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


# -- settings ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "Infinity"])
def test_endless_budgets_are_refused(value: str) -> None:
    for name in ("CDSHOOKS_FHIR_BUDGET", "CDSHOOKS_FHIR_TIMEOUT", "CDSHOOKS_JWKS_MAX_AGE"):
        with pytest.raises(SettingsError, match="finite number"):
            Settings.from_env({name: value})


@pytest.mark.parametrize(("name", "value", "wording"), [
    ("CDSHOOKS_FHIR_BUDGET", "two", "must be a number, e.g. 2.5; unset it to use the default, 2.0"),
    ("CDSHOOKS_MAX_CARDS", "1.5", "must be a whole number such as 5"),
    ("CDSHOOKS_JWT_LEEWAY", "30s", "must be a whole number such as 5"),
    ("CDSHOOKS_CLIENTS_FILE", "", None),  # empty is allowed: no error
])
def test_bad_values_are_reported_in_plain_words(name: str, value: str, wording: str | None) -> None:
    if wording is None:
        Settings.from_env({name: value})
        return
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    message = str(info.value)
    assert wording in message
    for python_wording in ("could not convert", "invalid literal", "base 10"):
        assert python_wording not in message


def test_unknown_cdshooks_names_are_named_with_the_nearest_setting() -> None:
    lines = unknown_names({"CDSHOOKS_FHIR_BUDGT": "3", "CDSHOOKS_SHINY": "1", "CDSHOOKS_FHIR_BUDGET": "2",
                           "CDSHOOKS_REQUIRE_SERVICES": "1", "OTHER": "x"})
    assert lines == ["CDSHOOKS_FHIR_BUDGT is not a setting and is ignored; did you mean CDSHOOKS_FHIR_BUDGET?",
                     "CDSHOOKS_SHINY is not a setting and is ignored; see the README's Configuration table"]


def test_check_config_warns_on_a_misspelt_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_MAX_CARD", "3")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "warning: CDSHOOKS_MAX_CARD is not a setting and is ignored; did you mean CDSHOOKS_MAX_CARDS?" \
        in result.output


def test_serve_warns_on_a_misspelt_variable_and_stops_on_a_busy_port(monkeypatch: pytest.MonkeyPatch,
                                                                     busy_port: int) -> None:
    monkeypatch.setenv("CDSHOOKS_LOG_LEVL", "DEBUG")
    result = CliRunner().invoke(main, ["serve", "--allow-unauthenticated", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert "warning: CDSHOOKS_LOG_LEVL is not a setting and is ignored; did you mean CDSHOOKS_LOG_LEVEL?" \
        in result.output
    line = one_line_error(result.output)
    assert re.fullmatch(rf"error: port {busy_port} is in use; try `make run PORT=\d+` or "
                        r"`cdshooks serve --port \d+`", line), line


# -- a second `make run` -----------------------------------------------------------------------------------------

def test_port_check_names_the_busy_port_and_a_free_one(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert ports.main(["127.0.0.1", str(busy_port)]) == 1
    message = capsys.readouterr().err.strip()
    match = re.fullmatch(rf"port {busy_port} is in use; try `make run PORT=(\d+)`", message)
    assert match, message
    assert ports.bind_problem("127.0.0.1", int(match.group(1))) is None
    assert ports.main(["127.0.0.1", match.group(1)]) == 0


def test_second_make_run_says_the_port_is_in_use_before_starting(busy_port: int) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed here")
    # -o: take the venv as built (no install step in a test); BIN: this interpreter's environment
    result = subprocess.run([make, "--no-print-directory", "-o", "/nonexistent/.installed-run", "run",
                             "VENV=/nonexistent", f"BIN={BIN}", f"PORT={busy_port}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "discovery" not in result.stdout
    assert re.search(rf"^port {busy_port} is in use; try `make run PORT=\d+`$", result.stderr, re.M), result.stderr


# -- knowledge overrides: check-config fails exactly when serve would --------------------------------------------

def _readme_override_example() -> str:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"```yaml\n# \$CDSHOOKS_KNOWLEDGE_DIR/parameters\.yaml\n(.*?)```", readme, re.S)
    assert match, "the README's knowledge override example is gone"
    return match.group(1)


def test_the_readme_override_example_takes_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "parameters.yaml").write_text(_readme_override_example())
    assert load_knowledge_set(tmp_path).knowledge.param("P_SUSPICION_LOOKBACK_DAYS") == 45
    assert load_knowledge_set(None).knowledge.param("P_SUSPICION_LOOKBACK_DAYS") != 45  # the override counts
    monkeypatch.setenv("CDSHOOKS_KNOWLEDGE_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0 and "configuration ok" in result.output, result.output


@pytest.mark.parametrize(("name", "text", "said"), [
    ("parameters.yaml", "P_SUSPICION_LOOKBACK_DAYS: 45\n",
     "top-level key P_SUSPICION_LOOKBACK_DAYS is not read; indent it under a `parameters:` line"),
    ("parameter.yaml", "parameters:\n  P_SUSPICION_LOOKBACK_DAYS: 45\n", "parameter.yaml is not read"),
    ("parameters.yaml", "parameters:\n  P_SUSPICION_LOOKBACK_DAYS: soon\n", "[P_SUSPICION_LOOKBACK_DAYS]"),
    ("parameters.yaml", "parameters: [1, 2\n", "invalid YAML"),
], ids=["bare-key-ignored", "misnamed-file", "bad-value", "broken-yaml"])
def test_check_config_and_serve_refuse_the_same_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         name: str, text: str, said: str) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / name).write_text(text)
    monkeypatch.setenv("CDSHOOKS_KNOWLEDGE_DIR", str(folder))
    checked = CliRunner().invoke(main, ["check-config"])
    assert checked.exit_code == 1 and "configuration ok" not in checked.output
    assert said in one_line_error(checked.output)
    served = CliRunner().invoke(main, ["serve", "--allow-unauthenticated", "--port", "1"])
    assert served.exit_code == 2
    assert said in one_line_error(served.output)


# -- the database -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "current"], ["report"],
                                     ["serve", "--allow-unauthenticated", "--port", "1"]])
def test_unreachable_postgresql_is_one_line(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", UNREACHABLE_PG)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert line.startswith("error: database not reachable at postgresql+psycopg://nobody@127.0.0.1:1/none (")
    assert line.endswith("start it, or correct CDSHOOKS_DATABASE_URL, then run `cdshooks check-config`")
    assert len(result.output.splitlines()) <= 3


def test_read_only_working_directory_is_one_line(tmp_path: Path) -> None:
    """`serve`, `db` and `report` in a read-only folder with the default ./var SQLite store. Root ignores file
    modes, so the folder is made read-only by a read-only bind mount in a private mount namespace."""
    folder = tmp_path / "ro"
    folder.mkdir()
    commands = [["serve", "--allow-unauthenticated", "--port", "1"], ["db", "upgrade"], ["db", "current"],
                ["report"], ["report", "--html", "x.html"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    script = "\n".join(f"{BIN / 'cdshooks'} {' '.join(c)} 2>&1; echo \"exit=$?\"; echo ---" for c in commands)
    if os.geteuid() == 0:
        unshare = shutil.which("unshare")
        if unshare is None:
            pytest.skip("running as root without unshare: no way to make a folder read-only here")
        probe = subprocess.run([unshare, "-m", "true"], capture_output=True, timeout=30)
        if probe.returncode != 0:
            pytest.skip(f"running as root and unshare -m is not permitted: {probe.stderr.decode()[:200]}")
        argv = [unshare, "-m", "sh", "-c",
                f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} && cd {folder} && {script}"]
    else:
        folder.chmod(0o555)
        argv = ["sh", "-c", f"cd {folder} && {script}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    finally:
        folder.chmod(0o755)
    blocks = [b.strip() for b in result.stdout.split("---") if b.strip()]
    assert len(blocks) == len(commands), result.stdout + result.stderr
    for command, block in zip(commands, blocks, strict=True):
        assert block.endswith("exit=2"), (command, block)
        line = one_line_error(block)
        assert "cannot open the SQLite store var/cdshooks.db" in line, (command, line)
        assert "run from a writable directory or set CDSHOOKS_DATABASE_URL" in line, (command, line)


# -- replay ---------------------------------------------------------------------------------------------------

def test_replay_json_is_one_valid_document() -> None:
    result = CliRunner().invoke(main, ["replay", "--json", str(STARTER)])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    fixtures = sorted(STARTER.glob("*.json"))
    assert [a["fixture"] for a in answers] == [str(p) for p in fixtures]
    assert {a["status"] for a in answers} == {200, 412}
    assert all(a["specProblems"] == [] and a["expectationsNotMet"] == [] for a in answers)
    assert f"{len(fixtures)} fixtures, 0 with problems" in result.stderr


def test_replay_to_a_stopped_server_says_so() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = CliRunner().invoke(main, ["replay", "--url", f"http://127.0.0.1:{port}", str(STARTER)])
    assert result.exit_code == 1
    assert "SPEC PROBLEM" not in result.output
    assert one_line_error(result.output) == (f"error: no service answers at http://127.0.0.1:{port} (connection "
                                             "failed): start it (`make run`) or correct --url")
