"""Readiness that means something (crm_platform.service's dependency watcher, real nats-server,
real SQLite/PostgreSQL, real gRPC): a paused NATS shows as degraded under the health name "nats"
and in crm_dependency_up while the service stays SERVING and goes on taking writes; a database that
refuses connections makes the service NOT_SERVING until it answers again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, make_url, text

from crm_canvas.bootstrap import spec
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import scratch_postgres, secured_nats_server

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _health(runtime: ServiceRuntime, name: str = "") -> int:
    with grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        return int(
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=name), timeout=2).status
        )


def _eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def _gauge(dependency: str) -> float | None:
    return REGISTRY.get_sample_value("crm_dependency_up", {"service": "canvas", "dependency": dependency})


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = secured_nats_server(tmp_path / "nats")
    yield server
    if server.proc is not None and server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


def test_a_paused_nats_shows_degraded_while_the_service_stays_serving(
    start_service: Callable[..., ServiceRuntime], own_nats: NatsServer, tmp_path: Path
) -> None:
    runtime = start_service(spec(), f"sqlite:///{tmp_path / 'canvas.db'}", own_nats.url)
    _eventually(lambda: _health(runtime, "nats") == SERVING and _gauge("nats") == 1)
    assert _health(runtime, "database") == SERVING and _gauge("database") == 1
    assert own_nats.proc is not None
    os.kill(own_nats.proc.pid, signal.SIGSTOP)
    try:
        _eventually(lambda: _health(runtime, "nats") == NOT_SERVING)
        assert _gauge("nats") == 0
        assert _health(runtime) == SERVING  # writes still go into the outbox
    finally:
        os.kill(own_nats.proc.pid, signal.SIGCONT)
    _eventually(lambda: _health(runtime, "nats") == SERVING and _gauge("nats") == 1)
    # The late answer to the check made during the pause did not break the connection (nats.py
    # stops reading a connection whose flush was cancelled): JetStream still acknowledges.
    assert runtime.bus is not None and runtime._loop is not None
    ack = runtime._loop.submit(runtime.bus.js.publish("crm.canvas.v1.check", b"x")).result(5)
    assert ack.stream == "CRM_CANVAS"


@pytest.mark.postgres
def test_a_database_refusing_connections_makes_the_service_not_serving(
    start_service: Callable[..., ServiceRuntime],
) -> None:
    if not POSTGRES_URL:
        pytest.skip("CRM_TEST_POSTGRES_URL is not set (CI sets it): PostgreSQL variant skipped")
    with scratch_postgres(POSTGRES_URL) as url:
        runtime = start_service(spec(), url)
        _eventually(lambda: _health(runtime) == SERVING and _gauge("database") == 1)
        database = make_url(url).database
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": database}
                )
            _eventually(lambda: _health(runtime) == NOT_SERVING)
            assert _health(runtime, "database") == NOT_SERVING and _gauge("database") == 0
            assert _health(runtime, "liveness") == SERVING  # out of rotation, not restarted
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
            _eventually(lambda: _health(runtime) == SERVING and _gauge("database") == 1)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
            admin.dispose()
