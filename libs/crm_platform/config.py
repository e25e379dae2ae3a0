"""Configuration from environment variables, one naming pattern for every service, with defaults
that run the embedded mode (SQLite files under CRM_DATA_DIR, everything on 127.0.0.1).

Shared by all:    CRM_NATS_URL, CRM_DATA_DIR, CRM_LOG_LEVEL, CRM_LOG_FORMAT, CRM_INTERNAL_TOKEN
`crm up`:         CRM_START_TIMEOUT     seconds until every process must be ready (default 120)
Per process:      CRM_NATS_NKEY_SEED    its own NATS user's nkey seed (`crm up` hands one to each)
                  CRM_NATS_TLS_CA_FILE  the CA of the NATS server's certificate (tls:// URLs)
Per service <S>:  CRM_<S>_DATABASE_URL  its own database (default sqlite:///$CRM_DATA_DIR/<s>.db)
                  CRM_<S>_ADDR          where peers dial its gRPC server (default 127.0.0.1:<port>)
                  CRM_<S>_LISTEN        where it binds (default: 127.0.0.1 and the port of _ADDR)
                  CRM_<S>_METRICS_LISTEN  its Prometheus endpoint (default 127.0.0.1:<metrics port>)
A value that is set but malformed stops the service at start with a message naming the variable."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from crm_platform.nats_auth import NatsCredentials


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    grpc_port: int
    metrics_port: int


# The platform's services and their default ports (gateway: HTTP 8080, metrics on /metrics there;
# the web application 8090; the embedded NATS 4222). All lie below Linux's ephemeral range
# (32768-60999), where the kernel picks the local port of outgoing connections: a port there can be
# held for a moment by some connection, and a (re)starting server then fails to bind it.
SERVICES: dict[str, ServiceInfo] = {
    s.name: s
    for s in (
        ServiceInfo("identity", 7101, 9101),
        ServiceInfo("contacts", 7102, 9102),
        ServiceInfo("deals", 7103, 9103),
        ServiceInfo("quotes", 7104, 9104),
        ServiceInfo("campaigns", 7105, 9105),
        ServiceInfo("reporting", 7106, 9106),
        ServiceInfo("canvas", 7107, 9107),
    )
}


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message names the variable."""


def _check_hostport(value: str, var: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{var} must be host:port, got '{value}'")
    return value


class PlatformSettings(BaseSettings):
    """Settings every process reads (prefix CRM_)."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    # This process's own NATS user (an nkey seed, SU...): the server lets each user publish only
    # its own events (crm_platform.nats_auth). Empty: connect without credentials (a NATS
    # without authorization, which only tests and benchmarks run).
    nats_nkey_seed: str = ""
    nats_tls_ca_file: str = ""
    data_dir: Path = Path(".crm/data")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    # Shared secret the gateway sends in gRPC metadata; services refuse calls without it when set.
    internal_token: str = ""
    # Outbox relay: rows per batch, idle poll interval, backoff cap while NATS is unreachable.
    relay_batch_size: int = 256
    relay_poll_seconds: float = 0.5
    relay_max_backoff_seconds: float = 10.0
    # Days a published outbox row is kept (so a stream can be replayed from the databases).
    outbox_retention_days: int = 7
    # Deadline for every gRPC call a service or the gateway makes, in seconds; a bulk call (an
    # import) may ask for more, up to the maximum.
    grpc_deadline_seconds: float = 5.0
    grpc_max_deadline_seconds: float = 300.0
    # A gRPC server closes each connection (GOAWAY) after this many seconds, letting in-flight
    # calls finish within the grace, so that clients dial again and spread over new replicas.
    # 0 = connections live for ever.
    grpc_max_connection_age_seconds: float = 300.0
    grpc_max_connection_age_grace_seconds: float = 30.0
    # Deliveries of one event before a consumer moves it to its dead-letter table.
    consumer_max_deliver: int = 5
    # JetStream stream replicas (3 in production, 1 embedded).
    stream_replicas: int = 1
    # `crm up`: seconds from its start until every process must be ready (a loaded machine or a
    # first start that runs every migration may need more).
    start_timeout: float = 120.0
    # Apply the service's migrations when it starts. Off where a job runs `crm migrate` before a
    # rollout (Kubernetes): the service then refuses to start on a database not at head.
    migrate_on_start: bool = True

    @field_validator("start_timeout")
    @classmethod
    def _start_timeout(cls, v: float) -> float:
        if not 0 < v <= 3600:
            raise ValueError(f"CRM_START_TIMEOUT must be seconds between 0 and 3600, got {v}")
        return v

    @field_validator("grpc_max_connection_age_seconds", "grpc_max_connection_age_grace_seconds")
    @classmethod
    def _connection_age(cls, v: float, info: ValidationInfo) -> float:
        if v < 0:
            raise ValueError(f"CRM_{str(info.field_name).upper()} must be seconds (0 or more), got {v}")
        return v

    @field_validator("nats_url")
    @classmethod
    def _nats(cls, v: str) -> str:
        for url in v.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"CRM_NATS_URL must be nats://host:port[,...], got '{v}'")
        return v

    @field_validator("nats_nkey_seed")
    @classmethod
    def _seed(cls, v: str) -> str:
        from crm_platform.nats_auth import public_key  # nats_auth imports this module

        if v:
            try:
                public_key(v)
            except ValueError as exc:  # never echo the value: it is a secret
                raise ValueError(f"CRM_NATS_NKEY_SEED is {exc}") from None
        return v

    def nats_credentials(self, user: str) -> NatsCredentials | None:
        """This process's NATS identity as `user` (a service's name, or "gateway"), if a seed is set."""
        from crm_platform.nats_auth import NatsCredentials

        return NatsCredentials(user, self.nats_nkey_seed) if self.nats_nkey_seed else None

    @field_validator("nats_tls_ca_file")
    @classmethod
    def _ca(cls, v: str) -> str:
        if v and not Path(v).is_file():
            raise ValueError(f"CRM_NATS_TLS_CA_FILE names no file: '{v}'")
        return v


class ServiceSettings(BaseSettings):
    """One service's own settings (prefix CRM_<SERVICE>_)."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = ""
    addr: str = ""
    listen: str = ""
    metrics_listen: str = ""


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    database_url: str
    addr: str
    listen: str
    metrics_listen: str
    platform: PlatformSettings


S = TypeVar("S")


def load_settings(factory: Callable[[], S], what: str) -> S:
    """The settings `factory` reads from the environment, or ConfigError naming each bad value."""
    try:
        return factory()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad configuration for {what}: {problems}") from None


def platform_settings() -> PlatformSettings:
    return load_settings(PlatformSettings, "the platform (CRM_*)")


def service_config(name: str) -> ServiceConfig:
    if name not in SERVICES:
        raise ConfigError(f"unknown service '{name}' (known: {', '.join(SERVICES)})")
    info = SERVICES[name]
    prefix = f"CRM_{name.upper()}_"
    platform = platform_settings()
    own = load_settings(
        # _env_prefix is an argument of BaseSettings.__init__ that mypy cannot see without
        # pydantic's mypy plugin (it reads the signature made from the fields)
        lambda: ServiceSettings(_env_prefix=prefix),  # type: ignore[call-arg]  # see above
        f"service {name} ({prefix}*)",
    )
    addr = own.addr or f"127.0.0.1:{info.grpc_port}"
    listen = own.listen or f"127.0.0.1:{addr.rpartition(':')[2]}"
    metrics = own.metrics_listen or f"127.0.0.1:{info.metrics_port}"
    try:
        _check_hostport(addr, prefix + "ADDR")
        _check_hostport(listen, prefix + "LISTEN")
        _check_hostport(metrics, prefix + "METRICS_LISTEN")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    db_url = own.database_url or f"sqlite:///{(platform.data_dir / f'{name}.db').resolve()}"
    if not db_url.startswith(("sqlite", "postgresql")):
        raise ConfigError(f"{prefix}DATABASE_URL must be a sqlite:// or postgresql:// URL, got '{db_url}'")
    return ServiceConfig(name, db_url, addr, listen, metrics, platform)


def peer_addr(name: str) -> str:
    """Where to dial a peer service's gRPC server (CRM_<NAME>_ADDR or its default)."""
    info = SERVICES[name]
    addr = os.environ.get(f"CRM_{name.upper()}_ADDR") or f"127.0.0.1:{info.grpc_port}"
    try:
        return _check_hostport(addr, f"CRM_{name.upper()}_ADDR")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
