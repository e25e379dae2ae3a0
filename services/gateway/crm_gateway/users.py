"""/api/v1/users, /api/v1/teams and /api/v1/api-tokens: the commercial team and its API tokens.
Everyone signed in can read users and teams (to assign records); only admins change them, but a
user may edit their own name, time zone and language."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from flask import Response, url_for
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from crm.identity.v1 import identity_pb2
from crm_gateway.access import authenticator, principal, require_admin
from crm_gateway.api import ProblemError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.auth import UserState, identity_stub
from crm_gateway.convert import ProtoJson, ProtoPage, from_json, page, to_json
from crm_gateway.lists import PageToken
from crm_gateway.routing import Resource

users = Resource("users", "Users", "The people of the commercial team.")
teams = Resource("teams", "Teams", "Teams of reps, each led by a manager.")
tokens = Resource("api_tokens", "API tokens", "Tokens for scripts and integrations, shown once.")

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(max_length=36)]
Role = Literal["admin", "manager", "rep"]
PageSize = Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Strict):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    display_name: Name
    role: Role
    team_id: Id = ""
    time_zone: Annotated[str, StringConstraints(max_length=64)] = ""
    locale: Annotated[str, StringConstraints(max_length=35)] = ""
    password: Annotated[str, StringConstraints(min_length=10, max_length=256)] | None = None


class UserPatch(_Strict):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)] | None = None
    display_name: Name | None = None
    role: Role | None = None
    team_id: Id = ""
    time_zone: Annotated[str, StringConstraints(max_length=64)] = ""
    locale: Annotated[str, StringConstraints(max_length=35)] = ""


SELF_EDITABLE = {"display_name", "time_zone", "locale"}


class UserListQuery(_Query):
    page_size: PageSize = 0
    page_token: PageToken = ""
    q: Annotated[str, StringConstraints(max_length=200)] = ""
    team_id: Id = ""
    role: Role | None = None
    include_inactive: bool = False


class PasswordReset(_Strict):
    new_password: Annotated[str, StringConstraints(min_length=10, max_length=256)]


class TeamCreate(_Strict):
    name: Name
    manager_id: Id = ""


class TeamPatch(_Strict):
    name: Name | None = None
    manager_id: Id = ""


class TeamListQuery(_Query):
    page_size: PageSize = 0
    page_token: PageToken = ""
    q: Annotated[str, StringConstraints(max_length=200)] = ""
    manager_id: Id = ""


class TokenCreate(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    user_id: Id = ""
    expire_time: AwareDatetime | None = None


class TokenCreated(BaseModel):
    """The new token. `token` is shown this once: store it now."""

    token: str
    api_token: dict[str, object]


class TokenListQuery(_Query):
    page_size: PageSize = 0
    page_token: PageToken = ""
    user_id: Id = ""
    include_revoked: bool = False


def _remember(user: identity_pb2.User) -> None:
    auth = authenticator()
    auth.directory.put_user(UserState.from_proto(user))
    auth.forget(f"user:{user.id}")


# --- users --------------------------------------------------------------------------------------


@users.route("GET", "/api/v1/users", query=UserListQuery, response=ProtoPage(identity_pb2.User))
def list_users(query: UserListQuery) -> Response:
    """List users (active ones unless include_inactive)."""
    req = identity_pb2.ListUsersRequest(
        page_size=query.page_size,
        page_token=query.page_token,
        query=query.q,
        team_id=query.team_id,
        include_inactive=query.include_inactive,
    )
    if query.role:
        from_json(req, {"role": query.role})
    r = call("identity", identity_stub().ListUsers, req)
    return respond(page(list(r.users), r.next_page_token))


@users.route(
    "POST",
    "/api/v1/users",
    body=UserCreate,
    response=ProtoJson(identity_pb2.User),
    status=201,
    errors=(409,),
    response_headers=("Location",),
    request_headers=("Idempotency-Key",),
)
def create_user(body: UserCreate) -> Response:
    """Create a user (admins only)."""
    p = require_admin()
    fields = body.model_dump(exclude={"password"})
    msg = from_json(identity_pb2.User(), {k: v for k, v in fields.items() if v != ""})
    req = identity_pb2.CreateUserRequest(user=msg, password=body.password or "", request_id=idempotency_key(p.id))
    r = call("identity", identity_stub().CreateUser, req)
    _remember(r.user)
    location = url_for("users.get_user", user_id=r.user.id)
    return respond(to_json(r.user), 201, {"Location": location, **etag(r.user.version)})


@users.route(
    "GET",
    "/api/v1/users/<id:user_id>",
    response=ProtoJson(identity_pb2.User),
    errors=(404,),
    response_headers=("ETag",),
)
def get_user(user_id: str) -> Response:
    """Get a user."""
    r = call("identity", identity_stub().GetUser, identity_pb2.GetUserRequest(id=user_id))
    return respond(to_json(r.user), headers=etag(r.user.version))


@users.route(
    "PATCH",
    "/api/v1/users/<id:user_id>",
    body=UserPatch,
    response=ProtoJson(identity_pb2.User),
    errors=(404, 409, 412),
    response_headers=("ETag",),
    request_headers=("If-Match",),
)
def update_user(user_id: str, body: UserPatch) -> Response:
    """Update a user.
    Admins change any field; users change their own display_name, time_zone and locale."""
    p = principal()
    changed = body.model_dump(exclude_unset=True)
    if not changed:
        raise ProblemError(400, "empty_update", "name at least one field to change")
    if p.role != "admin" and (user_id != p.id or not set(changed) <= SELF_EDITABLE):
        raise ProblemError(
            403,
            "admin_only",
            "only an admin may change this (users may edit their own display_name, time_zone and locale)",
        )
    current = call("identity", identity_stub().GetUser, identity_pb2.GetUserRequest(id=user_id)).user
    req = identity_pb2.UpdateUserRequest(
        user=from_json(identity_pb2.User(id=user_id), changed),
        update_mask=FieldMask(paths=sorted(changed)),
        expected_version=check_version(if_match(), current.version, "user"),
    )
    r = call("identity", identity_stub().UpdateUser, req)
    _remember(r.user)
    return respond(to_json(r.user), headers=etag(r.user.version))


def _lifecycle(user_id: str, rpc: str) -> Response:
    require_admin()
    current = call("identity", identity_stub().GetUser, identity_pb2.GetUserRequest(id=user_id)).user
    version = check_version(if_match(), current.version, "user")
    if rpc == "deactivate":
        r = call(
            "identity",
            identity_stub().DeactivateUser,
            identity_pb2.DeactivateUserRequest(id=user_id, expected_version=version),
        )
        authenticator().directory.revoke_user_sessions(user_id, time.time())
    else:
        r = call(
            "identity",
            identity_stub().ReactivateUser,
            identity_pb2.ReactivateUserRequest(id=user_id, expected_version=version),
        )
    _remember(r.user)
    return respond(to_json(r.user), headers=etag(r.user.version))


@users.route(
    "POST",
    "/api/v1/users/<id:user_id>:deactivate",
    response=ProtoJson(identity_pb2.User),
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def deactivate_user(user_id: str) -> Response:
    """Deactivate a user (admins only).
    Their sessions and API tokens stop working at once; their records keep them as owner."""
    return _lifecycle(user_id, "deactivate")


@users.route(
    "POST",
    "/api/v1/users/<id:user_id>:reactivate",
    response=ProtoJson(identity_pb2.User),
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def reactivate_user(user_id: str) -> Response:
    """Reactivate a user (admins only)."""
    return _lifecycle(user_id, "reactivate")


@users.route("POST", "/api/v1/users/<id:user_id>:resetPassword", body=PasswordReset, status=204, errors=(404,))
def reset_password(user_id: str, body: PasswordReset) -> Response:
    """Set a user's password (admins only).
    The user must choose a new one at their next sign-in; their sessions end."""
    require_admin()
    req = identity_pb2.ChangePasswordRequest(user_id=user_id, new_password=body.new_password)
    call("identity", identity_stub().ChangePassword, req)
    authenticator().directory.revoke_user_sessions(user_id, time.time())
    authenticator().forget(f"user:{user_id}")
    return Response(status=204)


# --- teams --------------------------------------------------------------------------------------


@teams.route("GET", "/api/v1/teams", query=TeamListQuery, response=ProtoPage(identity_pb2.Team))
def list_teams(query: TeamListQuery) -> Response:
    """List teams."""
    req = identity_pb2.ListTeamsRequest(
        page_size=query.page_size, page_token=query.page_token, query=query.q, manager_id=query.manager_id
    )
    r = call("identity", identity_stub().ListTeams, req)
    return respond(page(list(r.teams), r.next_page_token))


@teams.route(
    "POST",
    "/api/v1/teams",
    body=TeamCreate,
    response=ProtoJson(identity_pb2.Team),
    status=201,
    errors=(409,),
    response_headers=("Location",),
    request_headers=("Idempotency-Key",),
)
def create_team(body: TeamCreate) -> Response:
    """Create a team (admins only)."""
    p = require_admin()
    req = identity_pb2.CreateTeamRequest(
        team=identity_pb2.Team(name=body.name, manager_id=body.manager_id), request_id=idempotency_key(p.id)
    )
    r = call("identity", identity_stub().CreateTeam, req)
    authenticator().directory.put_team(r.team.id, r.team.manager_id, r.team.version)
    return respond(to_json(r.team), 201, {"Location": url_for("teams.get_team", team_id=r.team.id)})


@teams.route(
    "GET",
    "/api/v1/teams/<id:team_id>",
    response=ProtoJson(identity_pb2.Team),
    errors=(404,),
    response_headers=("ETag",),
)
def get_team(team_id: str) -> Response:
    """Get a team."""
    r = call("identity", identity_stub().GetTeam, identity_pb2.GetTeamRequest(id=team_id))
    return respond(to_json(r.team), headers=etag(r.team.version))


@teams.route(
    "PATCH",
    "/api/v1/teams/<id:team_id>",
    body=TeamPatch,
    response=ProtoJson(identity_pb2.Team),
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_team(team_id: str, body: TeamPatch) -> Response:
    """Rename a team or change its manager (admins only)."""
    require_admin()
    changed = body.model_dump(exclude_unset=True)
    if not changed:
        raise ProblemError(400, "empty_update", "name at least one field to change")
    current = call("identity", identity_stub().GetTeam, identity_pb2.GetTeamRequest(id=team_id)).team
    req = identity_pb2.UpdateTeamRequest(
        team=identity_pb2.Team(id=team_id, **changed),
        update_mask=FieldMask(paths=sorted(changed)),
        expected_version=check_version(if_match(), current.version, "team"),
    )
    r = call("identity", identity_stub().UpdateTeam, req)
    authenticator().directory.put_team(r.team.id, r.team.manager_id, r.team.version)
    return respond(to_json(r.team), headers=etag(r.team.version))


@teams.route("DELETE", "/api/v1/teams/<id:team_id>", status=204, errors=(404,))
def delete_team(team_id: str) -> Response:
    """Delete a team that has no members (admins only)."""
    require_admin()
    call("identity", identity_stub().DeleteTeam, identity_pb2.DeleteTeamRequest(id=team_id))
    authenticator().directory.drop_team(team_id)
    return Response(status=204)


# --- API tokens ---------------------------------------------------------------------------------


def _token_owner(requested: str) -> str:
    p = principal()
    if requested and requested != p.id and p.role != "admin":
        raise ProblemError(403, "admin_only", "only an admin may manage another user's API tokens")
    return requested or p.id


@tokens.route("GET", "/api/v1/api-tokens", query=TokenListQuery, response=ProtoPage(identity_pb2.ApiToken))
def list_api_tokens(query: TokenListQuery) -> Response:
    """List my API tokens (an admin may name another user)."""
    req = identity_pb2.ListApiTokensRequest(
        page_size=query.page_size,
        page_token=query.page_token,
        user_id=_token_owner(query.user_id),
        include_revoked=query.include_revoked,
    )
    r = call("identity", identity_stub().ListApiTokens, req)
    return respond(page(list(r.api_tokens), r.next_page_token))


@tokens.route(
    "POST",
    "/api/v1/api-tokens",
    body=TokenCreate,
    response=TokenCreated,
    status=201,
    errors=(404,),
    request_headers=("Idempotency-Key",),
)
def create_api_token(body: TokenCreate) -> Response:
    """Create an API token.
    The token acts as its user; send it as `Authorization: Bearer crm_pat_...`. It is shown once."""
    p = principal()
    req = identity_pb2.CreateApiTokenRequest(
        user_id=_token_owner(body.user_id), name=body.name, request_id=idempotency_key(p.id)
    )
    if body.expire_time is not None:
        if body.expire_time.timestamp() <= time.time():
            raise ProblemError(
                400,
                "validation_failed",
                "expire_time: must be in the future",
                errors=[{"field": "expire_time", "message": "must be in the future"}],
            )
        req.expire_time.FromDatetime(body.expire_time)
    r = call("identity", identity_stub().CreateApiToken, req)
    return respond({"token": r.plaintext_token, "api_token": to_json(r.api_token)}, 201, {"Cache-Control": "no-store"})


@tokens.route(
    "POST", "/api/v1/api-tokens/<id:token_id>:revoke", response=ProtoJson(identity_pb2.ApiToken), errors=(404,)
)
def revoke_api_token(token_id: str) -> Response:
    """Revoke an API token: it never works again.
    Users revoke their own tokens (another user's is a 404); admins any."""
    p = principal()
    owner = "" if p.role == "admin" else p.id
    req = identity_pb2.RevokeApiTokenRequest(id=token_id, user_id=owner)
    r = call("identity", identity_stub().RevokeApiToken, req)
    authenticator().directory.revoke_api_token(token_id)
    return respond(to_json(r.api_token))
