"""Errors as application/problem+json (RFC 9457) with a stable `code`, and the one mapping from
gRPC status codes to HTTP statuses."""

from __future__ import annotations

from typing import Any

import grpc
from flask import Response, json

from crm_platform.context import current_request_id
from crm_platform.errors import ErrorInfo

PROBLEM_TYPE = "application/problem+json"

GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    499: "Request cancelled",
    500: "Internal error",
    501: "Not implemented",
    503: "Service unavailable",
    504: "Upstream timeout",
}


# Reasons a service gives that mean another HTTP status than their gRPC code's: an idempotency
# key reused for a different request is FAILED_PRECONDITION to the service and 422 here, as
# Stripe answers it (the request is well-formed; it conflicts with what the key already names).
REASON_TO_HTTP: dict[str, int] = {
    "idempotency_key_reused": 422,
    # The member is in a state that forbids the action (skipped at launch), as a 409 says.
    "member_skipped": 409,
}

# The members every problem document has (RFC 9457 and ours).
_RESERVED = frozenset({"type", "title", "status", "code", "detail", "request_id", "errors"})


def problem(status: int, code: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": f"https://crm.example/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "request_id": current_request_id(),
        **extra,
    }
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)


def from_grpc(info: ErrorInfo, service: str) -> Response:
    status = REASON_TO_HTTP.get(info.reason) or GRPC_TO_HTTP.get(info.code, 500)
    code = info.reason or info.code.name.lower()
    extra: dict[str, Any] = {}
    if info.violations:
        extra["errors"] = [{"field": v.field, "message": v.description} for v in info.violations]
    if info.metadata:  # a service's detail never overrides the problem's own members
        extra.update({k: v for k, v in info.metadata.items() if k not in _RESERVED})
    detail = info.message
    if info.code == grpc.StatusCode.UNAVAILABLE:
        code, detail = "service_unavailable", f"the {service} service is unavailable; nothing was changed, retry later"
    elif info.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        code, detail = "upstream_timeout", f"the {service} service did not answer in time"
    elif status == 500:
        code, detail = "internal_error", "internal error (logged with the request id)"
    return problem(status, code, detail, **extra)
