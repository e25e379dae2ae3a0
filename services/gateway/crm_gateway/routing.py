"""How a gateway route is declared: one decorator names the method, path, who may call it, and the
pydantic models of its query, body and response. The same declaration validates each request and
builds the OpenAPI 3.1 document, so the document cannot drift from what the gateway accepts."""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from flask import Blueprint, request
from pydantic import BaseModel
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response  # a view may answer any kind: flask.Response, or a redirect

from crm_gateway.api import ProblemError, check_request_text, parse_body, parse_query

Access = Literal["public", "user"]


class RouteOptions(TypedDict, total=False):
    """Options of `Resource.route` that several routes share (given as **options)."""

    errors: Iterable[int]
    request_headers: Iterable[str]
    response_headers: Iterable[str]


# The options of a route that changes a versioned record: If-Match in, the new version's ETag
# out, and 404, 409 and 412 among its errors.
CHANGE: RouteOptions = {"errors": (404, 409, 412), "request_headers": ("If-Match",), "response_headers": ("ETag",)}
FORM_TYPE = "application/x-www-form-urlencoded"

# Statuses a route can answer with besides its success, and what each means to a caller.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request is malformed or a field is invalid (`errors` names each field).",
    401: "No valid bearer token (missing, malformed, expired, tampered with or revoked).",
    403: "The caller's role may not do this, or the password must be changed first.",
    404: "No such record, or not one the caller may see.",
    409: "A duplicate, or a concurrent change won (re-read and retry).",
    412: "If-Match names a version that is no longer current.",
    413: "The body is larger than the gateway accepts.",
    415: "The body is not application/json.",
    422: "The Idempotency-Key was already used with a different request (`idempotency_key_reused`): "
    "send a new key for a new request.",
    429: "Too many attempts; retry after the time given.",
    503: "A service behind the gateway is unavailable; nothing was changed.",
    504: "A service behind the gateway did not answer in time.",
}
# Every route behind a service may answer these.
UPSTREAM_ERRORS = (503, 504)


class IdConverter(BaseConverter):
    """A path segment without ':' so that `/clients/<id:client_id>:archive` is unambiguous."""

    regex = r"[^/:]+"


@dataclass
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    description: str
    tag: str
    access: Access
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: Any
    status: int
    errors: tuple[int, ...]
    response_headers: tuple[str, ...]
    request_headers: tuple[str, ...]
    # The success answer's media type, or several when the answer's type depends on the request
    # (an export as .xlsx or .ics).
    content_type: str | tuple[str, ...] = "application/json"
    # A larger body limit than the gateway's default (file uploads), and the media types accepted
    # as the raw body instead of JSON.
    max_body: int | None = None
    upload_types: tuple[str, ...] = ()
    # The view itself: the document reads the problem codes it raises (crm_gateway.problem_codes).
    view: Callable[..., Response] | None = None


@dataclass
class Registry:
    """Every declared operation, in declaration order (the OpenAPI builder reads it)."""

    operations: list[Operation] = field(default_factory=list)
    by_endpoint: dict[str, Operation] = field(default_factory=dict)


REGISTRY = Registry()


def _list_fields(model: type[BaseModel]) -> set[str]:
    out = set()
    for name, info in model.model_fields.items():
        origin = typing.get_origin(info.annotation)
        if origin is list or (
            origin is not None and any(typing.get_origin(a) is list for a in typing.get_args(origin))
        ):
            out.add(name)
    return out


class Resource:
    """A group of routes (one Flask blueprint, one OpenAPI tag)."""

    def __init__(self, name: str, tag: str, description: str = ""):
        self.blueprint = Blueprint(name, __name__)
        self.tag = tag
        self.description = description

    def route(
        self,
        method: str,
        rule: str,
        *,
        access: Access = "user",
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: Iterable[int] = (),
        response_headers: Iterable[str] = (),
        request_headers: Iterable[str] = (),
        content_type: str | tuple[str, ...] = "application/json",
        upstream: bool = True,
        max_body: int | None = None,
        upload_types: Iterable[str] = (),
    ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        """Declares a route. The view receives path parameters, then `query=` and `body=` (the
        validated models) when declared."""
        request_headers = tuple(request_headers)

        def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
            endpoint = f"{self.blueprint.name}.{view.__name__}"
            doc = (view.__doc__ or "").strip()
            summary, _, description = doc.partition("\n")
            codes = set(errors) | {400}
            if access == "user":
                codes |= {401, 403}
            if upstream:
                codes |= set(UPSTREAM_ERRORS)
            if body is not None or upload_types:
                codes |= {413, 415}
            if "Idempotency-Key" in request_headers:
                codes |= {422}
            op = Operation(
                method=method.upper(),
                rule=rule,
                endpoint=endpoint,
                summary=summary.strip(),
                description=description.strip(),
                tag=self.tag,
                access=access,
                query=query,
                body=body,
                response=response,
                status=status,
                errors=tuple(sorted(codes)),
                response_headers=tuple(response_headers),
                request_headers=tuple(request_headers),
                content_type=content_type,
                max_body=max_body,
                upload_types=tuple(upload_types),
                view=view,
            )
            list_fields = _list_fields(query) if query is not None else set()
            empty_is_default = body is not None and is_action(rule) and _all_optional(body)

            @functools.wraps(view)
            def wrapper(**path: Any) -> Response:
                kwargs: dict[str, Any] = dict(path)
                form = request.form.items(multi=True) if request.mimetype == FORM_TYPE else ()
                check_request_text(path, form)
                if query is not None:
                    kwargs["query"] = parse_query(query, list_fields)
                elif request.args:
                    unknown = ", ".join(sorted(request.args))
                    raise ProblemError(400, "invalid_query", f"unknown query parameter(s): {unknown}")
                if body is not None:
                    if empty_is_default and not request.get_data(cache=True) and not request.mimetype:
                        # An action (`:win`, `:reopen` ...) whose body is all optional may be sent
                        # bare, as `curl -X POST` sends it: the body's defaults apply.
                        kwargs["body"] = body()
                    else:
                        kwargs["body"] = parse_body(body)
                return view(**kwargs)

            self.blueprint.add_url_rule(rule, view.__name__, wrapper, methods=[op.method])
            REGISTRY.operations.append(op)
            REGISTRY.by_endpoint[endpoint] = op
            return wrapper

        return decorate


def is_action(rule: str) -> bool:
    """A custom action route: `POST /api/v1/deals/<id:deal_id>:win` (a verb after the last path
    segment's colon, path parameters aside)."""
    return ":" in openapi_path(rule)[0].rsplit("/", 1)[-1]


def _all_optional(model: type[BaseModel]) -> bool:
    """Whether an empty object is a valid body: every field has a default."""
    return not any(f.is_required() for f in model.model_fields.values())


def openapi_path(rule: str) -> tuple[str, list[str]]:
    """Flask `/a/<id:x>:verb` → OpenAPI `/a/{x}:verb`, and the path parameter names."""
    names: list[str] = []

    def _sub(m: re.Match[str]) -> str:
        names.append(m.group(2))
        return "{" + m.group(2) + "}"

    return re.sub(r"<(?:(\w+):)?(\w+)>", _sub, rule), names
