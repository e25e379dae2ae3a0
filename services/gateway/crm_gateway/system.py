"""Operations routes: liveness, readiness, Prometheus metrics and the API's own description."""

from __future__ import annotations

import hmac
import ipaddress
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from flask import Response, current_app, redirect, request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prom_multiprocess
from pydantic import BaseModel

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
    identity_events: str


@res.route("GET", "/healthz", access="public", response=Alive, upstream=False, errors=())
def healthz() -> Response:
    """Liveness: the gateway process answers."""
    return respond({"status": "alive"})


@res.route("GET", "/readyz", access="public", response=Readiness, upstream=False, errors=(503,))
def readyz() -> Response:
    """Readiness: every service behind the gateway reports SERVING.
    `identity_events` tells whether sign-outs and deactivations reach this process through the event
    feed (`synced`) or are being checked with the identity service on each request (`catching_up`)."""
    services: list[str] = current_app.config["CRM_READY_SERVICES"]
    states = dict(zip(services, _health_pool.map(_check, services), strict=True))
    ready = all(s == "SERVING" for s in states.values())
    auth = current_app.extensions["crm_auth"]
    body = {
        "status": "ready" if ready else "not_ready",
        "services": states,
        "identity_events": "synced" if auth.synced else "catching_up",
    }
    return respond(body, 200 if ready else 503)


def _check(service: str) -> str:
    try:
        res_ = health_pb2_grpc.HealthStub(channel_to(service)).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(res_.status)
    except grpc.RpcError as exc:
        return "UNREACHABLE" if exc.code() == grpc.StatusCode.UNAVAILABLE else exc.code().name


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
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


@res.route("GET", "/api/v1/openapi.json", access="public", response=dict[str, Any], upstream=False, errors=())
def openapi_document() -> Response:
    """This document (OpenAPI 3.1)."""
    return respond(current_app.extensions["crm_openapi"])


@res.route("GET", "/api/docs", access="public", upstream=False, errors=(), status=302, response_headers=("Location",))
def api_docs() -> Response:
    """The API's human-readable page (Swagger UI, served by the gateway itself: no internet needed)."""
    return redirect("/api/docs/", code=302)
