"""The gateway's Flask application factory: request ids, tracing and access logs, body size limits, authentication of
every route not declared public, problem+json errors, CORS, metrics, Swagger UI at /api/docs, and
the resources' blueprints. Every answer says `X-Content-Type-Options: nosniff` (errors, health,
docs and metrics included); every answer to an authenticated request or about sessions says
`Cache-Control: no-store`, so that no shared cache keeps a user's records or tokens."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import grpc
from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from flask_cors import CORS
from flask_swagger_ui import get_swaggerui_blueprint
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from crm_gateway import (
    activities,
    budgets,
    campaigns,
    canvases,
    clients,
    contacts,
    deals,
    indicators,
    pipelines,
    products,
    prospects,
    quotes,
    reports,
    sessions,
    system,
    users,
    webhooks,
)
from crm_gateway.api import ProblemError, UpstreamError
from crm_gateway.auth import Authenticator, AuthError, Directory, IdentityFeed
from crm_gateway.openapi import build_document
from crm_gateway.problems import from_grpc, problem
from crm_gateway.routing import REGISTRY, IdConverter
from crm_gateway.settings import GatewaySettings, gateway_settings
from crm_platform import tracing
from crm_platform.config import SERVICES, platform_settings
from crm_platform.context import actor_var, new_request_id, request_id_var
from crm_platform.grpc_client import decode_error
from crm_platform.metrics import LATENCY_BUCKETS
from crm_platform.nats_auth import NatsCredentials

log = logging.getLogger(__name__)

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DOCS_URL = "/api/docs"
# Routes a user whose password must be changed may still call.
PASSWORD_CHANGE_ALLOWED = frozenset({"auth.me", "auth.change_password", "auth.logout"})
# Public routes whose answers carry tokens: never kept by a cache either.
SESSION_PATHS = "/api/v1/auth/"

HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests served by the gateway.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds", "Time to serve an HTTP request.", ["route", "method"], buckets=LATENCY_BUCKETS
)
# Health probes and Prometheus scrapes: left out of the request metrics (RED) above.
UNCOUNTED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
AUTH_FAILURES = Counter("crm_http_auth_failures_total", "Requests refused for their credentials.", ["code"])

BLUEPRINTS = (
    system.res,
    sessions.res,
    users.users,
    users.teams,
    users.tokens,
    clients.res,
    contacts.res,
    prospects.res,
    pipelines.res,
    deals.res,
    activities.res,
    products.res,
    quotes.res,
    campaigns.res,
    canvases.res,
    webhooks.res,
    reports.res,
    budgets.res,
    indicators.res,
)


def is_public(endpoint: str | None) -> bool:
    """Routes anyone may call: those declared public, Swagger UI's page and files."""
    if endpoint is None:
        return True  # no route matched: the 404/405 handler answers
    op = REGISTRY.by_endpoint.get(endpoint)
    if op is not None:
        return op.access == "public"
    return endpoint.startswith("swagger_ui.")


def create_app(
    settings: GatewaySettings | None = None,
    *,
    services: list[str] | None = None,
    nats_url: str | None = None,
    nats_credentials: NatsCredentials | None = None,
    follow_identity_events: bool = True,
) -> Flask:
    settings = settings or gateway_settings()
    app = Flask(__name__, static_folder=None)
    # First: its hooks run around the others (the trace and the access log cover authentication).
    tracing.instrument_flask(app, "gateway")
    app.url_map.converters["id"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["CRM_READY_SERVICES"] = list(SERVICES) if services is None else services
    app.config["CRM_METRICS_TOKEN"] = settings.metrics_token
    json_provider = DefaultJSONProvider(app)
    json_provider.sort_keys = False
    app.json = json_provider
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware
    for resource in BLUEPRINTS:
        app.register_blueprint(resource.blueprint)
    app.register_blueprint(
        get_swaggerui_blueprint(DOCS_URL, "/api/v1/openapi.json", config={"app_name": "CRM API"}),
        url_prefix=DOCS_URL,
    )
    if settings.cors_origin_list:
        CORS(
            app,
            origins=settings.cors_origin_list,
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-Id"],
            expose_headers=["ETag", "Location", "X-Request-Id", "Retry-After"],
            max_age=600,
        )
    app.extensions["crm_openapi"] = build_document()

    directory = Directory()
    feed = None
    if follow_identity_events:
        platform = platform_settings()
        feed = IdentityFeed(
            directory,
            nats_url or platform.nats_url,
            settings.token_max_age_seconds,
            # Its own NATS user "gateway" (CRM_NATS_NKEY_SEED), unless the caller gives one.
            nats_credentials or platform.nats_credentials("gateway"),
            platform.nats_tls_ca_file,
        )
        feed.start()
    app.extensions["crm_auth"] = Authenticator(
        directory, feed, max_token_age=settings.token_max_age_seconds, fallback_ttl=settings.auth_fallback_cache_seconds
    )
    max_body = settings.max_body_bytes

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _REQUEST_ID_OK.match(incoming) else new_request_id()
        g.request_id_token = request_id_var.set(rid)
        g.started = time.perf_counter()
        op = REGISTRY.by_endpoint.get(request.endpoint or "")
        limit = op.max_body if op is not None and op.max_body else max_body
        request.max_content_length = limit
        g.max_body = limit
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()

    @app.before_request
    def _authenticate() -> None:
        if request.method == "OPTIONS" or is_public(request.endpoint):
            return
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise AuthError("missing_token", "send a bearer token (sign in at POST /api/v1/auth/login)")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("invalid_token", "the Authorization header must be 'Bearer <token>'")
        principal = app.extensions["crm_auth"].authenticate(token.strip())
        g.principal = principal
        g.actor_token = actor_var.set(principal.id)
        if principal.user.password_change_required and request.endpoint not in PASSWORD_CHANGE_ALLOWED:
            raise ProblemError(
                403,
                "password_change_required",
                "choose a new password first: POST /api/v1/auth/password with "
                '{"current_password": "...", "new_password": "... (10 characters or more)"}, then sign in again',
            )

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = request_id_var.get()
        response.headers["X-Content-Type-Options"] = "nosniff"
        if (
            not is_public(request.endpoint)
            or "Authorization" in request.headers
            or request.path.startswith(SESSION_PATHS)
        ):
            response.headers["Cache-Control"] = "no-store"
        route = request.url_rule.rule if request.url_rule else "unmatched"
        # Probes and scrapes are not traffic: counted, they alone would pass the alerts' minimum
        # request rate and water down the error ratio.
        if route not in UNCOUNTED_ROUTES:
            HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
            HTTP_LATENCY.labels(route, request.method).observe(
                time.perf_counter() - g.get("started", time.perf_counter())
            )
        return response

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        for name, var in (("request_id_token", request_id_var), ("actor_token", actor_var)):
            token = g.pop(name, None)
            if token is not None:
                var.reset(token)

    @app.errorhandler(AuthError)
    def _auth(exc: AuthError) -> Response:
        AUTH_FAILURES.labels(exc.code).inc()
        response = problem(401, exc.code, exc.detail)
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="crm", error="invalid_token", error_description="{exc.code}"'
        )
        return response

    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError) -> Response:
        return problem(exc.status, exc.code, exc.detail, **exc.extra)

    @app.errorhandler(UpstreamError)
    def _upstream(exc: UpstreamError) -> Response:
        if exc.info.code == grpc.StatusCode.ABORTED and request.headers.get("If-Match"):
            return problem(412, "precondition_failed", exc.info.message)
        response = from_grpc(exc.info, exc.service)
        retry = exc.info.metadata.get("retry_after_seconds")
        if response.status_code == 429 and retry:
            response.headers["Retry-After"] = retry
        return response

    @app.errorhandler(grpc.RpcError)
    def _rpc(exc: grpc.RpcError) -> Response:  # raised while authenticating (identity asked directly)
        return from_grpc(decode_error(exc), "identity")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        return problem(413, "body_too_large", f"the request body must be at most {g.get('max_body', max_body)} bytes")

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

    return app


def close_app(app: Flask) -> None:
    """Stops the identity event feed (tests create many apps in one process)."""
    auth: Any = app.extensions.get("crm_auth")
    if auth is not None and auth.feed is not None:
        auth.feed.close()
