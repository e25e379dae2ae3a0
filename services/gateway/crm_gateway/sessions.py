"""/api/v1/auth: sign in, refresh, sign out, who am I, change my password."""

from __future__ import annotations

import time
from typing import Annotated, Any

from flask import Response, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.identity.v1 import identity_pb2
from crm_gateway.access import authenticator, principal
from crm_gateway.api import ProblemError, UpstreamError, call, respond
from crm_gateway.auth import UserState, identity_stub
from crm_gateway.convert import ProtoJson, to_json
from crm_gateway.routing import Resource

res = Resource("auth", "Sign-in", "Sessions: access and refresh tokens.")

Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(_Strict):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    password: Password


class RefreshIn(_Strict):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PasswordIn(_Strict):
    current_password: Password
    new_password: Annotated[str, StringConstraints(min_length=10, max_length=256)]


class TokensOut(BaseModel):
    """A session's tokens. Send `access_token` as `Authorization: Bearer <token>`; before it
    expires, trade `refresh_token` for new ones at /api/v1/auth/refresh."""

    token_type: str = "Bearer"
    access_token: str
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int
    session_id: str
    user: dict[str, Any]


def _client_address() -> str:
    return request.remote_addr or ""


def _tokens(r: identity_pb2.LoginResponse | identity_pb2.RefreshSessionResponse) -> Response:
    now = time.time()
    body = TokensOut(
        access_token=r.access_token,
        expires_in=max(0, int(r.access_token_expire_time.ToSeconds() - now)),
        refresh_token=r.refresh_token,
        refresh_expires_in=max(0, int(r.refresh_token_expire_time.ToSeconds() - now)),
        session_id=r.session.id,
        user=to_json(r.user),
    )
    authenticator().directory.put_user(UserState.from_proto(r.user))
    return respond(body.model_dump(), headers={"Cache-Control": "no-store"})


@res.route("POST", "/api/v1/auth/login", access="public", body=LoginIn, response=TokensOut, errors=(401, 429))
def login(body: LoginIn) -> Response:
    """Sign in with e-mail and password.
    Failed attempts are limited per account and per address: past the limit the answer is 429 with
    Retry-After, even for the right password, until the window passes."""
    req = identity_pb2.LoginRequest(
        email=body.email,
        password=body.password,
        client_address=_client_address(),
        user_agent=request.headers.get("User-Agent", "")[:300],
    )
    return _tokens(call("identity", identity_stub().Login, req))


@res.route("POST", "/api/v1/auth/refresh", access="public", body=RefreshIn, response=TokensOut, errors=(401,))
def refresh(body: RefreshIn) -> Response:
    """Trade a refresh token for a new access token and a new refresh token.
    The old refresh token stops working; presenting it again ends the session."""
    req = identity_pb2.RefreshSessionRequest(refresh_token=body.refresh_token, client_address=_client_address())
    try:
        return _tokens(call("identity", identity_stub().RefreshSession, req))
    except UpstreamError as exc:
        # A reused refresh token ended its session: refuse its access tokens here at once (the
        # other gateway processes learn it from identity's event), and keep the id to ourselves.
        revoked = exc.info.metadata.pop("revoked_session_id", "")
        if revoked:
            authenticator().directory.revoke_session(revoked, time.time())
        raise


@res.route("POST", "/api/v1/auth/logout", status=204, errors=(400,))
def logout() -> Response:
    """End the current session: its access and refresh tokens stop working at once."""
    p = principal()
    if not p.session_id:
        raise ProblemError(400, "not_a_session", "an API token has no session; revoke the token instead")
    call("identity", identity_stub().RevokeSession, identity_pb2.RevokeSessionRequest(id=p.session_id, reason="logout"))
    authenticator().directory.revoke_session(p.session_id, time.time())
    return Response(status=204)


@res.route("GET", "/api/v1/auth/me", response=ProtoJson(identity_pb2.User))
def me() -> Response:
    """The signed-in user."""
    p = principal()
    res_user = call("identity", identity_stub().GetUser, identity_pb2.GetUserRequest(id=p.id))
    return respond(to_json(res_user.user))


@res.route("POST", "/api/v1/auth/password", body=PasswordIn, status=204, errors=(429,))
def change_password(body: PasswordIn) -> Response:
    """Change my password.
    Every session of the user ends, this one included: sign in again with the new password."""
    p = principal()
    req = identity_pb2.ChangePasswordRequest(
        user_id=p.id, current_password=body.current_password, new_password=body.new_password
    )
    call("identity", identity_stub().ChangePassword, req)
    authenticator().directory.revoke_user_sessions(p.id, time.time())
    authenticator().forget(f"user:{p.id}")
    return Response(status=204)
