"""Operations routes: liveness, readiness, Prometheus metrics and the API's own description."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from flask import Response, current_app, redirect, request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel
from werkzeug.wrappers import Response as WerkzeugResponse

from crm_gateway.api import ProblemError, respond
from crm_gateway.routing import Resource
from crm_platform.config import SERVICES
from crm_platform.grpc_client import channel_to

res = Resource("system", "Operations", "Health, readiness, metrics and this document.")
_health_pool = ThreadPoolExecutor(max_workers=len(SERVICES), thread_name_prefix="readyz")


class Alive(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    services: dict[str, str]
    nats: dict[str, str]
    degraded: list[str]
    identity_events: str


@res.route("GET", "/healthz", access="public", response=Alive, upstream=False, errors=())
def healthz() -> Response:
    """Liveness: the gateway process answers."""
    return respond({"status": "alive"})


@res.route("GET", "/readyz", access="public", response=Readiness, upstream=False, errors=(503,))
def readyz() -> Response:
    """Readiness: the gateway can serve. That needs only a way to check bearer tokens: the identity
    service answering, or the identity event feed being current (`identity_events`: `synced`; else
    `catching_up`, checking with the identity service on each request). A backend that is down does
    not make the gateway unready (every gateway replica would leave the load balancer at once, and
    the other routes with it): its routes answer 503 problem+json, and it is listed here.
    `services` is each backend's gRPC health (SERVING, NOT_SERVING: its database does not answer,
    UNREACHABLE ...), `nats` its link to NATS (`connected`, or `degraded`: its events wait in its
    outbox), `degraded` the backends not SERVING or not connected to NATS."""
    services: list[str] = current_app.config["CRM_READY_SERVICES"]
    states = backend_states(services)
    auth = current_app.extensions["crm_auth"]
    synced = auth.synced
    ready = synced or states.get("identity", ("SERVING", ""))[0] == "SERVING"
    body = {
        "status": "ready" if ready else "not_ready",
        "services": {name: state for name, (state, _nats) in states.items()},
        "nats": {name: nats for name, (_state, nats) in states.items()},
        "degraded": [name for name, (state, nats) in states.items() if state != "SERVING" or nats != "connected"],
        "identity_events": "synced" if synced else "catching_up",
    }
    return respond(body, 200 if ready else 503)


def backend_states(services: list[str]) -> dict[str, tuple[str, str]]:
    """Each backend's health and NATS link, asked in parallel (at most about a second)."""
    return dict(zip(services, _health_pool.map(_check, services), strict=True))


def _check(service: str) -> tuple[str, str]:
    stub = health_pb2_grpc.HealthStub(channel_to(service))
    try:
        res_ = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        state = health_pb2.HealthCheckResponse.ServingStatus.Name(res_.status)
    except grpc.RpcError as exc:
        return ("UNREACHABLE" if exc.code() == grpc.StatusCode.UNAVAILABLE else exc.code().name), "unknown"
    try:  # the service's own view of its NATS link (crm_platform.service watches it)
        nats = stub.Check(health_pb2.HealthCheckRequest(service="nats"), timeout=1.0)
        link = "connected" if nats.status == health_pb2.HealthCheckResponse.SERVING else "degraded"
    except grpc.RpcError as exc:
        link = "unknown" if exc.code() != grpc.StatusCode.UNAVAILABLE else "degraded"
    return state, link


class _BackendCollector:
    """crm_gateway_backend_up and crm_gateway_backend_nats_up, asked of the backends at each scrape."""

    def __init__(self, services: list[str]):
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "crm_gateway_backend_up", "1 while the backend service reports SERVING to the gateway.", labels=["service"]
        )
        nats = GaugeMetricFamily(
            "crm_gateway_backend_nats_up",
            "1 while the backend reaches NATS (0: its events wait in its outbox).",
            labels=["service"],
        )
        for name, (state, link) in backend_states(self.services).items():
            up.add_metric([name], 1 if state == "SERVING" else 0)
            nats.add_metric([name], 1 if link == "connected" else 0)
        yield up
        yield nats


def _loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


@res.route("GET", "/metrics", access="public", upstream=False, errors=(401, 404), content_type="text/plain")
def metrics() -> Response:
    """Prometheus metrics of the gateway.
    With CRM_GATEWAY_METRICS_TOKEN set, send it as a bearer token; without it, only loopback callers
    are answered (scrape through a sidecar or a private port, never the public ingress)."""
    token: str = current_app.config["CRM_METRICS_TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise ProblemError(401, "invalid_token", "send the metrics token as a bearer token")
    elif not _loopback(request.remote_addr):
        raise ProblemError(404, "not_found", "not found")
    backends = CollectorRegistry()
    backends.register(_BackendCollector(current_app.config["CRM_READY_SERVICES"]))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest()
    return Response(text + generate_latest(backends), mimetype=CONTENT_TYPE_LATEST)


@res.route("GET", "/api/v1/openapi.json", access="public", response=dict[str, Any], upstream=False, errors=())
def openapi_document() -> Response:
    """This document (OpenAPI 3.1)."""
    return respond(current_app.extensions["crm_openapi"])


@res.route("GET", "/api/docs", access="public", upstream=False, errors=(), status=302, response_headers=("Location",))
def api_docs() -> WerkzeugResponse:
    """The API's human-readable page (Swagger UI, served by the gateway itself: no internet needed)."""
    return redirect("/api/docs/", code=302)
