"""The web application's own defences, before any call reaches the platform: a state-changing
request without its CSRF token is refused and sends nothing to the API; every page carries a CSP
with no inline script, nosniff and no-store; the session cookie is HttpOnly and SameSite=Lax (and
Secure behind HTTPS); after sign-in only a path on this site is followed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from crm_web.app import create_app
from crm_web.auth import safe_next
from crm_web.settings import WebSettings

CALLS: list[str] = []


@Request.application  # type: ignore[misc]
def _gateway(request: Request) -> Response:
    CALLS.append(f"{request.method} {request.path}")
    return Response(json.dumps({"items": [], "next_page_token": ""}), mimetype="application/json")


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _gateway, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def app(gateway: str) -> Flask:
    app = create_app(WebSettings(secret_key="test-secret", gateway_url=gateway, trusted_proxies=1))
    app.config["TESTING"] = True
    return app


def _sign_in_without_the_api(client: object) -> None:
    """A session as the sign-in page leaves it (tokens that the API would accept)."""
    with client.session_transaction() as s:  # type: ignore[attr-defined]
        s["access"] = "token"
        s["refresh"] = "refresh"
        s["expires"] = time.time() + 900
        s["user"] = {"id": "u1", "email": "rep@example.com", "role": "rep", "locale": "es-CO"}


def test_a_form_posted_without_its_csrf_token_is_refused_and_nothing_reaches_the_api(app: Flask) -> None:
    client = app.test_client()
    _sign_in_without_the_api(client)
    CALLS.clear()
    res = client.post("/clients/new", data={"name": "Acme"})
    assert res.status_code == 400
    assert "El formulario caducó" in res.get_data(as_text=True)
    res = client.post("/signout", data={})
    assert res.status_code == 400
    assert CALLS == []


def test_an_htmx_request_with_a_wrong_csrf_header_is_refused(app: Flask) -> None:
    client = app.test_client()
    _sign_in_without_the_api(client)
    CALLS.clear()
    res = client.post("/account/tokens", data={"name": "x"}, headers={"HX-Request": "true", "X-CSRFToken": "forged"})
    assert res.status_code == 400 and CALLS == []


def test_pages_forbid_inline_script_and_caching(app: Flask) -> None:
    res = app.test_client().get("/signin")
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Cache-Control"] == "no-store"
    assert "<script>" not in res.get_data(as_text=True)  # every script is a file of this site


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(app: Flask) -> None:
    client = app.test_client()
    res = client.get("/signin")
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    res = app.test_client().get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in res.headers["Set-Cookie"]


def test_signed_out_pages_send_to_sign_in_and_come_back(app: Flask) -> None:
    res = app.test_client().get("/clients/?q=acme")
    assert res.status_code == 302
    assert res.headers["Location"] == "/signin?next=/clients/?q%3Dacme"


def test_only_browser_packages_on_the_whitelist_are_served(app: Flask) -> None:
    client = app.test_client()
    res = client.get("/assets/htmx.min.js")
    assert res.status_code == 200 and res.mimetype == "text/javascript"
    assert client.get("/assets/package.json").status_code == 404
    assert client.get("/assets/..%2Fpackage.json").status_code == 404


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "evil", "/\\evil.example"]
)
def test_after_sign_in_only_a_path_on_this_site_is_followed(app: Flask, target: str) -> None:
    with app.test_request_context():
        assert safe_next(target) == "/"
        assert safe_next("/clients/?q=a") == "/clients/?q=a"
