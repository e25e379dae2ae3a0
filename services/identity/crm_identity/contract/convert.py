"""Translation between protobuf messages and domain objects (the only place that knows both)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.identity.v1 import events_pb2, identity_pb2
from crm_identity.adapters.token_signing import SigningKey
from crm_identity.domain.api_tokens import ApiToken
from crm_identity.domain.sessions import Session
from crm_identity.domain.teams import Team
from crm_identity.domain.users import Role, User

_ROLE_TO_PROTO = {
    Role.ADMIN: identity_pb2.ROLE_ADMIN,
    Role.MANAGER: identity_pb2.ROLE_MANAGER,
    Role.REP: identity_pb2.ROLE_REP,
}
_ROLE_FROM_PROTO: dict[int, Role] = {v: k for k, v in _ROLE_TO_PROTO.items()}


def role_from_proto(value: int) -> Role | None:
    """None for ROLE_UNSPECIFIED (and unknown numbers)."""
    return _ROLE_FROM_PROTO.get(value)


def role_to_proto(role: Role) -> identity_pb2.Role:
    return _ROLE_TO_PROTO[role]


def _set(ts: Timestamp, value: datetime | None) -> None:
    if value is not None:
        ts.FromDatetime(value)


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def datetime_or_none(message: Message, field: str) -> datetime | None:
    """A Timestamp field as an aware UTC datetime, or None when it is unset."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return value.ToDatetime(UTC)


def user_from_proto(msg: identity_pb2.User) -> User:
    """The fields a caller may set; the rest (id, times, version, active) belong to the service."""
    return User(
        id=msg.id,
        email=msg.email,
        display_name=msg.display_name,
        role=role_from_proto(msg.role),
        team_id=msg.team_id,
        time_zone=msg.time_zone,
        locale=msg.locale,
        password_change_required=msg.password_change_required,
    )


def user_to_proto(user: User) -> identity_pb2.User:
    assert user.role is not None
    msg = identity_pb2.User(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=role_to_proto(user.role),
        team_id=user.team_id,
        active=user.active,
        time_zone=user.time_zone,
        locale=user.locale,
        version=user.version,
        password_change_required=user.password_change_required,
    )
    _set(msg.last_login_time, user.last_login_at)
    _set(msg.deactivate_time, user.deactivated_at)
    _set(msg.create_time, user.created_at)
    _set(msg.update_time, user.updated_at)
    return msg


def team_from_proto(msg: identity_pb2.Team) -> Team:
    return Team(id=msg.id, name=msg.name, manager_id=msg.manager_id)


def team_to_proto(team: Team) -> identity_pb2.Team:
    msg = identity_pb2.Team(id=team.id, name=team.name, manager_id=team.manager_id, version=team.version)
    _set(msg.create_time, team.created_at)
    _set(msg.update_time, team.updated_at)
    return msg


def session_to_proto(session: Session) -> identity_pb2.Session:
    msg = identity_pb2.Session(
        id=session.id,
        user_id=session.user_id,
        client_address=session.client_address,
        user_agent=session.user_agent,
        revoke_reason=session.revoke_reason,
    )
    _set(msg.create_time, session.created_at)
    _set(msg.last_refresh_time, session.last_refresh_at)
    _set(msg.expire_time, session.expire_at)
    _set(msg.revoke_time, session.revoked_at)
    return msg


def signing_key_to_proto(key: SigningKey) -> identity_pb2.SigningKey:
    msg = identity_pb2.SigningKey(key_id=key.key_id, algorithm=key.algorithm, public_key_pem=key.public_key_pem)
    _set(msg.create_time, key.created_at)
    return msg


def api_token_to_proto(token: ApiToken) -> identity_pb2.ApiToken:
    msg = identity_pb2.ApiToken(id=token.id, user_id=token.user_id, name=token.name, prefix=token.prefix)
    _set(msg.expire_time, token.expire_at)
    _set(msg.last_use_time, token.last_used_at)
    _set(msg.revoke_time, token.revoked_at)
    _set(msg.create_time, token.created_at)
    return msg


# --- integration events ------------------------------------------------------------------------


def user_created(user: User) -> events_pb2.UserCreated:
    return events_pb2.UserCreated(user=user_to_proto(user))


def user_updated(user: User, changed_fields: list[str]) -> events_pb2.UserUpdated:
    return events_pb2.UserUpdated(user=user_to_proto(user), changed_fields=changed_fields)


def user_deactivated(user: User) -> events_pb2.UserDeactivated:
    return events_pb2.UserDeactivated(user=user_to_proto(user))


def user_sessions_revoked(user_id: str, reason: str, revoke_time: datetime) -> events_pb2.UserSessionsRevoked:
    event = events_pb2.UserSessionsRevoked(user_id=user_id, reason=reason)
    event.revoke_time.FromDatetime(revoke_time)
    return event


def session_revoked(session: Session) -> events_pb2.SessionRevoked:
    return events_pb2.SessionRevoked(session=session_to_proto(session))


def team_created(team: Team) -> events_pb2.TeamCreated:
    return events_pb2.TeamCreated(team=team_to_proto(team))


def team_updated(team: Team, changed_fields: list[str]) -> events_pb2.TeamUpdated:
    return events_pb2.TeamUpdated(team=team_to_proto(team), changed_fields=changed_fields)


def team_deleted(team: Team) -> events_pb2.TeamDeleted:
    return events_pb2.TeamDeleted(team=team_to_proto(team))


def api_token_created(token: ApiToken) -> events_pb2.ApiTokenCreated:
    return events_pb2.ApiTokenCreated(api_token=api_token_to_proto(token))


def api_token_revoked(token: ApiToken) -> events_pb2.ApiTokenRevoked:
    return events_pb2.ApiTokenRevoked(api_token=api_token_to_proto(token))
