"""The web application's settings (prefix CRM_WEB_), read and checked like every service's: a
malformed value stops it at start with a message naming the variable."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.config import load_settings


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_WEB_", extra="ignore")

    listen: str = "127.0.0.1:8090"
    # Where the public HTTP API is; the web application talks to nothing else.
    gateway_url: str = "http://127.0.0.1:8080"
    # Signs the session cookie and the CSRF tokens. Empty: `python -m crm_web` makes one per run
    # (every worker shares it), so sessions end when the process restarts.
    secret_key: str = ""
    workers: int = 1
    threads: int = 8
    # How many reverse proxies in front set X-Forwarded-For/-Proto (0 = trust none). Behind an
    # HTTPS proxy the session cookie is then marked Secure.
    trusted_proxies: int = 0
    # Always mark the session cookie Secure (when TLS ends in front without X-Forwarded-Proto).
    secure_cookies: bool = False
    # Seconds an API call may take before the page says the platform did not answer.
    api_timeout_seconds: float = 15.0
    # Where node_modules is (the browser packages of package.json); default: beside the package.
    node_modules: str = ""
    # Where the compiled message catalogues go (the package directory may be read-only).
    cache_dir: str = ""

    @field_validator("workers", "threads")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be positive")
        return v

    @field_validator("gateway_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")


def web_settings() -> WebSettings:
    return load_settings(WebSettings, "the web application (CRM_WEB_*)")
