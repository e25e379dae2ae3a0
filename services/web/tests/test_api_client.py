"""The API client against a real HTTP server on loopback: problem+json answers become ApiError with
the status, the stable code, the field errors and the extra members (a duplicate's existing_id);
a platform that does not answer is a 503/504 saying nothing was changed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from crm_web.api import Api, ApiError

SEEN: list[tuple[str, str, str]] = []


@Request.application  # type: ignore[misc]
def _gateway(request: Request) -> Response:
    SEEN.append((request.method, request.path, request.headers.get("Authorization", "")))
    if request.path == "/dup":
        body = {
            "type": "https://crm.example/problems/duplicate_client",
            "title": "Conflict",
            "status": 409,
            "code": "duplicate_client",
            "detail": "a client with this tax_id already exists",
            "request_id": "r1",
            "existing_id": "0190d0c0-0000-7000-8000-000000000001",
            "field": "tax_id",
        }
        return Response(json.dumps(body), 409, mimetype="application/problem+json")
    if request.path == "/invalid":
        body = {
            "status": 400,
            "code": "validation_failed",
            "detail": "name: too short",
            "errors": [{"field": "name", "message": "too short"}, {"field": "tax_id.value", "message": "bad NIT"}],
        }
        return Response(json.dumps(body), 400, mimetype="application/problem+json")
    if request.path == "/proxy-error":
        return Response("<html>bad gateway</html>", 502, mimetype="text/html")
    if request.path == "/slow":
        time.sleep(1.0)
    if request.path == "/list":
        return Response(
            json.dumps({"items": [{"id": "a"}], "next_page_token": "t2", "total_size": 7}), mimetype="application/json"
        )
    return Response(json.dumps({"ok": True}), mimetype="application/json")


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _gateway, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_duplicate_is_a_409_carrying_the_existing_record(gateway: str) -> None:
    with pytest.raises(ApiError) as info:
        Api(gateway, "tok").post("/dup", {"name": "x"})
    err = info.value
    assert (err.status, err.code) == (409, "duplicate_client")
    assert err.extra["existing_id"] == "0190d0c0-0000-7000-8000-000000000001"
    assert err.extra["field"] == "tax_id"
    assert "request_id" not in err.extra and "status" not in err.extra


def test_validation_errors_are_kept_by_field(gateway: str) -> None:
    with pytest.raises(ApiError) as info:
        Api(gateway, "tok").post("/invalid", {})
    assert info.value.status == 400 and info.value.code == "validation_failed"
    assert info.value.field_errors == {"name": "too short", "tax_id.value": "bad NIT"}


def test_an_answer_that_is_not_a_problem_document_still_has_its_status(gateway: str) -> None:
    with pytest.raises(ApiError) as info:
        Api(gateway, "tok").get("/proxy-error")
    assert info.value.status == 502 and info.value.code == "http_502"


def test_calls_carry_the_users_bearer_token_and_lists_read_their_page(gateway: str) -> None:
    page = Api(gateway, "secret-token").list("/list", q="acme", include_archived=False)
    assert page.items == [{"id": "a"}] and page.next_page_token == "t2" and page.total_size == 7
    assert ("GET", "/list", "Bearer secret-token") in SEEN


def test_a_platform_that_is_down_is_a_503_saying_nothing_changed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(ApiError) as info:
        Api(f"http://127.0.0.1:{port}", "tok").post("/x", {})
    assert info.value.status == 503 and info.value.code == "gateway_unavailable"
    assert "nothing was changed" in info.value.detail


def test_a_platform_too_slow_to_answer_is_a_504(gateway: str) -> None:
    with pytest.raises(ApiError) as info:
        Api(gateway, "tok", timeout=0.2).get("/slow")
    assert info.value.status == 504 and info.value.code == "gateway_timeout"


def _dropping_server(answers: int) -> tuple[str, list[bytes], socket.socket]:
    """A loopback server whose first connection is closed as soon as a request arrives (a kept-alive
    connection the gateway dropped), then answers `answers` requests with 200 JSON."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        for n in range(1 + answers):
            conn, _ = listener.accept()
            with conn:
                seen.append(conn.recv(65536).split(b"\r\n", 1)[0])
                if n > 0:
                    body = b'{"ok": true}'
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", seen, listener


def test_a_read_on_a_dropped_connection_is_tried_once_more_and_a_write_is_not() -> None:
    url, seen, listener = _dropping_server(answers=1)
    with listener:
        assert Api(url, "tok").get("/clients") == {"ok": True}
        assert [line.split(b" ")[0] for line in seen] == [b"GET", b"GET"]
    url, seen, listener = _dropping_server(answers=1)
    with listener:
        with pytest.raises(ApiError) as info:
            Api(url, "tok").post("/clients", {"name": "x"})
        assert info.value.status == 503
        assert [line.split(b" ")[0] for line in seen] == [b"POST"]  # never sent twice
