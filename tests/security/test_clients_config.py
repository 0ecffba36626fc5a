"""The clients file: validation messages, start-up refusal (create_app, serve, check-config)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cdshooks import create_app
from cdshooks.auth.clients import ClientsError, load_clients
from cdshooks.cli import main
from cdshooks.settings import Settings, SettingsError
from tests.security.conftest import Keys, jwks, public_jwk


@pytest.fixture
def folder(tmp_path: Path, keys: Keys) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "k.json").write_text(json.dumps(jwks(public_jwk(keys.ec384, "k", "ES384"))))
    return tmp_path


def _write(folder: Path, text: str, name: str = "clients.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_yaml_and_json_files_load_with_normalized_urls(folder: Path) -> None:
    yaml_file = _write(folder, """
clients:
  - issuer: https://ehr.example.org
    jwks_file: keys/k.json
    jku_allowlist: [HTTPS://Keys.Example.org:443/jwks.json]
    tenants: [org-1]
    fhir_servers: ["https://EHR.example.org:443/fhir/"]
  - issuer: https://other.example.org
    jwks_url: https://keys.example.org/other.json
""")
    registry = load_clients(yaml_file)
    client = registry.get("https://ehr.example.org")
    assert client is not None
    assert client.jwks_file == (folder / "keys" / "k.json").resolve()
    assert client.jku_allowlist == ("https://keys.example.org/jwks.json",)
    assert client.fhir_servers == ("https://ehr.example.org/fhir",)
    assert client.tenants == ("org-1",)
    json_file = _write(folder, json.dumps({"clients": [{"issuer": "urn:ehr:1", "jwks_file": "keys/k.json"}]}),
                       "clients.json")
    assert load_clients(json_file).get("urn:ehr:1") is not None


@pytest.mark.parametrize(("text", "message"), [
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    jwks_url: https://k.example.org/j\n",
     "clients[0]: exactly one of jwks_file | jwks_url is required"),
    ("clients:\n  - issuer: a\n", "clients[0]: exactly one of jwks_file | jwks_url is required"),
    ("clients:\n  - jwks_file: keys/k.json\n", "clients[0]: issuer: required"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/missing.json\n", "does not exist"),
    ("clients:\n  - issuer: a\n    jwks_file: clients.yaml\n", "clients[0]: jwks_file:"),
    ("clients:\n  - issuer: a\n    jwks_url: http://keys.example.org/j\n", "must use https"),
    ("clients:\n  - issuer: a\n    jwks_url: not a url\n", "jwks_url:"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    jku_allowlist: [http://evil.example.org/j]\n",
     "jku_allowlist:"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    fhir_servers: [http://ehr.example.org/fhir]\n",
     "allow_http_fhir: true"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    fhir_servers: [\"https://ehr.example.org/fhir?x=1\"]\n",
     "must not have a query"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    allow_http_fhir: maybe\n", "allow_http_fhir"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    tenants: [1]\n", "tenants:"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n    jwks_urls: x\n", "unknown key(s) jwks_urls"),
    ("clients:\n  - issuer: a\n    jwks_file: keys/k.json\n  - issuer: a\n    jwks_file: keys/k.json\n",
     "clients[1]: issuer 'a' is listed twice"),
    ("clients: []\n", "non-empty list"),
    ("issuers: []\n", "must be a mapping with a `clients` list"),
    ("clients: [\n", "not valid YAML"),
])
def test_bad_file_is_refused_with_a_message_naming_the_problem(folder: Path, text: str, message: str) -> None:
    path = _write(folder, text)
    with pytest.raises(ClientsError) as info:
        load_clients(path)
    assert message in str(info.value)
    assert str(info.value).startswith(f"CDSHOOKS_CLIENTS_FILE '{path}'")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClientsError, match="cannot be read"):
        load_clients(tmp_path / "nope.yaml")


def test_create_app_raises_on_a_bad_clients_file(folder: Path) -> None:
    path = _write(folder, "clients:\n  - issuer: a\n")
    with pytest.raises(ClientsError, match="jwks_file"):
        create_app(Settings(database_url=f"sqlite:///{folder}/x.db", clients_file=str(path)))


@pytest.mark.parametrize(("name", "value"), [
    ("CDSHOOKS_JWT_ALGORITHMS", "HS256"), ("CDSHOOKS_JWT_ALGORITHMS", "none"), ("CDSHOOKS_JWT_ALGORITHMS", "PS384"),
    ("CDSHOOKS_REDIS_URL", "http://127.0.0.1:6379"), ("CDSHOOKS_MAX_JSON_DEPTH", "0"),
    ("CDSHOOKS_JWT_LEEWAY", "-1"),
])
def test_security_settings_are_validated(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    for name in ("CDSHOOKS_CLIENTS_FILE", "CDSHOOKS_ALLOW_UNAUTHENTICATED", "CDSHOOKS_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("cdshooks.server.run", lambda **kw: calls.append(kw))
    return calls


@pytest.mark.usefixtures("cli_env")
def test_serve_refuses_without_clients_or_development_mode(served: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "CDSHOOKS_CLIENTS_FILE" in result.output and "--allow-unauthenticated" in result.output
    assert served == []


@pytest.mark.usefixtures("cli_env")
def test_serve_refuses_a_bad_clients_file(folder: Path, monkeypatch: pytest.MonkeyPatch,
                                          served: list[dict[str, Any]]) -> None:
    monkeypatch.setenv("CDSHOOKS_CLIENTS_FILE", str(_write(folder, "clients:\n  - issuer: a\n")))
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "exactly one of jwks_file | jwks_url" in result.output
    assert served == []


@pytest.mark.usefixtures("cli_env")
def test_serve_starts_with_clients_or_in_development_mode(folder: Path, monkeypatch: pytest.MonkeyPatch,
                                                          served: list[dict[str, Any]]) -> None:
    monkeypatch.setenv("CDSHOOKS_CLIENTS_FILE", str(_write(folder, "clients:\n  - issuer: a\n"
                                                                   "    jwks_file: keys/k.json\n")))
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 0, result.output
    assert "1 trusted client(s)" in result.output
    monkeypatch.delenv("CDSHOOKS_CLIENTS_FILE")
    dev = CliRunner().invoke(main, ["serve", "--port", "1", "--allow-unauthenticated"])
    assert dev.exit_code == 0 and "WARNING: development mode" in dev.output
    assert len(served) == 2


@pytest.mark.usefixtures("cli_env")
def test_check_config_reports_the_clients_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = CliRunner().invoke(main, ["check-config"])
    assert missing.exit_code == 0 and "would refuse to start" in missing.output
    monkeypatch.setenv("CDSHOOKS_CLIENTS_FILE", str(_write(folder, "clients:\n  - issuer: a\n")))
    bad = CliRunner().invoke(main, ["check-config"])
    assert bad.exit_code == 2 and "clients[0]" in bad.output
    monkeypatch.setenv("CDSHOOKS_CLIENTS_FILE", str(_write(folder, "clients:\n  - issuer: a\n"
                                                                   "    jwks_file: keys/k.json\n")))
    monkeypatch.setenv("CDSHOOKS_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    good = CliRunner().invoke(main, ["check-config"])
    assert "1 trusted client(s)" in good.output
    assert "hunter2" not in good.output and "CDSHOOKS_REDIS_URL=redis://:***@127.0.0.1:1/0" in good.output
    assert good.exit_code == 1 and "redis not reachable" in good.output


@pytest.mark.usefixtures("cli_env")
def test_in_process_replay_still_runs_without_clients() -> None:
    from tests.conftest import REPO

    result = CliRunner().invoke(main, ["replay", str(REPO / "fixtures" / "starter" / "patient-view-minimal.json")])
    assert result.exit_code == 0, result.output
    import os

    assert "CDSHOOKS_ALLOW_UNAUTHENTICATED" not in os.environ
