"""The identity service's own settings (token lifetimes, sign-in rate limits, password hashing
cost) and the first administrator's e-mail and password, read from environment variables."""

from __future__ import annotations

from pydantic import PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.config import load_settings

PREFIX = "CRM_IDENTITY_"


class IdentitySettings(BaseSettings):
    """CRM_IDENTITY_<FIELD> for each field, e.g. CRM_IDENTITY_LOGIN_WINDOW_SECONDS=600."""

    # The aliases are the variables' full names (instead of an env_prefix) so that the error of a
    # malformed value names the variable itself; fields can still be passed by name in code.
    model_config = SettingsConfigDict(
        alias_generator=lambda name: PREFIX + name.upper(), populate_by_name=True, extra="ignore"
    )

    access_token_ttl_seconds: PositiveInt = 900
    # A refresh token lives this long after its last use (sliding) ...
    refresh_token_ttl_seconds: PositiveInt = 14 * 24 * 3600
    # ... but a session never outlives this, counted from the sign-in.
    session_max_age_seconds: PositiveInt = 30 * 24 * 3600
    login_max_failures_per_account: PositiveInt = 5
    login_max_failures_per_address: PositiveInt = 50
    login_window_seconds: PositiveInt = 900
    # Argon2id cost: OWASP's recommended configuration (Password Storage Cheat Sheet: m = 19 MiB,
    # t = 2, p = 1), about 20 ms per hash on one core here. argon2-cffi's own defaults (RFC 9106
    # low-memory profile: 64 MiB, t = 3, p = 4) cost 110 ms alone and 360 ms at 4 concurrent
    # sign-ins on 2 cores (bench/gateway_auth.py). Stored hashes made with other parameters are
    # re-hashed at the next sign-in. Tests lower them.
    password_hash_time_cost: PositiveInt | None = 2
    password_hash_memory_cost: PositiveInt | None = 19456
    password_hash_parallelism: PositiveInt | None = 1


class FirstAdminSettings(BaseSettings):
    """CRM_ADMIN_EMAIL and CRM_ADMIN_PASSWORD: the administrator created when there is no user yet.
    Without a password one is generated and shown once."""

    model_config = SettingsConfigDict(
        alias_generator=lambda name: "CRM_ADMIN_" + name.upper(), populate_by_name=True, extra="ignore"
    )

    email: str = "admin@example.com"
    password: SecretStr = SecretStr("")


def identity_settings() -> IdentitySettings:
    return load_settings(IdentitySettings, f"the identity service ({PREFIX}*)")


def first_admin_settings() -> FirstAdminSettings:
    return load_settings(FirstAdminSettings, "the first administrator (CRM_ADMIN_*)")
