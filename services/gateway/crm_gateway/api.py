"""The gateway's request plumbing shared by every resource: JSON bodies validated against pydantic
models (unknown fields refused, types strict), gRPC calls whose failures become problem+json, and
JSON responses."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from flask import Response, json, request
from pydantic import BaseModel, ValidationError

from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


class ProblemError(Exception):
    """Raised inside a view to answer with a problem+json document."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


class UpstreamError(Exception):
    def __init__(self, info: ErrorInfo, service: str):
        super().__init__(info.message)
        self.info, self.service = info, service


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for e in exc.errors(include_url=False):
        message = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        errors.append({"field": _field(tuple(e["loc"])), "message": message})
    return errors


def parse_body(model: type[M]) -> M:
    if not request.mimetype or request.mimetype != "application/json":
        raise ProblemError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ProblemError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProblemError(400, "malformed_json", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise ProblemError(
            400, "validation_failed", "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        ) from None


def parse_query(model: type[M], list_fields: set[str] | frozenset[str] = frozenset()) -> M:
    """Query parameters into `model`; a field typed as a list takes every value of a repeated
    parameter (`?owner_id=a&owner_id=b`), any other takes the first."""
    data: dict[str, Any] = {}
    for key in request.args:
        data[key] = request.args.getlist(key) if key in list_fields else request.args[key]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise ProblemError(
            400, "invalid_query", "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        ) from None


def call(service: str, fn: Callable[..., R], req: Any, timeout: float | None = None) -> R:
    """One gRPC call to a service (the channel sets the default deadline and the request id; a bulk
    call names a longer `timeout`)."""
    try:
        return fn(req) if timeout is None else fn(req, timeout=timeout)
    except grpc.RpcError as exc:
        raise UpstreamError(decode_error(exc), service) from None


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


_KEY_OK = re.compile(r"^[\x21-\x7e]{1,100}$")
_IF_MATCH = re.compile(r'^(?:W/)?"(\d{1,18})"$')


def idempotency_key(user_id: str) -> str:
    """The request id for a create: the Idempotency-Key header, scoped to the caller so that two
    users' keys never meet. Empty when none was sent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not _KEY_OK.match(key):
        raise ProblemError(
            400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 100 printable ASCII characters"
        )
    return f"{user_id}:{key}"


def if_match() -> int | None:
    """The version named by If-Match (an ETag this gateway gave), or None when absent or `*`."""
    value = request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    m = _IF_MATCH.match(value.strip())
    if not m:
        raise ProblemError(400, "invalid_if_match", 'If-Match must be an ETag from this API, such as "3"')
    return int(m.group(1))


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def check_version(expected: int | None, current: int, what: str) -> int:
    """The version to send as expected_version: If-Match when given (412 when stale already),
    else the version just read, so that a change made in between is refused rather than lost."""
    if expected is None:
        return current
    if expected != current:
        raise ProblemError(
            412, "precondition_failed", f"the {what} has changed since version {expected} (now {current}); re-read it"
        )
    return expected
