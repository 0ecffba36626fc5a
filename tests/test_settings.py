"""Settings from CDSHOOKS_* variables: parsed, validated with messages naming the variable, documented."""

from __future__ import annotations

import pytest

from cdshooks.settings import Settings, SettingsError, documentation, env_name, redact_url
from tests.conftest import REPO


def test_defaults_are_embedded_and_local() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.fhir_allowlist == ("loopback",)
    assert settings.fhir_budget == 2.0
    assert settings.allow_unauthenticated is False


def test_values_are_parsed() -> None:
    settings = Settings.from_env({
        "CDSHOOKS_FHIR_BUDGET": "1.5", "CDSHOOKS_FHIR_ALLOWLIST": "https://a.org/fhir, https://b.org/r4",
        "CDSHOOKS_CORS_ORIGINS": "https://sandbox.cds-hooks.org", "CDSHOOKS_ALLOW_UNAUTHENTICATED": "yes",
        "CDSHOOKS_PUBLIC_BASE_URL": "https://cds.example.org/", "CDSHOOKS_LOG_LEVEL": "debug",
        "UNRELATED": "x",
    })
    assert settings.fhir_budget == 1.5
    assert settings.fhir_allowlist == ("https://a.org/fhir", "https://b.org/r4")
    assert settings.allow_unauthenticated is True
    assert settings.public_base_url == "https://cds.example.org"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CDSHOOKS_FHIR_BUDGET", "soon"),
        ("CDSHOOKS_FHIR_BUDGET", "0"),
        ("CDSHOOKS_FHIR_MAX_PAGES", "-1"),
        ("CDSHOOKS_MAX_BODY_BYTES", "1e9"),
        ("CDSHOOKS_DATABASE_URL", "mysql://x"),
        ("CDSHOOKS_PUBLIC_BASE_URL", "cds.example.org"),
        ("CDSHOOKS_FHIR_ALLOWLIST", "ehr.example.org"),
        ("CDSHOOKS_ALLOW_UNAUTHENTICATED", "maybe"),
        ("CDSHOOKS_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(f"{name}=")


def test_readme_documents_every_variable_with_its_default() -> None:
    readme = (REPO / "README.md").read_text()
    for name, default, _ in documentation():
        assert f"| `{name}` | `{default}` |" in readme, name


def test_every_setting_has_an_env_name_and_help() -> None:
    for name, _, meaning in documentation():
        assert name.startswith("CDSHOOKS_") and meaning
    assert env_name("fhir_budget") == "CDSHOOKS_FHIR_BUDGET"


def test_database_password_is_redacted() -> None:
    assert redact_url("postgresql+psycopg://cds:s3cret@db:5432/cds") == "postgresql+psycopg://cds:***@db:5432/cds"
    assert redact_url("sqlite:///var/x.db") == "sqlite:///var/x.db"
