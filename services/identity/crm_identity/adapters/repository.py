"""Storing and reading users, teams, sessions, refresh tokens, sign-in attempts, signing keys and
API tokens: the translation between table rows and domain objects."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session as DbSession

from crm_identity.adapters.tables import (
    api_tokens,
    login_attempts,
    refresh_tokens,
    sessions,
    signing_keys,
    teams,
    users,
)
from crm_identity.adapters.token_signing import SigningKey
from crm_identity.domain.api_tokens import ApiToken
from crm_identity.domain.sessions import Session
from crm_identity.domain.teams import Team
from crm_identity.domain.users import Role, User
from crm_platform.db import rows_changed


def _utc(value: Any) -> Any:
    # SQLite gives back naive datetimes; everything stored is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def advisory_lock(session: DbSession, name: str) -> None:
    """On PostgreSQL, serialises transactions that take the same named lock until they end (SQLite
    writers are serialised anyway: every write transaction begins with BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"crm-identity:{name}".encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


# --- users ------------------------------------------------------------------------------------


def _row_to_user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        team_id=row.team_id or "",
        active=row.active,
        time_zone=row.time_zone,
        locale=row.locale,
        password_change_required=row.password_change_required,
        last_login_at=_utc(row.last_login_at),
        deactivated_at=_utc(row.deactivated_at),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        version=row.version,
    )


def _user_values(user: User) -> dict[str, Any]:
    assert user.role is not None
    return {
        "email": user.email,
        "email_key": user.email_key,
        "display_name": user.display_name,
        "name_key": user.display_name.casefold(),
        "role": user.role.value,
        "team_id": user.team_id or None,
        "active": user.active,
        "time_zone": user.time_zone,
        "locale": user.locale,
        "password_change_required": user.password_change_required,
        "last_login_at": user.last_login_at,
        "deactivated_at": user.deactivated_at,
        "updated_at": user.updated_at,
        "version": user.version,
    }


def add_user(session: DbSession, user: User, password_hash: str | None) -> None:
    session.execute(
        insert(users).values(id=user.id, created_at=user.created_at, password_hash=password_hash, **_user_values(user))
    )


def get_user(session: DbSession, user_id: str, *, for_update: bool = False) -> User | None:
    found = get_user_with_password(session, user_id, for_update=for_update)
    return None if found is None else found[0]


def get_user_with_password(
    session: DbSession, user_id: str, *, for_update: bool = False
) -> tuple[User, str | None] | None:
    stmt = select(users).where(users.c.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    return None if row is None else (_row_to_user(row), row.password_hash)


def find_user_by_email_key(session: DbSession, key: str) -> tuple[User, str | None] | None:
    """The user signing in with this e-mail, and its password hash."""
    row = session.execute(select(users).where(users.c.email_key == key)).first()
    return None if row is None else (_row_to_user(row), row.password_hash)


def email_taken_by(session: DbSession, key: str, exclude_id: str = "") -> str | None:
    stmt = select(users.c.id).where(users.c.email_key == key)
    if exclude_id:
        stmt = stmt.where(users.c.id != exclude_id)
    return session.scalar(stmt.limit(1))


def get_users(session: DbSession, ids: Sequence[str]) -> list[User]:
    if not ids:
        return []
    return [_row_to_user(r) for r in session.execute(select(users).where(users.c.id.in_(list(ids))))]


def save_user(session: DbSession, user: User, previous_version: int) -> bool:
    """Writes the user's fields (not the password) if its stored version is still
    `previous_version`; False when a concurrent change got there first."""
    result = session.execute(
        update(users).where(users.c.id == user.id, users.c.version == previous_version).values(**_user_values(user))
    )
    return bool(rows_changed(result))


def set_password_hash(session: DbSession, user_id: str, password_hash: str) -> None:
    session.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def record_login(session: DbSession, user_id: str, now: datetime, upgraded_hash: str | None) -> None:
    """Sign-in bookkeeping; not a change of the user as edited, so the version stays."""
    values: dict[str, Any] = {"last_login_at": now}
    if upgraded_hash:
        values["password_hash"] = upgraded_hash
    session.execute(update(users).where(users.c.id == user_id).values(**values))


def lock_active_admins(session: DbSession) -> list[str]:
    """The ids of the active admins, locked until the transaction ends (PostgreSQL; SQLite
    writers are serialised anyway), in id order so that two lockers queue instead of deadlocking.
    A transaction that waited for a row another one demoted or deactivated does not get it back
    (PostgreSQL re-checks the condition on the newest version of a row it waited for)."""
    stmt = (
        select(users.c.id)
        .where(users.c.role == Role.ADMIN.value, users.c.active.is_(True))
        .order_by(users.c.id)
        .with_for_update()
    )
    return list(session.scalars(stmt))


def any_user(session: DbSession) -> bool:
    return session.scalar(select(exists().select_from(users))) or False


def any_active_admin(session: DbSession) -> bool:
    stmt = select(exists().where(users.c.role == Role.ADMIN.value, users.c.active.is_(True)))
    return session.scalar(stmt) or False


def list_users(
    session: DbSession,
    *,
    limit: int,
    after_id: str | None,
    query: str = "",
    team_id: str = "",
    role: str = "",
    include_inactive: bool = False,
) -> list[User]:
    """Users in id order (ids are time-ordered, so: oldest first), keyset-paginated."""
    conditions = []
    if after_id:
        conditions.append(users.c.id > after_id)
    if not include_inactive:
        conditions.append(users.c.active.is_(True))
    if team_id:
        conditions.append(users.c.team_id == team_id)
    if role:
        conditions.append(users.c.role == role)
    needle = query.strip()
    if needle:
        conditions.append(
            or_(
                users.c.name_key.contains(needle.casefold(), autoescape=True),
                users.c.email_key.contains(needle.lower(), autoescape=True),
            )
        )
    stmt = select(users).where(*conditions).order_by(users.c.id).limit(limit)
    return [_row_to_user(r) for r in session.execute(stmt)]


def team_member_count(session: DbSession, team_id: str) -> int:
    return int(session.scalar(select(func.count()).select_from(users).where(users.c.team_id == team_id)) or 0)


# --- teams ------------------------------------------------------------------------------------


def _row_to_team(row: Any) -> Team:
    return Team(
        id=row.id,
        name=row.name,
        manager_id=row.manager_id or "",
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        version=row.version,
    )


def _team_values(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "name_key": team.name_key,
        "manager_id": team.manager_id or None,
        "updated_at": team.updated_at,
        "version": team.version,
    }


def add_team(session: DbSession, team: Team) -> None:
    session.execute(insert(teams).values(id=team.id, created_at=team.created_at, **_team_values(team)))


def get_team(session: DbSession, team_id: str, *, for_update: bool = False) -> Team | None:
    stmt = select(teams).where(teams.c.id == team_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    return None if row is None else _row_to_team(row)


def team_exists(session: DbSession, team_id: str) -> bool:
    return session.scalar(select(exists().where(teams.c.id == team_id))) or False


def team_name_taken_by(session: DbSession, name_key: str, exclude_id: str = "") -> str | None:
    stmt = select(teams.c.id).where(teams.c.name_key == name_key)
    if exclude_id:
        stmt = stmt.where(teams.c.id != exclude_id)
    return session.scalar(stmt.limit(1))


def save_team(session: DbSession, team: Team, previous_version: int) -> bool:
    result = session.execute(
        update(teams).where(teams.c.id == team.id, teams.c.version == previous_version).values(**_team_values(team))
    )
    return bool(rows_changed(result))


def delete_team(session: DbSession, team_id: str) -> None:
    session.execute(delete(teams).where(teams.c.id == team_id))


def list_teams(
    session: DbSession, *, limit: int, after_id: str | None, query: str = "", manager_id: str = ""
) -> list[Team]:
    conditions = []
    if after_id:
        conditions.append(teams.c.id > after_id)
    if manager_id:
        conditions.append(teams.c.manager_id == manager_id)
    if query.strip():
        conditions.append(teams.c.name_key.contains(query.strip().casefold(), autoescape=True))
    stmt = select(teams).where(*conditions).order_by(teams.c.id).limit(limit)
    return [_row_to_team(r) for r in session.execute(stmt)]


# --- sessions and refresh tokens --------------------------------------------------------------


def _row_to_session(row: Any) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        client_address=row.client_address,
        user_agent=row.user_agent,
        created_at=_utc(row.created_at),
        last_refresh_at=_utc(row.last_refresh_at),
        expire_at=_utc(row.expire_at),
        revoked_at=_utc(row.revoked_at),
        revoke_reason=row.revoke_reason,
    )


def add_session(session: DbSession, s: Session) -> None:
    session.execute(
        insert(sessions).values(
            id=s.id,
            user_id=s.user_id,
            client_address=s.client_address,
            user_agent=s.user_agent,
            created_at=s.created_at,
            last_refresh_at=s.last_refresh_at,
            expire_at=s.expire_at,
            revoked_at=s.revoked_at,
            revoke_reason=s.revoke_reason,
        )
    )


def get_session(session: DbSession, session_id: str, *, for_update: bool = False) -> Session | None:
    stmt = select(sessions).where(sessions.c.id == session_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    return None if row is None else _row_to_session(row)


def save_session(session: DbSession, s: Session) -> None:
    session.execute(
        update(sessions)
        .where(sessions.c.id == s.id)
        .values(
            last_refresh_at=s.last_refresh_at,
            expire_at=s.expire_at,
            revoked_at=s.revoked_at,
            revoke_reason=s.revoke_reason,
        )
    )


def revoke_user_sessions(session: DbSession, user_id: str, now: datetime, reason: str) -> int:
    """Ends every open session of the user; returns how many were open."""
    result = session.execute(
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    return rows_changed(result)


def add_refresh_token(session: DbSession, digest: str, session_id: str, now: datetime) -> None:
    session.execute(insert(refresh_tokens).values(token_hash=digest, session_id=session_id, created_at=now))


def get_refresh_token(session: DbSession, digest: str) -> tuple[str, datetime | None] | None:
    """(session id, when it was used or None), locking the row until the transaction ends so
    that two refreshes with one token cannot both rotate it."""
    row = session.execute(
        select(refresh_tokens.c.session_id, refresh_tokens.c.used_at)
        .where(refresh_tokens.c.token_hash == digest)
        .with_for_update()
    ).first()
    return None if row is None else (row.session_id, _utc(row.used_at))


def mark_refresh_token_used(session: DbSession, digest: str, now: datetime) -> None:
    session.execute(update(refresh_tokens).where(refresh_tokens.c.token_hash == digest).values(used_at=now))


def purge_ended_sessions(session: DbSession, ended_before: datetime, batch: int = 500) -> None:
    """Deletes up to `batch` refresh tokens of sessions that ended (were revoked, or expired)
    before `ended_before`, then up to `batch` such sessions that no refresh token refers to any
    more. Sessions still open keep all their tokens, used ones included (reuse detection needs
    them). On PostgreSQL rows another transaction holds are skipped, not waited for."""
    ended = or_(sessions.c.revoked_at < ended_before, sessions.c.expire_at < ended_before)
    old_tokens = (
        select(refresh_tokens.c.token_hash)
        .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
        .where(ended)
        .limit(batch)
        .with_for_update(of=refresh_tokens, skip_locked=True)
    )
    session.execute(delete(refresh_tokens).where(refresh_tokens.c.token_hash.in_(old_tokens.scalar_subquery())))
    old_sessions = (
        select(sessions.c.id)
        .where(ended, ~exists().where(refresh_tokens.c.session_id == sessions.c.id))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(sessions).where(sessions.c.id.in_(old_sessions.scalar_subquery())))


# --- sign-in attempts -------------------------------------------------------------------------


def purge_login_attempts(session: DbSession, before: datetime, batch: int = 500) -> None:
    """Deletes up to `batch` attempts older than `before` (every sign-in purges a batch, so the
    table stays small). On PostgreSQL rows another sign-in is purging are skipped, not waited
    for: concurrent purges neither queue nor deadlock."""
    old = (
        select(login_attempts.c.id)
        .where(login_attempts.c.attempted_at < before)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(login_attempts).where(login_attempts.c.id.in_(old.scalar_subquery())))


def recent_attempt_times(
    session: DbSession, *, by: Literal["email_key", "client_address"], value: str, since: datetime, limit: int
) -> list[datetime]:
    """The times of the latest `limit` attempts with this e-mail key (or client address) since
    `since`, newest first."""
    column = login_attempts.c[by]
    stmt = (
        select(login_attempts.c.attempted_at)
        .where(column == value, login_attempts.c.attempted_at >= since)
        .order_by(login_attempts.c.attempted_at.desc())
        .limit(limit)
    )
    attempted: list[datetime] = list(session.scalars(stmt))
    return [_utc(t) for t in attempted]


def add_login_attempt(session: DbSession, email_key: str, client_address: str, now: datetime) -> None:
    session.execute(insert(login_attempts).values(email_key=email_key, client_address=client_address, attempted_at=now))


def clear_login_attempts(session: DbSession, email_key: str) -> None:
    session.execute(delete(login_attempts).where(login_attempts.c.email_key == email_key))


# --- signing keys -----------------------------------------------------------------------------


def _row_to_key(row: Any) -> SigningKey:
    return SigningKey(row.key_id, row.algorithm, row.private_key_pem, row.public_key_pem, _utc(row.created_at))


def add_signing_key(session: DbSession, key: SigningKey) -> None:
    session.execute(
        insert(signing_keys).values(
            key_id=key.key_id,
            algorithm=key.algorithm,
            private_key_pem=key.private_key_pem,
            public_key_pem=key.public_key_pem,
            created_at=key.created_at,
        )
    )


def list_signing_keys(session: DbSession, limit: int | None = None) -> list[SigningKey]:
    """Newest first."""
    stmt = select(signing_keys).order_by(signing_keys.c.created_at.desc(), signing_keys.c.key_id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_row_to_key(r) for r in session.execute(stmt)]


# --- API tokens -------------------------------------------------------------------------------


def _row_to_api_token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=_utc(row.created_at),
        expire_at=_utc(row.expire_at),
        last_used_at=_utc(row.last_used_at),
        revoked_at=_utc(row.revoked_at),
    )


def add_api_token(session: DbSession, token: ApiToken, digest: str) -> None:
    session.execute(
        insert(api_tokens).values(
            id=token.id,
            user_id=token.user_id,
            name=token.name,
            prefix=token.prefix,
            token_hash=digest,
            expire_at=token.expire_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            created_at=token.created_at,
        )
    )


def get_api_token(session: DbSession, token_id: str, *, for_update: bool = False) -> ApiToken | None:
    stmt = select(api_tokens).where(api_tokens.c.id == token_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    return None if row is None else _row_to_api_token(row)


def find_api_token_by_digest(session: DbSession, digest: str) -> ApiToken | None:
    row = session.execute(select(api_tokens).where(api_tokens.c.token_hash == digest)).first()
    return None if row is None else _row_to_api_token(row)


def revoke_api_token(session: DbSession, token_id: str, now: datetime) -> None:
    session.execute(
        update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)).values(revoked_at=now)
    )


def record_api_token_use(session: DbSession, token_id: str, now: datetime, unless_since: datetime) -> None:
    """Sets last_used_at unless a use was already recorded at or after `unless_since`."""
    session.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < unless_since),
        )
        .values(last_used_at=now)
    )


def list_api_tokens(
    session: DbSession, *, limit: int, after_id: str | None, user_id: str = "", include_revoked: bool = False
) -> list[ApiToken]:
    conditions = []
    if after_id:
        conditions.append(api_tokens.c.id > after_id)
    if user_id:
        conditions.append(api_tokens.c.user_id == user_id)
    if not include_revoked:
        conditions.append(api_tokens.c.revoked_at.is_(None))
    stmt = select(api_tokens).where(*conditions).order_by(api_tokens.c.id).limit(limit)
    return [_row_to_api_token(r) for r in session.execute(stmt)]
