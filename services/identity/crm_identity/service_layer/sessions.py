"""Sign-in and sessions: Login (rate-limited in the database, so the limit holds across
replicas), refresh-token rotation with reuse detection, ending sessions, and the signing keys
of the access tokens."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session as DbSession

from crm_identity.adapters import repository
from crm_identity.adapters.token_signing import AccessToken, SigningKey, generate_signing_key, sign_access_token
from crm_identity.contract import convert
from crm_identity.domain.sessions import (
    ENDED_SESSION_RETENTION,
    REASON_LOGOUT,
    REASON_MAX,
    REASON_REFRESH_TOKEN_REUSED,
    Session,
    new_opaque_token,
    refresh_expiry,
    token_digest,
)
from crm_identity.domain.users import User, email_key
from crm_identity.service_layer.common import utcnow
from crm_identity.service_layer.deps import Deps
from crm_platform.db import UnitOfWork
from crm_platform.errors import InvalidArgument, NotFound, ResourceExhausted, Unauthenticated
from crm_platform.ids import is_valid_id, new_id

log = logging.getLogger(__name__)

ADDRESS_MAX = 100
USER_AGENT_MAX = 500


@dataclass(frozen=True)
class SignIn:
    """What Login and RefreshSession answer: the user, its session, and a fresh pair of tokens."""

    user: User
    session: Session
    access_token: AccessToken
    refresh_token: str


def _invalid_credentials() -> Unauthenticated:
    # One answer for an unknown e-mail, a wrong password, a user without a password and an
    # inactive user, so that it does not tell which e-mails exist.
    return Unauthenticated("invalid e-mail or password", reason="invalid_credentials")


def _invalid_refresh_token(revoked_session_id: str = "") -> Unauthenticated:
    # A session ended by this very call (reuse) is named, so that the gateway can refuse its
    # access tokens at once instead of when the SessionRevoked event reaches it.
    metadata = {"revoked_session_id": revoked_session_id} if revoked_session_id else None
    return Unauthenticated(
        "the refresh token is invalid, expired or revoked; sign in again", reason="invalid_token", metadata=metadata
    )


def _session_not_found(session_id: str) -> NotFound:
    return NotFound(f"session '{session_id}' not found", reason="session_not_found")


def revoke_all_sessions(uow: UnitOfWork, user_id: str, now: datetime, reason: str) -> None:
    """Ends every open session of the user and stages UserSessionsRevoked (always, even when none
    was open: the gateway refuses any token of a session that began before revoke_time)."""
    repository.revoke_user_sessions(uow.session, user_id, now, reason)
    uow.add_event(convert.user_sessions_revoked(user_id, reason, now))


# --- signing keys -----------------------------------------------------------------------------


def ensure_signing_key(deps: Deps) -> None:
    """Creates the first signing key when there is none (at start; replicas starting together
    create one between them)."""
    with deps.db.read() as session:
        if repository.list_signing_keys(session, limit=1):
            return
    with deps.db.uow() as uow:
        repository.advisory_lock(uow.session, "signing-keys")
        if not repository.list_signing_keys(uow.session, limit=1):
            repository.add_signing_key(uow.session, generate_signing_key(utcnow()))
            uow.commit()


def _current_signing_key(session: DbSession) -> SigningKey:
    newest = repository.list_signing_keys(session, limit=1)
    if newest:
        return newest[0]
    # Only if the table was emptied by hand after start: make a key rather than fail sign-ins.
    key = generate_signing_key(utcnow())
    repository.add_signing_key(session, key)
    return key


def list_signing_keys(deps: Deps) -> list[SigningKey]:
    with deps.db.read() as session:
        return repository.list_signing_keys(session)


# --- sign-in ----------------------------------------------------------------------------------


def _refuse_while_limited(deps: Deps, session: DbSession, key: str, address: str, now: datetime) -> None:
    """RESOURCE_EXHAUSTED when the e-mail, or the client address, already has as many failed
    attempts in the window as the limit allows; retry_after_seconds is when the oldest of the
    counted failures leaves the window."""
    window = deps.login_window
    since = now - window
    waits = []
    limits: list[tuple[Literal["email_key", "client_address"], str, int]] = [
        ("email_key", key, deps.settings.login_max_failures_per_account)
    ]
    if address:  # without an address (a caller that did not pass one), only the account limit applies
        limits.append(("client_address", address, deps.settings.login_max_failures_per_address))
    for by, value, limit in limits:
        times = repository.recent_attempt_times(session, by=by, value=value, since=since, limit=limit)
        if len(times) >= limit:
            waits.append((times[-1] + window - now).total_seconds())
    if waits:
        raise ResourceExhausted(
            "too many failed sign-in attempts; retry later",
            metadata={"retry_after_seconds": str(max(1, math.ceil(max(waits))))},
        )


def count_password_attempt(deps: Deps, uow: UnitOfWork, key: str, address: str, now: datetime) -> None:
    """To call before checking a password given for the account `key` (Login, ChangePassword):
    RESOURCE_EXHAUSTED while the account (or the address, when there is one) is at its limit of
    failed attempts; otherwise the attempt is counted as a failure from now on, and the caller
    clears the account's attempts when the password proves right. So a guess in flight already
    counts, and guesses sent in parallel cannot all pass the check before any is counted."""
    # One attempt at a time per e-mail (PostgreSQL; SQLite writers queue anyway).
    repository.advisory_lock(uow.session, f"login:{key}")
    _refuse_while_limited(deps, uow.session, key, address, now)
    repository.add_login_attempt(uow.session, key, address, now)


def login(deps: Deps, email: str, password: str, *, client_address: str = "", user_agent: str = "") -> SignIn:
    key = email_key(email)
    address = client_address.strip()[:ADDRESS_MAX]
    now = utcnow()
    with deps.db.uow() as uow:
        # Every sign-in keeps the tables small: a bounded batch of each, skipping rows that
        # another transaction holds.
        repository.purge_login_attempts(uow.session, now - deps.login_window)
        repository.purge_ended_sessions(uow.session, now - ENDED_SESSION_RETENTION)
        count_password_attempt(deps, uow, key, address, now)
        found = repository.find_user_by_email_key(uow.session, key)
        uow.commit()

    user, stored_hash = found if found is not None else (None, None)
    # Always one Argon2 verification (against a dummy hash when there is no user or no
    # password), so that the time taken does not tell which e-mails exist.
    if not deps.passwords.verify(stored_hash, password) or user is None or stored_hash is None or not user.active:
        raise _invalid_credentials()
    upgraded = deps.passwords.upgraded_hash(stored_hash, password)

    with deps.db.uow() as uow:
        current = repository.get_user_with_password(uow.session, user.id, for_update=True)
        # The password changed, or the user was deactivated, while the password was being checked.
        if current is None or current[1] != stored_hash or not current[0].active:
            raise _invalid_credentials()
        now = utcnow()
        repository.clear_login_attempts(uow.session, key)
        repository.record_login(uow.session, user.id, now, upgraded)
        session = Session(
            id=new_id(),
            user_id=user.id,
            client_address=address,
            user_agent=user_agent[:USER_AGENT_MAX],
            created_at=now,
            last_refresh_at=None,
            expire_at=refresh_expiry(now, now, deps.refresh_token_ttl, deps.session_max_age),
        )
        repository.add_session(uow.session, session)
        signed_in = _issue_tokens(deps, uow.session, replace(current[0], last_login_at=now), session, now)
        uow.commit()
    return signed_in


def _issue_tokens(deps: Deps, db_session: DbSession, user: User, session: Session, now: datetime) -> SignIn:
    refresh_token = new_opaque_token()
    repository.add_refresh_token(db_session, token_digest(refresh_token), session.id, now)
    access = sign_access_token(
        _current_signing_key(db_session), user_id=user.id, session_id=session.id, now=now, ttl=deps.access_token_ttl
    )
    return SignIn(user, session, access, refresh_token)


def refresh_session(deps: Deps, refresh_token: str) -> SignIn:
    """Rotation: the presented token is marked used and a new pair is issued, and the session's
    expiry slides (up to its maximum age). A used token presented again means that two parties
    hold the session's tokens: the whole session is revoked (SessionRevoked) and the call fails."""
    digest = token_digest(refresh_token)
    with deps.db.uow() as uow:
        found = repository.get_refresh_token(uow.session, digest)
        if found is None:
            raise _invalid_refresh_token()
        session_id, used_at = found
        session = repository.get_session(uow.session, session_id, for_update=True)
        assert session is not None  # a foreign key guarantees it
        now = utcnow()
        if used_at is not None:
            if session.revoked_at is None:
                revoked = replace(session, revoked_at=now, revoke_reason=REASON_REFRESH_TOKEN_REUSED)
                repository.save_session(uow.session, revoked)
                uow.add_event(convert.session_revoked(revoked))
                uow.commit()
                log.warning("a used refresh token was presented again: session %s revoked", session.id)
            raise _invalid_refresh_token(session.id)
        if session.revoked_at is not None or session.expire_at <= now:
            raise _invalid_refresh_token()
        user = repository.get_user(uow.session, session.user_id)
        if user is None or not user.active:
            raise _invalid_refresh_token()
        repository.mark_refresh_token_used(uow.session, digest, now)
        renewed = replace(
            session,
            last_refresh_at=now,
            expire_at=refresh_expiry(now, session.created_at, deps.refresh_token_ttl, deps.session_max_age),
        )
        repository.save_session(uow.session, renewed)
        signed_in = _issue_tokens(deps, uow.session, user, renewed, now)
        uow.commit()
    return signed_in


# --- sessions ---------------------------------------------------------------------------------


def get_session(deps: Deps, session_id: str) -> Session:
    if not is_valid_id(session_id):
        raise _session_not_found(session_id)
    with deps.db.read() as db_session:
        session = repository.get_session(db_session, session_id)
    if session is None:
        raise _session_not_found(session_id)
    return session


def revoke_session(deps: Deps, session_id: str, reason: str = "") -> Session:
    """Ends a session (its refresh token stops working; the gateway refuses its access tokens on
    SessionRevoked). Revoking an ended session answers it unchanged."""
    reason = reason.strip() or REASON_LOGOUT
    if len(reason) > REASON_MAX:
        raise InvalidArgument.field("reason", f"must be at most {REASON_MAX} characters")
    if not is_valid_id(session_id):
        raise _session_not_found(session_id)
    with deps.db.uow() as uow:
        session = repository.get_session(uow.session, session_id, for_update=True)
        if session is None:
            raise _session_not_found(session_id)
        if session.revoked_at is not None:
            return session
        revoked = replace(session, revoked_at=utcnow(), revoke_reason=reason)
        repository.save_session(uow.session, revoked)
        uow.add_event(convert.session_revoked(revoked))
        uow.commit()
        return revoked
