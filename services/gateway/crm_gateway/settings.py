"""The gateway's own settings (prefix CRM_GATEWAY_), read and checked the same way as every
service's: a malformed value stops it at start with a message naming the variable."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.config import load_settings


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_GATEWAY_", extra="ignore")

    listen: str = "127.0.0.1:8080"
    workers: int = 1
    threads: int = 8
    max_body_bytes: int = 1024 * 1024
    # Comma-separated origins allowed to call the API from a browser ("" = none, "*" = any).
    cors_origins: str = ""
    # How many reverse proxies in front set X-Forwarded-For/-Proto (0 = trust no such header).
    trusted_proxies: int = 0
    # A bearer token Prometheus sends for /metrics; when empty, /metrics answers loopback callers only.
    metrics_token: str = ""
    # How far back the gateway replays identity events at start; access tokens living longer are refused.
    token_max_age_seconds: int = 3600
    # While the identity event feed is not caught up, answers asked of identity are cached this long.
    auth_fallback_cache_seconds: float = 5.0

    @field_validator("workers", "threads", "max_body_bytes", "token_max_age_seconds")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be positive")
        return v

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def gateway_settings() -> GatewaySettings:
    return load_settings(GatewaySettings, "the gateway (CRM_GATEWAY_*)")
