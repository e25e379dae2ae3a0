"""Tracing is off unless configured: which exporters the standard OTEL_* variables ask for, a
value the platform does not know refused naming its variable, and log lines carrying the trace id
of the span they are written in (and "-" outside a trace)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from crm_platform import tracing
from crm_platform.config import ConfigError
from crm_platform.logs import JsonFormatter, _ContextFilter


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_exporters_from_the_standard_variables(env: dict[str, str], expected: list[str]) -> None:
    assert tracing.exporters_from_env(env) == expected


def test_an_unknown_exporter_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"OTEL_TRACES_EXPORTER.*'jaeger'"):
        tracing.exporters_from_env({"OTEL_TRACES_EXPORTER": "otlp,jaeger"})


def test_off_by_default_yet_an_incoming_trace_is_passed_on() -> None:
    assert tracing.configure("test", {}) is False
    assert not tracing.is_recording()
    upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracing.server_span("op", {"traceparent": upstream}):
        # Not recording, the no-op tracer still carries the caller's context to the next hop.
        assert tracing.current_trace_id() == "0af7651916cd43dd8448eb211c80319c"
        headers: dict[str, str] = {}
        tracing.inject(headers)
        assert headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert tracing.current_trace_id() == ""
    assert tracing.current_traceparent() == ""


def test_log_lines_carry_the_trace_id() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(_ContextFilter("deals"))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.tracing.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("outside")
        with tracing.server_span("op", {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}):
            logger.info("inside")
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in out.getvalue().splitlines())
    assert outside["trace_id"] == "-"
    assert inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and inside["service"] == "deals"
