"""Structured logging: one line per record, text or JSON (CRM_LOG_FORMAT), always carrying the
service name, the request id of the call being served and its trace id (when it is in a trace).
`log_access` writes the HTTP access log line of the gateway and the web application (logger
`crm.access`), with the method, path, route, status, duration and client beside those ids."""

from __future__ import annotations

import json
import logging
import sys
import time

from crm_platform.context import current_request_id
from crm_platform.tracing import current_trace_id

ACCESS_LOGGER = "crm.access"
# Fields of an access record, in the order a JSON line gives them.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "bytes", "client")
_access = logging.getLogger(ACCESS_LOGGER)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = current_request_id() or "-"
        record.trace_id = current_trace_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": getattr(record, "service", ""),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "trace_id": getattr(record, "trace_id", "-"),
            "msg": record.getMessage(),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                payload[name] = getattr(record, name)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(service: str, level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(service)s [%(request_id)s %(trace_id)s] %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # nats-py logs every reconnect attempt at error level; the relay reports outages itself.
    logging.getLogger("nats").setLevel(logging.CRITICAL)


def log_access(
    method: str, path: str, route: str, status: int, duration_seconds: float, size: int | None, client: str
) -> None:
    """One access log line for a served HTTP request (call it while the request's ids are current)."""
    ms = round(duration_seconds * 1000, 2)
    _access.info(
        "%s %s %d %.2fms",
        method,
        path,
        status,
        ms,
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": ms,
            "bytes": size if size is not None else -1,
            "client": client,
        },
    )
