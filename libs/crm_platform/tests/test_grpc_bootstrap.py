"""The gRPC bootstrap on a real service: health is NOT_SERVING until NATS is connected, then
SERVING, and NOT_SERVING again on shutdown; reflection lists the services; the internal token is
enforced; the request id travels in metadata; metrics count calls by status code."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.bootstrap import SPEC
from crm_platform.context import request_id_var
from crm_platform.grpc_client import close_channels, stub
from crm_platform.nats_server import NatsServer, free_port
from crm_platform.service import ServiceRuntime


def _health(port: int, service: str = "") -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status


def test_health_follows_nats_and_shutdown(
    start_service: Callable[..., ServiceRuntime], sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    rt = start_service(SPEC, sqlite_url, f"nats://127.0.0.1:{port}", wait_ready=False)
    assert _health(rt.grpc_port) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert _health(rt.grpc_port, "crm.contacts.v1.ContactsService") == health_pb2.HealthCheckResponse.NOT_SERVING
    # alive (no restart wanted) while not ready
    assert _health(rt.grpc_port, "liveness") == health_pb2.HealthCheckResponse.SERVING
    server = NatsServer(tmp_path / "nats", port=port).start()
    try:
        assert rt.ready.wait(20)
        assert _health(rt.grpc_port) == health_pb2.HealthCheckResponse.SERVING
        assert _health(rt.grpc_port, "crm.contacts.v1.ContactsService") == health_pb2.HealthCheckResponse.SERVING
        # What stop() does first: the dependency watcher ends, then health says NOT_SERVING (with the
        # watcher still running, its next check would say SERVING again while the database answers).
        rt._stop_watching.set()
        assert rt.watcher is not None
        rt.watcher.join(10)
        rt.server.set_serving(False)  # type: ignore[union-attr]
        assert _health(rt.grpc_port) == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        server.stop()


def test_reflection_lists_the_service(start_service: Callable[..., ServiceRuntime], sqlite_url: str) -> None:
    rt = start_service(SPEC, sqlite_url)
    with grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}") as ch:
        responses = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"crm.contacts.v1.ContactsService", "grpc.health.v1.Health"} <= names


def test_internal_token_request_id_and_metrics(
    start_service: Callable[..., ServiceRuntime], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = start_service(SPEC, sqlite_url, internal_token="s3cret")
    addr = f"127.0.0.1:{rt.grpc_port}"
    with grpc.insecure_channel(addr) as ch:
        raw = contacts_pb2_grpc.ContactsServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            raw.ListClients(contacts_pb2.ListClientsRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # health stays open (probes carry no token)
        assert health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2).status == 1

    monkeypatch.setenv("CRM_INTERNAL_TOKEN", "s3cret")
    close_channels()
    token = request_id_var.set("rid-from-gateway")
    try:
        client = stub(contacts_pb2_grpc.ContactsServiceStub, "contacts", addr)
        created = client.CreateClient(
            contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name="Token SA", owner_id="u1"))
        ).client
    finally:
        request_id_var.reset(token)
        close_channels()
    assert created.id
    assert rt.db is not None
    with rt.db.read() as s:
        from crm_platform.tables import outbox_events

        assert s.execute(outbox_events.select()).one().request_id == "rid-from-gateway"
    with urllib.request.urlopen(f"http://127.0.0.1:{rt.metrics_port}/metrics", timeout=5) as res:
        text = res.read().decode()
    assert 'crm_grpc_server_requests_total{code="UNAUTHENTICATED",method="ListClients",service="contacts"}' in text
    assert 'crm_grpc_server_requests_total{code="OK",method="CreateClient",service="contacts"}' in text
    assert "crm_grpc_server_handling_seconds_bucket" in text
