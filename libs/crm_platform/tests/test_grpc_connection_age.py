"""Connections to a gRPC server are closed after their maximum age (a GOAWAY), so clients dial
again and spread over replicas that joined since: the server options come from
CRM_GRPC_MAX_CONNECTION_AGE_SECONDS and _GRACE_SECONDS, a malformed value is refused naming its
variable, and a real client on loopback is seen to reconnect while its calls keep succeeding."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_platform.config import ConfigError
from crm_platform.grpc_server import GrpcServer


def test_the_server_options_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_GRPC_MAX_CONNECTION_AGE_SECONDS", "120")
    monkeypatch.setenv("CRM_GRPC_MAX_CONNECTION_AGE_GRACE_SECONDS", "7.5")
    server = GrpcServer("test", "127.0.0.1:0")
    try:
        options = dict(server.options)
        assert options["grpc.max_connection_age_ms"] == 120_000
        assert options["grpc.max_connection_age_grace_ms"] == 7_500
    finally:
        server.stop(0)


def test_the_default_age_is_five_minutes_and_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_GRPC_MAX_CONNECTION_AGE_SECONDS", raising=False)
    monkeypatch.delenv("CRM_GRPC_MAX_CONNECTION_AGE_GRACE_SECONDS", raising=False)
    server = GrpcServer("test", "127.0.0.1:0")
    assert dict(server.options)["grpc.max_connection_age_ms"] == 300_000
    server.stop(0)
    off = GrpcServer("test", "127.0.0.1:0", max_connection_age=0)
    assert "grpc.max_connection_age_ms" not in dict(off.options)
    off.stop(0)


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_a_malformed_age_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CRM_GRPC_MAX_CONNECTION_AGE_SECONDS", value)
    with pytest.raises(ConfigError, match="grpc_max_connection_age_seconds"):
        GrpcServer("test", "127.0.0.1:0")


def test_a_client_reconnects_after_the_goaway_and_no_call_fails() -> None:
    server = GrpcServer("test", "127.0.0.1:0", max_connection_age=0.5, max_connection_age_grace=1.0)
    server.start()
    states: list[grpc.ChannelConnectivity] = []
    lock = threading.Lock()

    def _record(state: grpc.ChannelConnectivity) -> None:
        with lock:
            states.append(state)

    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    channel.subscribe(_record, try_to_connect=True)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 3.0
        calls = 0
        while time.monotonic() < deadline:
            # wait_for_ready: a call made while the channel dials again waits instead of failing.
            reply = health.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=2, wait_for_ready=True)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            calls += 1
            time.sleep(0.05)
        with lock:
            ready = [s for s in states if s == grpc.ChannelConnectivity.READY]
        # Connections live about half a second (+/-10%): in three seconds the client was sent away
        # and connected again several times, and every call meanwhile succeeded.
        assert len(ready) >= 3, states
        assert calls > 20
    finally:
        channel.unsubscribe(_record)
        channel.close()
        server.stop(0)


def test_without_an_age_the_connection_stays() -> None:
    server = GrpcServer("test", "127.0.0.1:0", max_connection_age=0, max_connection_age_grace=0)
    server.start()
    states: list[grpc.ChannelConnectivity] = []
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    channel.subscribe(states.append, try_to_connect=True)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            health.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=2, wait_for_ready=True)
            time.sleep(0.05)
        assert states.count(grpc.ChannelConnectivity.READY) == 1, states
    finally:
        channel.unsubscribe(states.append)
        channel.close()
        server.stop(0)
