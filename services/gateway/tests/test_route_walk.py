"""Every route in the app's URL map refuses a missing, malformed, expired, tampered, foreign-signed
or revoked token; only sign-in, health, metrics (loopback) and the API's documents are open."""

from __future__ import annotations

import re
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crm_gateway.app import is_public

from .conftest import Stack
from .tokens import forge

OPEN = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/"),
    ("GET", "/api/docs/<path:path>"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    # Authenticated by what they carry: a campaign's webhook secret, a signed unsubscribe token.
    ("POST", "/api/v1/webhooks/google-ads/<id:campaign_id>"),
    ("POST", "/api/v1/webhooks/rd-station/<id:campaign_id>"),
    ("GET", "/api/v1/webhooks/mailchimp/<id:campaign_id>"),
    ("POST", "/api/v1/webhooks/mailchimp/<id:campaign_id>"),
    ("GET", "/api/v1/unsubscribe"),
}


def _routes(stack: Stack) -> list[tuple[str, str, str]]:
    out = []
    for rule in stack.app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule, rule.endpoint))
    return out


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", "0192d6e0-0000-7000-8000-000000000000", rule)


def test_only_sign_in_health_and_docs_are_open(stack: Stack) -> None:
    opened = {(m, r) for m, r, e in _routes(stack) if is_public(e)}
    assert opened == OPEN


def _bad_tokens(stack: Stack) -> dict[str, str]:
    now = int(time.time())
    good = stack.tokens["carla"]
    claims = jwt.decode(good, options={"verify_signature": False})
    head, payload, sig = good.split(".")
    tampered_payload = jwt.utils.base64url_encode(  # type: ignore[attr-defined]
        jwt.utils.base64url_decode(payload).replace(claims["sub"].encode(), stack.id("admin").encode())  # type: ignore[attr-defined]
    ).decode()
    stranger = Ed25519PrivateKey.generate()
    kid = jwt.get_unverified_header(good)["kid"]
    # A session of carla's that then signs out.
    res = stack.login("carla@example.com")
    revoked = res.get_json()["access_token"]
    out = stack.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {revoked}"})
    assert out.status_code == 204
    return {
        "missing_token": "",
        "malformed": "not-a-jwt",
        "expired": forge(stack, {**claims, "iat": now - 600, "exp": now - 300}),
        "tampered": f"{head}.{tampered_payload}.{sig}",
        "foreign_key": jwt.encode({**claims}, stranger, algorithm="EdDSA", headers={"kid": kid}),
        "wrong_audience": forge(stack, {**claims, "aud": "somebody-else"}),
        "revoked": revoked,
        "unknown_api_token": "crm_pat_" + "x" * 43,
    }


EXPECTED_CODE = {
    "missing_token": "missing_token",
    "malformed": "invalid_token",
    "expired": "token_expired",
    "tampered": "invalid_token",
    "foreign_key": "invalid_token",
    "wrong_audience": "invalid_token",
    "revoked": "session_revoked",
    "unknown_api_token": "invalid_token",
}


def test_every_other_route_refuses_each_bad_token(stack: Stack) -> None:
    bad = _bad_tokens(stack)
    closed = [(m, r) for m, r, e in _routes(stack) if not is_public(e)]
    assert len(closed) >= 25
    failures: list[Any] = []
    for method, rule in closed:
        url = _concrete(rule)
        for name, token in bad.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            res = stack.http.open(url, method=method, headers=headers, json={} if method != "GET" else None)
            body = res.get_json(silent=True) or {}
            if res.status_code != 401 or body.get("code") != EXPECTED_CODE[name]:
                failures.append((method, rule, name, res.status_code, body.get("code")))
            elif "WWW-Authenticate" not in res.headers or res.mimetype != "application/problem+json":
                failures.append((method, rule, name, "headers", dict(res.headers)))
    assert failures == []


def test_a_valid_token_passes_the_same_routes(stack: Stack) -> None:
    """The same walk with a good token gets past authentication on every route (no 401)."""
    for method, rule, endpoint in _routes(stack):
        if is_public(endpoint) or endpoint == "auth.logout":
            continue
        res = stack.http.open(_concrete(rule), method=method, headers=stack.auth("admin"), json={})
        assert res.status_code != 401, (method, rule, res.get_json())


@pytest.mark.parametrize("header", ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  ", "Token abc"])
def test_an_authorization_header_of_another_shape_is_refused(stack: Stack, header: str) -> None:
    res = stack.http.get("/api/v1/clients", headers={"Authorization": header})
    assert res.status_code == 401 and res.get_json()["code"] == "invalid_token"
