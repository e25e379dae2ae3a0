"""Prometheus metrics of the web application: pages served by route and status, and how long
they took (with multiprocess mode under several gunicorn workers, as the gateway)."""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from crm_platform.metrics import LATENCY_BUCKETS

REQUESTS = Counter("crm_web_requests_total", "Requests served by the web application.", ["route", "method", "status"])
LATENCY = Histogram(
    "crm_web_request_duration_seconds", "Time to answer a request, by route.", ["route"], buckets=LATENCY_BUCKETS
)

# Health probes and Prometheus scrapes: left out of the request metrics.
UNCOUNTED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def install(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        # The route's pattern, never the URL: ids must not become label values.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        # Probes and scrapes are not traffic (they would water down the error ratio the alerts use).
        if route in UNCOUNTED_ROUTES:
            return response
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        started = g.get("metrics_start")
        if started is not None:
            LATENCY.labels(route).observe(time.perf_counter() - started)
        return response


def render() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
