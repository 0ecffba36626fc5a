"""deploy/docker-compose.yml runs as shipped: mounted paths exist, secrets are required (never defaulted),
Redis and PostgreSQL are waited for, plain HTTP is published on loopback only, the build context is small."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks.auth.clients import load_clients
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
SECRETS = {"POSTGRES_PASSWORD": "test-db-password", "CDSHOOKS_PSEUDONYM_KEY": "test-pseudonym-key-0123456789"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<: *cds` merge keys
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def test_every_mounted_path_exists() -> None:
    named = set(compose().get("volumes") or {})
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist in deploy/"
            else:
                assert source in named, f"{name} mounts the undeclared named volume {source}"
    build = services()["cds-1"]["build"]
    assert (DEPLOY / build / "Dockerfile").is_file()


def test_no_interpolated_value_has_a_default() -> None:
    """`${VAR:-x}` would run with a known password; every variable is `${VAR:?message}` (compose stops)."""
    text = COMPOSE.read_text()
    uses = re.findall(r"\$\{(\w+)(:?[-?+]?)", text)
    assert uses, "the compose file interpolates nothing: where do the secrets come from?"
    for name, operator in uses:
        assert operator == ":?", f"${{{name}{operator}...}}: a secret must be required, not defaulted"
    assert {name for name, _ in uses} == set(SECRETS)
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|_KEY$|TOKEN", key):
                assert "${" in str(value), f"{name}: {key} is written into the compose file"


def test_the_shipped_clients_file_loads() -> None:
    (volume,) = services()["cds-1"]["volumes"]
    source, target = volume.split(":")[:2]
    clients_file = services()["cds-1"]["environment"]["CDSHOOKS_CLIENTS_FILE"]
    assert clients_file.startswith(target + "/")
    registry = load_clients(DEPLOY / source / clients_file.removeprefix(target + "/"))
    assert len(registry) >= 1  # `cdshooks serve` refuses to start with none


def test_startup_order_waits_for_healthy_dependencies() -> None:
    every = services()
    for name in ("postgres", "redis"):
        assert every[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in ("cds-1", "cds-2"):
        assert every[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                             "redis": {"condition": "service_healthy"}}
    assert every["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert set(every["proxy"]["depends_on"]) == {"cds-1", "cds-2"}


def test_plain_http_is_published_on_loopback_only() -> None:
    published = [(name, port) for name, service in services().items() for port in service.get("ports", [])]
    assert published == [("proxy", "127.0.0.1:8080:8080")]


def _pattern(glob: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: `*` within one path segment, `**/` any folders."""
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """The last matching pattern wins and `!` re-includes; a pattern that matches a folder covers its files."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        regex = _pattern(pattern.lstrip("!").rstrip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not pattern.startswith("!")
    return excluded


def test_dockerignore_keeps_the_build_context_to_what_the_image_copies() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".venv/bin/python", "var/cdshooks.db", ".git/HEAD", ".pytest_cache/v", ".ruff_cache/x",
                 ".mypy_cache/x", "tests/conftest.py", "fixtures/starter/x.json", "cdshooks/__pycache__/app.pyc"):
        assert _dockerignored(path, patterns), f"{path} would be sent to the Docker build"
    copied = [src for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
              for src in line.split()[1:-1]]
    assert copied
    for source in copied:
        assert (REPO / source).exists() and not _dockerignored(source, patterns), f"COPY {source} is excluded"
    assert not _dockerignored("cdshooks/app.py", patterns) and not _dockerignored("cards/bone-scan-flare.yaml",
                                                                                   patterns)


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_passes_and_requires_the_secrets(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed on this machine")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS} | {"HOME": str(tmp_path)}
    ok = subprocess.run([*command, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=120,
                        env=env | SECRETS, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    rendered = yaml.safe_load(ok.stdout)
    assert rendered["services"]["cds-1"]["environment"]["CDSHOOKS_PSEUDONYM_KEY"] == SECRETS["CDSHOOKS_PSEUDONYM_KEY"]
    for missing in SECRETS:
        refused = subprocess.run([*command, "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                                 timeout=120, env=env | {k: v for k, v in SECRETS.items() if k != missing},
                                 cwd=tmp_path)
        assert refused.returncode != 0 and missing in refused.stderr, refused.stderr
