"""Sign-in through the gateway against the real identity service: tokens, refresh rotation,
sign-out and deactivation refused at once, rate limiting, one-time passwords, API tokens."""

from __future__ import annotations

import time

import grpc
import jwt

from crm.identity.v1 import identity_pb2, identity_pb2_grpc
from crm_platform.grpc_server import INTERNAL_TOKEN_HEADER

from .conftest import INTERNAL_TOKEN, PASSWORD, Stack


def _new_user(stack: Stack, email: str, role: str = "rep", password: str = PASSWORD) -> str:
    res = stack.http.post(
        "/api/v1/users",
        json={"email": email, "display_name": email.split("@")[0], "role": role, "password": password},
        headers=stack.auth("admin"),
    )
    assert res.status_code == 201, res.get_json()
    return str(res.get_json()["id"])


def test_login_returns_a_short_lived_signed_token_and_me_answers(stack: Stack) -> None:
    res = stack.login("Ana@Example.com")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    body = res.get_json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600 and body["refresh_token"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == stack.id("ana") and claims["sid"] == body["session_id"] and claims["aud"] == "crm-api"
    me = stack.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.get_json()["email"] == "ana@example.com"
    assert "password" not in str(me.get_json()).lower().replace("password_change_required", "")


def test_wrong_email_and_wrong_password_get_the_same_answer(stack: Stack) -> None:
    unknown = stack.login("nadie@example.com", "una clave larga 123")
    wrong = stack.login("beto@example.com", "otra clave larga 456")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json()["code"] == wrong.get_json()["code"] == "invalid_credentials"
    assert unknown.get_json()["detail"] == wrong.get_json()["detail"]
    malformed = stack.http.post("/api/v1/auth/login", json={"email": "x@example.com"})
    assert malformed.status_code == 400 and malformed.get_json()["errors"][0]["field"] == "password"


def test_failed_logins_are_limited_per_account_even_for_the_right_password(stack: Stack) -> None:
    _new_user(stack, "limitada@example.com")
    for _ in range(5):
        assert stack.login("limitada@example.com", "no es la clave 000").status_code == 401
    locked = stack.login("limitada@example.com")
    assert locked.status_code == 429 and locked.get_json()["code"] == "too_many_requests"
    assert int(locked.headers["Retry-After"]) > 0
    # Another account from the same address still signs in.
    assert stack.login("carla@example.com").status_code == 200


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(stack: Stack) -> None:
    first = stack.login("beto@example.com").get_json()
    second = stack.http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    fresh = second.get_json()
    assert fresh["refresh_token"] != first["refresh_token"] and fresh["session_id"] == first["session_id"]
    assert (
        stack.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code
        == 200
    )
    replay = stack.http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # The reuse revoked the session: even the newest tokens stop working.
    after = stack.http.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert after.status_code == 401
    me = stack.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert me.status_code == 401 and me.get_json()["code"] == "session_revoked"


def test_logout_refuses_the_token_at_once_and_other_sessions_go_on(stack: Stack) -> None:
    a = stack.login("marta@example.com").get_json()
    b = stack.login("marta@example.com").get_json()
    ha, hb = ({"Authorization": f"Bearer {t['access_token']}"} for t in (a, b))
    assert stack.http.post("/api/v1/auth/logout", headers=ha).status_code == 204
    gone = stack.http.get("/api/v1/clients", headers=ha)
    assert gone.status_code == 401 and gone.get_json()["code"] == "session_revoked"
    assert stack.http.get("/api/v1/clients", headers=hb).status_code == 200
    assert stack.http.post("/api/v1/auth/refresh", json={"refresh_token": a["refresh_token"]}).status_code == 401


def test_a_deactivated_user_is_refused_at_once_and_cannot_sign_in(stack: Stack) -> None:
    user_id = _new_user(stack, "saliente@example.com")
    token = stack.login("saliente@example.com").get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert stack.http.get("/api/v1/clients", headers=headers).status_code == 200
    res = stack.http.post(f"/api/v1/users/{user_id}:deactivate", headers=stack.auth("admin"))
    assert res.status_code == 200 and res.get_json()["active"] is False
    refused = stack.http.get("/api/v1/clients", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["code"] in {"user_inactive", "session_revoked"}
    assert stack.login("saliente@example.com").status_code == 401
    back = stack.http.post(f"/api/v1/users/{user_id}:reactivate", headers=stack.auth("admin"))
    assert back.status_code == 200 and back.get_json()["active"] is True
    assert stack.login("saliente@example.com").status_code == 200
    # The old session stays ended.
    assert stack.http.get("/api/v1/clients", headers=headers).status_code == 401


def test_an_admin_reset_forces_a_new_password_before_anything_else(stack: Stack) -> None:
    user_id = _new_user(stack, "olvidadiza@example.com")
    reset = stack.http.post(
        f"/api/v1/users/{user_id}:resetPassword", json={"new_password": "temporal 123456"}, headers=stack.auth("admin")
    )
    assert reset.status_code == 204
    session = stack.login("olvidadiza@example.com", "temporal 123456").get_json()
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    blocked = stack.http.get("/api/v1/clients", headers=headers)
    assert blocked.status_code == 403 and blocked.get_json()["code"] == "password_change_required"
    assert stack.http.get("/api/v1/auth/me", headers=headers).get_json()["password_change_required"] is True
    changed = stack.http.post(
        "/api/v1/auth/password",
        json={"current_password": "temporal 123456", "new_password": "mi propia clave 789"},
        headers=headers,
    )
    assert changed.status_code == 204
    # Changing the password ended every session; the new password works and nothing is blocked.
    assert stack.http.get("/api/v1/auth/me", headers=headers).status_code == 401
    again = stack.login("olvidadiza@example.com", "mi propia clave 789").get_json()
    assert (
        stack.http.get("/api/v1/clients", headers={"Authorization": f"Bearer {again['access_token']}"}).status_code
        == 200
    )


def test_api_tokens_are_shown_once_work_as_their_user_and_stop_when_revoked(stack: Stack) -> None:
    made = stack.http.post("/api/v1/api-tokens", json={"name": "ERP sync"}, headers=stack.auth("carla"))
    assert made.status_code == 201, made.get_json()
    token, meta = made.get_json()["token"], made.get_json()["api_token"]
    assert token.startswith("crm_pat_") and meta["prefix"] == token[:12] and meta["user_id"] == stack.id("carla")
    listed = stack.http.get("/api/v1/api-tokens", headers=stack.auth("carla")).get_json()["items"]
    assert [t["id"] for t in listed] == [meta["id"]] and token not in str(listed)
    headers = {"Authorization": f"Bearer {token}"}
    me = stack.http.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["id"] == stack.id("carla")
    # Another rep cannot revoke it (404: not theirs), its owner can.
    assert stack.http.post(f"/api/v1/api-tokens/{meta['id']}:revoke", headers=stack.auth("ana")).status_code == 404
    revoked = stack.http.post(f"/api/v1/api-tokens/{meta['id']}:revoke", headers=stack.auth("carla"))
    assert revoked.status_code == 200 and revoked.get_json()["revoke_time"]
    refused = stack.http.get("/api/v1/auth/me", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["code"] == "invalid_token"
    # A rep cannot make a token that acts as someone else.
    other = stack.http.post(
        "/api/v1/api-tokens", json={"name": "x", "user_id": stack.id("ana")}, headers=stack.auth("carla")
    )
    assert other.status_code == 403


def test_a_revocation_made_elsewhere_reaches_the_gateway_through_identity_events(stack: Stack) -> None:
    """Another gateway process (here: a direct gRPC call) ends a session; this one learns it from
    the event feed, not from asking identity on each request."""
    deadline = time.monotonic() + 10
    while stack.http.get("/readyz").get_json()["identity_events"] != "synced":
        assert time.monotonic() < deadline, "the identity event feed never caught up"
        time.sleep(0.05)
    session = stack.login("beto@example.com").get_json()
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    assert stack.http.get("/api/v1/auth/me", headers=headers).status_code == 200
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.identity.grpc_port}")
    identity_pb2_grpc.IdentityServiceStub(channel).RevokeSession(
        identity_pb2.RevokeSessionRequest(id=session["session_id"]),
        metadata=[(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)],
        timeout=5,
    )
    channel.close()
    deadline = time.monotonic() + 10
    while stack.http.get("/api/v1/auth/me", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "the revocation never reached the gateway"
        time.sleep(0.02)
    res = stack.http.get("/api/v1/auth/me", headers=headers)
    assert res.status_code == 401 and res.get_json()["code"] == "session_revoked"
