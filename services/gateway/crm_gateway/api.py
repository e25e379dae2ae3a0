"""The gateway's request plumbing shared by every resource: JSON bodies validated against pydantic
models (unknown fields refused, types strict), gRPC calls whose failures become problem+json, and
JSON responses."""

from __future__ import annotations

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


def parse_query(model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise ProblemError(
            400, "invalid_query", "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        ) from None


def call(service: str, fn: Callable[..., R], req: Any) -> R:
    """One gRPC call to a service (the channel sets the deadline and the request id)."""
    try:
        return fn(req)
    except grpc.RpcError as exc:
        raise UpstreamError(decode_error(exc), service) from None


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
