"""Settings: the defaults, values from the environment, a malformed value's error naming the
variable, and a first-admin password or e-mail that the policy refuses stopping the start."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from crm_identity.service_layer.first_start import checked_admin_settings
from crm_identity.settings import FirstAdminSettings, IdentitySettings, first_admin_settings, identity_settings
from crm_platform.config import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIME_COST", "MEMORY_COST", "PARALLELISM"):
        monkeypatch.delenv(f"CRM_IDENTITY_PASSWORD_HASH_{name}", raising=False)
    s = identity_settings()
    assert (s.access_token_ttl_seconds, s.refresh_token_ttl_seconds, s.session_max_age_seconds) == (
        900,
        1209600,
        2592000,
    )
    assert (s.login_max_failures_per_account, s.login_max_failures_per_address, s.login_window_seconds) == (5, 50, 900)
    # OWASP's argon2id configuration: 19 MiB, two passes, one lane.
    assert (s.password_hash_memory_cost, s.password_hash_time_cost, s.password_hash_parallelism) == (19456, 2, 1)
    assert IdentitySettings(login_window_seconds=60).login_window_seconds == 60


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")
    monkeypatch.setenv("CRM_ADMIN_EMAIL", "jefe@example.com")
    assert identity_settings().login_max_failures_per_account == 3
    assert first_admin_settings().email == "jefe@example.com"


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_malformed_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CRM_IDENTITY_LOGIN_WINDOW_SECONDS", value)
    with pytest.raises(ConfigError, match="CRM_IDENTITY_LOGIN_WINDOW_SECONDS"):
        identity_settings()


@pytest.mark.parametrize(
    ("email", "password", "variable"),
    [
        ("admin@example.com", "short", "CRM_ADMIN_PASSWORD"),
        ("admin@example.com", "ADMIN@example.com", "CRM_ADMIN_PASSWORD"),
        ("not an address", "a long enough password", "CRM_ADMIN_EMAIL"),
    ],
)
def test_a_first_admin_the_policy_refuses_is_a_config_error(email: str, password: str, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        checked_admin_settings(FirstAdminSettings(email=email, password=SecretStr(password)))


def test_a_good_first_admin_is_normalised() -> None:
    email, password = checked_admin_settings(FirstAdminSettings(email="Jefe@EXAMPLE.com", password=SecretStr("")))
    assert (email, password) == ("Jefe@example.com", "")
