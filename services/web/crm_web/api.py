"""The one way pages call the platform: the public HTTP API through a pooled `requests.Session`
(one per process), as the signed-in user (their bearer token), with problem+json answers turned
into ApiError. Every page goes through `Api`, so the test that no page calls an undocumented path
has one place to watch. Each call carries the page's trace (`traceparent`), so that the
gateway's spans join the trace of the page that asked."""

from __future__ import annotations

import json as json_module
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager, Timeout
from urllib3 import exceptions as urllib3_exceptions
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import ReadTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from crm_platform import tracing
from crm_platform.context import current_request_id

PROBLEM_TYPE = "application/problem+json"
USER_AGENT = "crm-web"

_session_lock = threading.Lock()
_session: requests.Session | None = None

# Every path a page asked for, when recording is on (the OpenAPI coverage test turns it on).
CALLED: set[tuple[str, str]] = set()
RECORD_CALLS = False


class _RetryDroppedConnection(Retry):
    """Retries a read whose connection broke, never one that timed out: a slow platform stays a
    504 after one timeout, not two."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def http() -> requests.Session:
    """The process's pooled HTTP session (connections kept alive to the gateway)."""
    global _session
    with _session_lock:
        if _session is None:
            s = requests.Session()
            # A kept-alive connection the gateway closed at the same moment fails the request that
            # picked it: a read (GET, HEAD...) is tried once more on a fresh connection; a write
            # is not repeated (it may have arrived), its error reaches the page.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=_read_retry())
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            s.headers["User-Agent"] = USER_AGENT
            # The gateway's address is configured (CRM_WEB_GATEWAY_URL): no proxy or ~/.netrc look-up
            # from the environment, which requests would otherwise repeat on every call.
            s.trust_env = False
            _session = s
        return _session


def _read_retry() -> Retry:
    # A kept-alive connection the gateway closed at the same moment fails the request that picked
    # it: a read is tried once more on a fresh connection (never after a timeout).
    return _RetryDroppedConnection(total=1, connect=1, read=1, status=0, redirect=0, other=0, raise_on_status=False)


def _pool() -> PoolManager:
    """The urllib3 pool under the session's adapter: `Api.get` and the other calls share its
    kept-alive connections."""
    adapter = http().get_adapter("http://")
    assert isinstance(adapter, HTTPAdapter)
    return adapter.poolmanager


@dataclass
class ApiError(Exception):
    """A problem+json answer (or a platform that did not answer: status 503/504, code
    `gateway_unavailable`/`gateway_timeout`)."""

    status: int
    code: str
    detail: str
    # Field path (as the API names it, e.g. "tax_id.value") -> message.
    field_errors: dict[str, str] = field(default_factory=dict)
    # Field path -> the error's stable code and its params ("too_long", {"max_length": 200}), for
    # the page to say in its own language (crm_web.forms.FIELD_MESSAGES).
    field_codes: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}: {self.detail}")

    @classmethod
    def from_response(cls, res: requests.Response) -> ApiError:
        return cls.from_parts(res.status_code, res.headers.get("Content-Type", ""), res.content, res.reason or "")

    @classmethod
    def from_parts(cls, status: int, content_type: str, content: bytes, reason: str) -> ApiError:
        """An error answer (its status, Content-Type, body and reason phrase) as an ApiError."""
        body: Any = None
        if content_type.split(";")[0].strip() in (PROBLEM_TYPE, "application/json"):
            try:
                body = json_module.loads(content)
            except ValueError:
                body = None
        if not isinstance(body, dict):
            return cls(status, f"http_{status}", reason or "error")
        errors: dict[str, str] = {}
        codes: dict[str, tuple[str, dict[str, Any]]] = {}
        for e in body.get("errors") or []:
            if isinstance(e, dict) and e.get("field"):
                errors.setdefault(str(e["field"]), str(e.get("message", "")))
                params = e.get("params")
                codes.setdefault(
                    str(e["field"]), (str(e.get("code") or ""), params if isinstance(params, dict) else {})
                )
        reserved = {"type", "title", "status", "code", "detail", "request_id", "errors"}
        return cls(
            status=int(body.get("status") or status),
            code=str(body.get("code") or f"http_{status}"),
            detail=str(body.get("detail") or body.get("title") or ""),
            field_errors=errors,
            field_codes=codes,
            extra={k: v for k, v in body.items() if k not in reserved},
        )


@dataclass
class Page:
    """One page of a list: its items, the token of the next page, and the total when asked."""

    items: list[dict[str, Any]]
    next_page_token: str = ""
    total_size: int | None = None


class Api:
    """Calls as one user (or anonymously, for sign-in). `token` is the bearer access token."""

    def __init__(self, base_url: str, token: str = "", *, timeout: float = 15.0, language: str = ""):
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
        self.language = language

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str = "",
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        if RECORD_CALLS:
            CALLED.add((method.upper(), path.split("?")[0]))
        h = self._headers()
        if content_type:
            h["Content-Type"] = content_type
        if headers:
            h.update(headers)
        with tracing.client_span(f"gateway {method.upper()}", h) as span:
            try:
                res = http().request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    data=data,
                    headers=h,
                    timeout=self.timeout,
                    stream=stream,
                )
            except requests.Timeout:
                tracing.mark_error(span, "timeout")
                raise ApiError(
                    504, "gateway_timeout", "the platform did not answer in time; nothing was changed"
                ) from None
            except requests.ConnectionError:
                tracing.mark_error(span, "connection")
                raise ApiError(503, "gateway_unavailable", "the platform is unavailable; nothing was changed") from None
            if span.is_recording():
                span.set_attribute("http.response.status_code", res.status_code)
        if res.status_code >= 400:
            err = ApiError.from_response(res)
            res.close()
            raise err
        return res

    def _headers(self) -> dict[str, str]:
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.language:
            h["Accept-Language"] = self.language
        rid = current_request_id()
        if rid:
            h["X-Request-Id"] = rid  # the gateway logs the page's request id
        return h

    def get(self, path: str, **params: Any) -> Any:
        """A read with a JSON answer, the call nearly every page makes: sent by urllib3 itself, on
        the connections of the session's pool, with the same retry of a dropped connection. The rest
        of requests' work (its cookie jar, the URL parsed again, hooks, building its Response) was
        about 40 % of the web's CPU for each call, measured (bench/web.py)."""
        if RECORD_CALLS:
            CALLED.add(("GET", path.split("?")[0]))
        query = _clean(params)
        url = self.base_url + path
        if query:
            url += ("&" if "?" in path else "?") + urlencode(query, doseq=True)
        h = self._headers()
        h["User-Agent"] = USER_AGENT
        with tracing.client_span("gateway GET", h) as span:
            try:
                res = _pool().urlopen(
                    "GET",
                    url,
                    headers=h,
                    timeout=Timeout(connect=self.timeout, read=self.timeout),
                    retries=_read_retry(),
                    redirect=False,
                )
            except (urllib3_exceptions.TimeoutError, urllib3_exceptions.MaxRetryError) as exc:
                timed_out = isinstance(exc, urllib3_exceptions.TimeoutError) or isinstance(
                    getattr(exc, "reason", None), urllib3_exceptions.TimeoutError
                )
                tracing.mark_error(span, "timeout" if timed_out else "connection")
                if timed_out:
                    raise ApiError(
                        504, "gateway_timeout", "the platform did not answer in time; nothing was changed"
                    ) from None
                raise ApiError(503, "gateway_unavailable", "the platform is unavailable; nothing was changed") from None
            except urllib3_exceptions.HTTPError:
                tracing.mark_error(span, "connection")
                raise ApiError(503, "gateway_unavailable", "the platform is unavailable; nothing was changed") from None
            if span.is_recording():
                span.set_attribute("http.response.status_code", res.status)
        if res.status >= 300:
            raise ApiError.from_parts(res.status, res.headers.get("Content-Type", ""), res.data, res.reason or "")
        if res.status == 204 or not res.data:
            return None
        return json_module.loads(res.data)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self._json(self.request("POST", path, json=body if body is not None else {}, **kw))

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self._json(self.request("PATCH", path, json=body, **kw))

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def list(self, path: str, **params: Any) -> Page:
        body = self.get(path, **params)
        items = body.get("items") or []
        total = body.get("total_size")
        return Page(items, body.get("next_page_token", ""), int(total) if total is not None else None)

    def stream(self, path: str, **params: Any) -> tuple[requests.Response, Iterator[bytes]]:
        res = self.request("GET", path, params=_clean(params), stream=True, headers={"Accept": "*/*"})
        return res, res.iter_content(64 * 1024)

    @staticmethod
    def _json(res: requests.Response) -> Any:
        if res.status_code == 204 or not res.content:
            return None
        return res.json()


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the empty ones (the API treats absent and empty alike)."""
    return {k: v for k, v in params.items() if v not in ("", None, [], False)}
