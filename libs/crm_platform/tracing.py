"""Tracing with OpenTelemetry: one trace follows a request from the web application and the
gateway (HTTP) through the services (gRPC) and, by the `traceparent` stored in each outbox row and
sent as a NATS header, into the consumers that handle its events (W3C Trace Context throughout).

Off by default: no span is recorded or exported, and the API's no-op tracer only passes an
incoming `traceparent` on. Each process turns the SDK on at start (`configure`) when told to:
  OTEL_TRACES_EXPORTER         otlp | console | none (a comma list); unset: otlp when an OTLP
                               endpoint is set, none otherwise
  OTEL_EXPORTER_OTLP_ENDPOINT  (or ..._TRACES_ENDPOINT) the collector, OTLP over HTTP/protobuf
  OTEL_TRACES_SAMPLER(_ARG)    the SDK's sampler (default: parent-based, always on)
  OTEL_SDK_DISABLED=true       everything off whatever else is set
  CRM_TRACES_FILE              also append every span as one JSON line to this file (a debugging
                               aid; the tracing test collects the spans of every process with it)
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import Token
from typing import TYPE_CHECKING, Any, TypeAlias

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from crm_platform.config import ConfigError

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.datastructures import Headers

# The headers a span continues: gRPC metadata as a dict, or a Flask request's headers (whose
# lookups ignore case, as the W3C propagator needs: a dict copy of them would not).
Carrier: TypeAlias = "Mapping[str, str] | Headers"

log = logging.getLogger(__name__)

TRACEPARENT_HEADER = "traceparent"
TRACES_FILE_VARIABLE = "CRM_TRACES_FILE"
EXPORTERS_VARIABLE = "OTEL_TRACES_EXPORTER"
_KNOWN_EXPORTERS = ("otlp", "console", "none")
# At most this many links on the span of a batch of events (each link costs memory until export).
MAX_LINKS = 32

# W3C Trace Context only: the header every hop writes and reads (baggage is not used).
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("crm_platform")
_configured = False
_lock = threading.Lock()


def exporters_from_env(env: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters the environment asks for (empty: tracing off). Raises ConfigError naming
    OTEL_TRACES_EXPORTER for a value it does not know."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    raw = env.get(EXPORTERS_VARIABLE, "").strip().lower()
    if not raw:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        names = ["otlp"] if endpoint else []
    else:
        names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in _KNOWN_EXPORTERS]
    if unknown:
        raise ConfigError(
            f"{EXPORTERS_VARIABLE} must be a comma list of {', '.join(_KNOWN_EXPORTERS)}; got '{unknown[0]}'"
        )
    return [n for n in names if n != "none"]


def configure(service: str, env: Mapping[str, str] = os.environ) -> bool:
    """Installs the SDK's tracer provider for this process when the environment asks for an
    exporter (see the module's doc); returns whether tracing records. Once per process: a second
    call (another app built in the same process, tests) keeps the first provider. Gunicorn builds
    the gateway's app in each worker (no preload), so each worker has its own export thread."""
    global _configured
    names = exporters_from_env(env)
    traces_file = env.get(TRACES_FILE_VARIABLE, "").strip()
    with _lock:
        if _configured:
            return is_recording()
        if not names and not traces_file:
            return False
        # The sampler comes from OTEL_TRACES_SAMPLER (the SDK's default: parent-based, always on).
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"crm-{service}"}))
        exporters: list[SpanExporter] = []
        if "otlp" in names:
            exporters.append(OTLPSpanExporter())  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*
        if "console" in names:
            exporters.append(ConsoleSpanExporter())
        if traces_file:
            exporters.append(JsonLinesSpanExporter(traces_file))
        for exporter in exporters:
            # Batched off the request path (OTEL_BSP_* tune the batch size and delay).
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _configured = True
        log.info("tracing on for %s: %s", service, ", ".join([*names, *(["file"] if traces_file else [])]))
        return True


def is_recording() -> bool:
    """Whether this process records spans (an SDK provider is installed)."""
    return type(trace.get_tracer_provider()).__module__.startswith("opentelemetry.sdk")


def tracer() -> trace.Tracer:
    return _tracer


def inject(carrier: MutableMapping[str, str]) -> None:
    """Writes the current span's `traceparent` into a header mapping (nothing when there is none)."""
    _propagator.inject(carrier)


def extract(carrier: Carrier | None) -> Context:
    """The context an incoming header mapping names (a fresh one when it names none or a malformed one)."""
    return _propagator.extract(carrier or {})


def current_traceparent() -> str:
    """The `traceparent` of the current span, or "" outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT_HEADER, "")


def current_trace_id() -> str:
    """The current trace id (32 hex digits), or "" outside any trace; logs carry it."""
    ctx = trace.get_current_span().get_span_context()
    return trace.format_trace_id(ctx.trace_id) if ctx.is_valid else ""


@contextmanager
def server_span(name: str, carrier: Mapping[str, str] | None, kind: SpanKind = SpanKind.SERVER) -> Iterator[Span]:
    """A span for work asked by a caller (an HTTP request, a gRPC call), continuing the caller's
    trace when its headers carry one; current while the block runs."""
    with _tracer.start_as_current_span(name, context=extract(carrier), kind=kind) as span:
        yield span


@contextmanager
def client_span(name: str, carrier: MutableMapping[str, str]) -> Iterator[Span]:
    """A span for a call to a peer; writes its `traceparent` into the call's headers."""
    with _tracer.start_as_current_span(name, kind=SpanKind.CLIENT) as span:
        inject(carrier)
        yield span


@contextmanager
def consumer_span(
    name: str, traceparents: Iterable[str], attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A span for handling events. One producing trace: the span continues it (a child of the
    span that wrote the events). Several: a span of its own, linked to each of them (capped at
    MAX_LINKS), as the messaging conventions do for a batch."""
    contexts = []
    seen: set[tuple[int, int]] = set()
    for tp in traceparents:
        if not tp:
            continue
        sc = trace.get_current_span(extract({TRACEPARENT_HEADER: tp})).get_span_context()
        if sc.is_valid and (sc.trace_id, sc.span_id) not in seen:
            seen.add((sc.trace_id, sc.span_id))
            contexts.append(sc)
    parent: Context | None = Context()  # not the consumer loop's context: a batch starts afresh
    links: Sequence[Link] = ()
    if len(contexts) == 1:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0]))
    else:
        links = [Link(sc) for sc in contexts[:MAX_LINKS]]
    with _tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, links=links, attributes=dict(attributes or {})
    ) as span:
        yield span


def mark_error(span: Span, description: str) -> None:
    span.set_status(Status(StatusCode.ERROR, description))


class Started:
    """A span made current by `start_detached` and the token that restores the context before it
    (Flask's hooks and the gRPC interceptors start a span in one place and end it in another)."""

    def __init__(self, span: Span, token: Token[Context] | None):
        self.span, self.token = span, token


def start_detached(name: str, carrier: Carrier | None, kind: SpanKind = SpanKind.SERVER) -> Started:
    """Starts a span continuing the carrier's trace and makes it current until `finish`."""
    span = _tracer.start_span(name, context=extract(carrier), kind=kind, record_exception=False)
    token = otel_context.attach(trace.set_span_in_context(span))
    return Started(span, token)


def start_client(name: str, carrier: MutableMapping[str, str]) -> Started:
    """A client span for a call to a peer, child of the current span, written into the call's
    headers; not made current (the call ends in another thread: `finish_rpc` there)."""
    span = _tracer.start_span(name, kind=SpanKind.CLIENT, record_exception=False)
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return Started(span, None)


def finish(started: Started, error: BaseException | None = None) -> None:
    if error is not None:
        started.span.record_exception(error)
        mark_error(started.span, type(error).__name__)
    started.span.end()
    if started.token is not None:
        otel_context.detach(started.token)


# gRPC codes that make a server's span an error (the semantic conventions: the others are the
# caller's mistake, e.g. NOT_FOUND or INVALID_ARGUMENT, and the server did its job).
_SERVER_ERROR_CODES = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)


def finish_rpc(started: Started, code: int, code_name: str, *, server: bool) -> None:
    """Ends a gRPC call's span with its status code (an error as the conventions say)."""
    span = started.span
    if span.is_recording():
        span.set_attribute("rpc.grpc.status_code", code)
        if code_name != "OK" and (not server or code_name in _SERVER_ERROR_CODES):
            mark_error(span, code_name)
    finish(started)


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line (trace and span ids, parent, kind, service,
    name, times, attributes, links). One write per batch on a file opened for appending, so that
    the processes of a platform can share one file."""

    def __init__(self, path: str):
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            lines.append(
                json.dumps(
                    {
                        "trace_id": trace.format_trace_id(s.context.trace_id),
                        "span_id": trace.format_span_id(s.context.span_id),
                        "parent_id": trace.format_span_id(s.parent.span_id) if s.parent else "",
                        "kind": s.kind.name,
                        "service": s.resource.attributes.get("service.name", ""),
                        "name": s.name,
                        "start_ns": s.start_time,
                        "end_ns": s.end_time,
                        "status": s.status.status_code.name,
                        "attributes": {
                            k: v if isinstance(v, str | int | float | bool) else str(v)
                            for k, v in (s.attributes or {}).items()
                        },
                        "links": [
                            {
                                "trace_id": trace.format_trace_id(li.context.trace_id),
                                "span_id": trace.format_span_id(li.context.span_id),
                            }
                            for li in s.links
                        ],
                    },
                    ensure_ascii=False,
                )
            )
        data = ("\n".join(lines) + "\n").encode() if lines else b""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("cannot write spans to %s: %s", self.path, exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def shutdown() -> None:
    """Exports what is still batched (a process stopping calls it; the SDK also does at exit)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def instrument_flask(app: Flask, service: str, *, request_ids: bool = False) -> None:
    """Traces every request of a Flask application (a server span continuing the caller's
    `traceparent`, named by its route) and writes its access log line (crm_platform.logs).
    With `request_ids`, it also gives each request its request id (the caller's X-Request-Id when
    well formed, else a new one), for an app that does not make its own (the web application's
    calls then pass it on to the gateway).
    Call it first when building the app: its before-request hook then runs before the app's own
    (so that, say, the gateway's authentication call is in the trace) and its after-request hook
    after them (so that the line carries the final status and the request id)."""
    import re
    import time

    from flask import Response, g, request

    from crm_platform.context import current_request_id, new_request_id, request_id_var
    from crm_platform.logs import log_access  # logs imports this module for the trace id

    configure(service)
    well_formed_id = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

    @app.before_request
    def _trace_start() -> None:
        if request_ids:
            incoming = request.headers.get("X-Request-Id", "")
            g.crm_request_id = request_id_var.set(incoming if well_formed_id.match(incoming) else new_request_id())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        g.crm_span = start_detached(f"{request.method} {route}", request.headers)
        g.crm_span_started = time.perf_counter()
        span = g.crm_span.span
        if span.is_recording():
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("http.route", route)
            span.set_attribute("url.path", request.path)

    @app.after_request
    def _trace_response(response: Response) -> Response:
        started = g.get("crm_span")
        span = started.span if started is not None else None
        if span is not None and span.is_recording():
            span.set_attribute("http.response.status_code", response.status_code)
            span.set_attribute("crm.request_id", current_request_id())
            if response.status_code >= 500:
                mark_error(span, str(response.status_code))
        log_access(
            request.method,
            request.path,  # not the query: it may hold search words or a signed link's token
            request.url_rule.rule if request.url_rule else "unmatched",
            response.status_code,
            time.perf_counter() - g.get("crm_span_started", time.perf_counter()),
            response.calculate_content_length(),
            request.remote_addr or "",
        )
        return response

    @app.teardown_request
    def _trace_end(exc: BaseException | None) -> None:
        started = g.pop("crm_span", None)
        if started is not None:
            finish(started, exc)
        token = g.pop("crm_request_id", None)
        if token is not None:
            request_id_var.reset(token)
