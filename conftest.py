"""Fixtures shared by every test: a real nats-server with JetStream per test session (on a free
port, never the machine's own) running the platform's generated per-user permissions, with
every service signed in as its own NATS user (so the suite proves those permissions suffice),
databases on SQLite and, when CRM_TEST_POSTGRES_URL names a server, on PostgreSQL (a fresh
database per test), and services started in-process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.grpc_client import close_channels
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime, ServiceSpec
from crm_platform.testing import nats_credentials, scratch_postgres, secured_nats_server

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = secured_nats_server(tmp_path_factory.mktemp("nats") / "store")
    yield server
    server.stop()


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("CRM_TEST_POSTGRES_URL is not set (CI sets it): PostgreSQL variant skipped")
    with scratch_postgres(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


def service_config_for(name: str, database_url: str, nats_url: str, **platform: object) -> ServiceConfig:
    """A service's configuration for a test, with its own NATS user's seed when `nats_url` is a
    server started with the generated permissions."""
    creds = nats_credentials(nats_url, name)
    if creds is not None:
        platform.setdefault("nats_nkey_seed", creds.seed)
    settings = PlatformSettings(nats_url=nats_url, relay_poll_seconds=0.05, **platform)  # type: ignore[arg-type]
    return ServiceConfig(
        name=name,
        database_url=database_url,
        addr="127.0.0.1:0",
        listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        platform=settings,
    )


@pytest.fixture
def start_service(nats_server: NatsServer) -> Iterator[Callable[..., ServiceRuntime]]:
    """Starts a service in this process on free ports; stops it after the test."""
    started: list[ServiceRuntime] = []

    def _start(
        spec: ServiceSpec,
        database_url: str,
        nats_url: str | None = None,
        *,
        wait_ready: bool = True,
        **platform: object,
    ) -> ServiceRuntime:
        config = service_config_for(spec.name, database_url, nats_url or nats_server.url, **platform)
        runtime = ServiceRuntime(spec, config)
        started.append(runtime)
        runtime.start()
        if wait_ready:
            assert runtime.ready.wait(20), f"{spec.name} did not become ready"
        return runtime

    yield _start
    for runtime in reversed(started):
        runtime.stop(grace=1)
    # The next test's services may get these ports again: no channel to a stopped one is kept.
    close_channels()
