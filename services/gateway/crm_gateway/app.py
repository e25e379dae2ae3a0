"""The gateway's Flask application factory: request ids, body size limits, problem+json errors,
health (/healthz alive, /readyz every service SERVING), metrics, and the resource blueprints."""

from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from flask import Flask, Response, g, request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from crm_gateway import clients
from crm_gateway.api import ProblemError, UpstreamError, respond
from crm_gateway.problems import from_grpc, problem
from crm_platform.config import SERVICES
from crm_platform.context import new_request_id, request_id_var
from crm_platform.grpc_client import channel_to
from crm_platform.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests served by the gateway.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds", "Time to serve an HTTP request.", ["route", "method"], buckets=LATENCY_BUCKETS
)
_health_pool = ThreadPoolExecutor(max_workers=len(SERVICES), thread_name_prefix="readyz")


def create_app(*, max_body_bytes: int = 1024 * 1024, services: list[str] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(clients.bp)
    ready_services = list(SERVICES) if services is None else services

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _REQUEST_ID_OK.match(incoming) else new_request_id()
        g.request_id_token = request_id_var.set(rid)
        g.started = time.perf_counter()
        if request.content_length is not None and request.content_length > max_body_bytes:
            raise RequestEntityTooLarge()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = request_id_var.get()
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)

    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError) -> Response:
        return problem(exc.status, exc.code, exc.detail, **exc.extra)

    @app.errorhandler(UpstreamError)
    def _upstream(exc: UpstreamError) -> Response:
        return from_grpc(exc.info, exc.service)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        return problem(413, "body_too_large", f"the request body must be at most {max_body_bytes} bytes")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = problem(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal_error", "internal error (logged with the request id)")

    @app.get("/healthz")
    def healthz() -> Response:
        return respond({"status": "alive"})

    @app.get("/readyz")
    def readyz() -> Response:
        states = dict(zip(ready_services, _health_pool.map(_check, ready_services), strict=True))
        ready = all(s == "SERVING" for s in states.values())
        return respond({"status": "ready" if ready else "not_ready", "services": states}, 200 if ready else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return app


def _check(service: str) -> str:
    try:
        res = health_pb2_grpc.HealthStub(channel_to(service)).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)
    except grpc.RpcError as exc:
        return "UNREACHABLE" if exc.code() == grpc.StatusCode.UNAVAILABLE else exc.code().name
