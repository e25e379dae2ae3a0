"""Errors as application/problem+json (RFC 9457) with a stable `code`, the one mapping from
gRPC status codes to HTTP statuses, and the stable codes of a 400's field errors (`errors[]`:
`field`, `message`, `code`, `params`), so that a client shows its own words in its own language
for each kind of mistake instead of the English `message`."""

from __future__ import annotations

import re
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


# What each field error `code` means, and the `params` it carries (documented in the OpenAPI
# Problem schema). New codes may be added; a client shows `message` for a code it does not know.
FIELD_ERROR_CODES: dict[str, str] = {
    "required": "a value is needed (absent, or an empty text where one is required)",
    "too_short": "a text shorter than `params.min_length` characters",
    "too_long": "a text longer than `params.max_length` characters",
    "too_few_items": "a list with fewer than `params.min_length` items",
    "too_many_items": "a list with more than `params.max_length` items",
    "too_small": "a number below the limit (`params.min`: at least; `params.greater_than`: above)",
    "too_large": "a number above the limit (`params.max`: at most; `params.less_than`: below)",
    "invalid_choice": "not one of the values allowed (`params.expected` lists them)",
    "invalid_format": "a text that does not have the expected form (a code, a date, an id ...)",
    "invalid_email": "not an e-mail address",
    "invalid_phone": "not a phone number",
    "invalid_country_code": "not an ISO 3166-1 alpha-2 country code (CO, MX ...)",
    "invalid_type": "a value of the wrong JSON type (`params.expected`: string, integer, boolean ...)",
    "unknown_field": "a member the request does not take",
    "nul_character": "a text holding a NUL character (\\u0000)",
    "invalid": "any other invalid value (`message` says why)",
}

# A service's field violation (free text over gRPC) by the words the services use for each kind.
_VIOLATION_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^| )(is|are) required$"), "required"),
    (re.compile(r"^must be at most (?P<max_length>\d+) characters$"), "too_long"),
    (re.compile(r"is not a valid e-mail address"), "invalid_email"),
    (re.compile(r"is not a (valid )?phone number"), "invalid_phone"),
    (re.compile(r"ISO 3166-1 alpha-2"), "invalid_country_code"),
    (re.compile(r"^at most (?P<max_length>\d+) "), "too_many_items"),
)


def violation_code(description: str) -> tuple[str, dict[str, Any]]:
    """The code and params of a service's field violation, from its description."""
    for pattern, code in _VIOLATION_CODES:
        m = pattern.search(description)
        if m:
            return code, {k: int(v) for k, v in m.groupdict().items() if v is not None}
    return "invalid", {}


def field_error(field: str, message: str, code: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One member of a problem's `errors`: `params` only when the code has some."""
    out: dict[str, Any] = {"field": field, "message": message, "code": code}
    if params:
        out["params"] = params
    return out


def problem(status: int, code: str, detail: str, **extra: Any) -> Response:
    errors = extra.get("errors")
    if isinstance(errors, list):  # every field error has its code, whichever view wrote it
        extra["errors"] = [
            field_error(str(e["field"]), str(e.get("message", "")), *violation_code(str(e.get("message", ""))))
            if isinstance(e, dict) and "field" in e and "code" not in e
            else e
            for e in errors
        ]
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
        extra["errors"] = [field_error(v.field, v.description, *violation_code(v.description)) for v in info.violations]
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
