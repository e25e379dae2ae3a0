"""The gateway's request plumbing shared by every resource: JSON bodies validated against pydantic
models (unknown fields refused, types strict), gRPC calls whose failures become problem+json, and
JSON responses. The two checks every piece of request text passes before anything else reads it
live here, once: a JSON body nested deeper than MAX_JSON_DEPTH is refused before it is parsed
(the parser recurses, and a RecursionError would be a 500), and text holding a NUL character
(PostgreSQL cannot store one, SQLite matches every row with it) is refused naming where it was."""

from __future__ import annotations

import contextvars
import hashlib
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from flask import Response, g, json, request
from pydantic import BaseModel, ValidationError

from crm_gateway.problems import field_error
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.idempotency import with_fingerprint

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


# What a pattern means, for the error of a value that does not match it (pydantic's own message
# quotes the regular expression): filled by `pattern_saying`.
PATTERN_MESSAGES: dict[str, str] = {}


def pattern_saying(pattern: str, message: str) -> str:
    """`pattern`, remembered with the message a value that does not match it gets."""
    PATTERN_MESSAGES[pattern] = message
    return pattern


# pydantic's error types -> the stable field error codes (crm_gateway.problems.FIELD_ERROR_CODES),
# with the members of its context kept as params (renamed where the code's documentation says).
_PYDANTIC_CODES: dict[str, str] = {
    "missing": "required",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "too_short": "too_few_items",
    "too_long": "too_many_items",
    "greater_than": "too_small",
    "greater_than_equal": "too_small",
    "less_than": "too_large",
    "less_than_equal": "too_large",
    "literal_error": "invalid_choice",
    "enum": "invalid_choice",
    "string_pattern_mismatch": "invalid_format",
    "extra_forbidden": "unknown_field",
    "uuid_parsing": "invalid_format",
    "date_parsing": "invalid_format",
    "date_from_datetime_parsing": "invalid_format",
    "datetime_parsing": "invalid_format",
    "datetime_from_date_parsing": "invalid_format",
    "decimal_parsing": "invalid_format",
}
_TYPE_ERRORS: dict[str, str] = {
    "string_type": "string",
    "int_type": "integer",
    "int_parsing": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "decimal_type": "number",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}
_PARAM_NAMES = {"ge": "min", "gt": "greater_than", "le": "max", "lt": "less_than"}


def _error_code(e: Any) -> tuple[str, dict[str, Any]]:
    kind = str(e["type"])
    ctx = e.get("ctx") or {}
    if kind in _TYPE_ERRORS:
        return "invalid_type", {"expected": _TYPE_ERRORS[kind]}
    code = _PYDANTIC_CODES.get(kind, "invalid")
    if code == "too_short" and ctx.get("min_length") == 1:
        return "required", {}  # an empty text where one is needed
    keep = ("min_length", "max_length", "expected", "ge", "gt", "le", "lt")
    params = {_PARAM_NAMES.get(k, k): ctx[k] for k in keep if k in ctx}
    if code == "invalid_choice" and "expected" in params:
        params["expected"] = re.findall(r"'([^']*)'", str(params["expected"])) or str(params["expected"])
    return code, {k: v if isinstance(v, (int, float, str, list)) else str(v) for k, v in params.items()}


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    errors = []
    for e in exc.errors(include_url=False):
        # A validator's own message ("'cop' must be written in upper case") without pydantic's prefix.
        message = "unknown field" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        if e["type"] == "string_pattern_mismatch":
            message = PATTERN_MESSAGES.get(str(e.get("ctx", {}).get("pattern")), message)
        errors.append(field_error(_field(tuple(e["loc"])), message, *_error_code(e)))
    return errors


# Deeper than any body this API takes (a canvas import, the deepest, nests about 6 levels), far
# below where the JSON parser would run out of stack.
MAX_JSON_DEPTH = 32
# A JSON string (its escapes included), and the brackets outside strings.
_JSON_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest, counted without parsing it (so
    without recursion): strings are taken out, then the brackets left are counted in one pass."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _nul_field(data: Any, at: str = "") -> str | None:
    """Where in a parsed JSON value a string (or an object key) holds a NUL character: its
    field path as validation errors name fields, "" for the body itself; None when none does."""
    if isinstance(data, str):
        return at if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{at}.{key}" if at else str(key)
            if "\x00" in key:
                return path
            found = _nul_field(value, path)
            if found is not None:
                return found
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found = _nul_field(value, f"{at}[{i}]")
            if found is not None:
                return found
    return None


def _refuse_nul(field: str, code: str) -> ProblemError:
    field = field.replace("\x00", "\\u0000")  # a NUL in a name is shown, not sent back raw
    message = "must not contain a NUL character (\\u0000)"
    return ProblemError(400, code, f"{field}: {message}", errors=[field_error(field, message, "nul_character")])


def check_request_text(path: dict[str, Any], form: Iterable[tuple[str, str]] = ()) -> None:
    """Refuses a NUL character in a path parameter, a query parameter's name or value, or a form
    field (400 naming it). JSON bodies are checked by parse_body."""
    for name, value in path.items():
        if isinstance(value, str) and "\x00" in value:
            raise _refuse_nul(name, "invalid_path")
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise _refuse_nul(name, "invalid_query")
    for name, value in form:
        if "\x00" in name or "\x00" in value:
            raise _refuse_nul(name, "validation_failed")


def parse_body(model: type[M]) -> M:
    if not request.mimetype or request.mimetype != "application/json":
        raise ProblemError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=True)
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ProblemError(
            400, "json_too_deep", f"the body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"
        )
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ProblemError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProblemError(400, "malformed_json", "the body must be a JSON object")
    nul_at = _nul_field(data)
    if nul_at is not None:
        raise _refuse_nul(nul_at, "validation_failed")
    g.json_body = data
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


# The calls a route makes at once (a client's summary asks four services): a few threads per
# process, started when first used and then kept. Measured against each call's own `future` (which
# starts a thread to follow the channel for most calls) and against calls one after another, the
# kept threads cost the least CPU and wait the least (bench/web.py).
_CALLS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="grpc-call")


def start_call(service: str, fn: Callable[..., R], req: Any) -> Callable[[], R]:
    """`call` started now on another thread, so that a route reading several services asks them
    all at once; the function returned waits for the answer and raises what `call` raises. The
    call runs in a copy of this request's context: the request id, the acting user and the trace
    go with it as they go with `call`."""
    return _CALLS.submit(contextvars.copy_context().run, call, service, fn, req).result


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


_KEY_OK = re.compile(r"^[\x21-\x7e]{1,100}$")
_IF_MATCH = re.compile(r'^(?:W/)?"(\d{1,18})"$')


def idempotency_key(user_id: str) -> str:
    """The request id for a create: the Idempotency-Key header, scoped to the caller so that two
    users' keys never meet, with a fingerprint of the request (method, path, query and body). The
    service that keeps the answer replays it for the same key and fingerprint and refuses the
    same key with another fingerprint (crm_platform.idempotency), which becomes 422
    `idempotency_key_reused` here. Empty when no key was sent.

    The key is hashed so that the request id fits its 100-character column whatever the key's
    length: user id (36) + ":" + 32 + "~" + 24 = 94."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not _KEY_OK.match(key):
        raise ProblemError(
            400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 100 printable ASCII characters"
        )
    key_digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return with_fingerprint(f"{user_id}:{key_digest}", _request_fingerprint()[:24])


def _request_fingerprint() -> str:
    """What makes two requests the same request: method, path, query parameters and the body. A
    JSON body counts by its content (key order and spacing do not matter); any other by its bytes."""
    parsed = g.get("json_body")
    body = (
        json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if parsed is not None
        else request.get_data(cache=True)
    )
    query = json.dumps(sorted(request.args.items(multi=True)), separators=(",", ":")).encode()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


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
