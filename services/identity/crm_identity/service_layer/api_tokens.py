"""Use cases on API tokens: create (the plaintext is answered once and never stored), list,
revoke, and verify a bearer token for the gateway."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from crm_identity.adapters import repository
from crm_identity.contract import convert
from crm_identity.domain.api_tokens import (
    LAST_USE_RESOLUTION_SECONDS,
    TOKEN_PREFIX,
    ApiToken,
    new_secret,
    validated_name,
)
from crm_identity.domain.sessions import token_digest
from crm_identity.domain.users import User
from crm_identity.service_layer.common import user_not_found, utcnow
from crm_identity.service_layer.deps import Deps
from crm_platform import pagination
from crm_platform.db import UnitOfWork
from crm_platform.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from crm_platform.ids import is_valid_id, new_id


@dataclass(frozen=True)
class ApiTokenFilters:
    user_id: str = ""
    include_revoked: bool = False


def _not_found(token_id: str) -> NotFound:
    return NotFound(f"API token '{token_id}' not found", reason="api_token_not_found")


def _invalid_token() -> Unauthenticated:
    return Unauthenticated("the API token is unknown, expired or revoked", reason="invalid_token")


@dataclass(frozen=True)
class TokenDraft:
    """A checked request for a new token, and the idempotency scope its request id lives in."""

    user_id: str
    name: str
    expire_at: datetime | None
    scope: str


@dataclass(frozen=True)
class NewApiToken:
    """A token just made, with its plaintext (answered once, never stored)."""

    token: ApiToken
    plaintext: str


def prepare_api_token(user_id: str, name: str, expire_at: datetime | None = None) -> TokenDraft:
    """Checks the request before any transaction."""
    name = validated_name(name)
    if expire_at is not None and expire_at <= utcnow():
        raise InvalidArgument.field("expire_time", "must be in the future")
    if not is_valid_id(user_id):
        raise user_not_found(user_id)
    # Request ids are per user, so that one user's retry never answers another user's token.
    return TokenDraft(user_id, name, expire_at, scope=f"CreateApiToken:{user_id}")


def create_api_token(uow: UnitOfWork, draft: TokenDraft) -> NewApiToken:
    """A new token for an active user (ApiTokenCreated), in the caller's unit of work; the caller
    commits (the servicer through run_once, scope draft.scope, storing the answer without the
    plaintext, so that a repeated request_id answers the same token without it)."""
    user = repository.get_user(uow.session, draft.user_id)
    if user is None:
        raise user_not_found(draft.user_id)
    if not user.active:
        raise FailedPrecondition(f"user '{draft.user_id}' is deactivated", reason="user_inactive")
    secret = new_secret()
    token = ApiToken(new_id(), draft.user_id, draft.name, secret.prefix, utcnow(), draft.expire_at)
    repository.add_api_token(uow.session, token, secret.digest)
    uow.add_event(convert.api_token_created(token))
    return NewApiToken(token, secret.plaintext)


def list_api_tokens(
    deps: Deps, filters: ApiTokenFilters, page_size: int, page_token: str
) -> tuple[list[ApiToken], str]:
    size = pagination.page_size(page_size)
    key = pagination.decode_token(page_token, filters.__dict__)
    with deps.db.read() as session:
        rows = repository.list_api_tokens(
            session, limit=size + 1, after_id=str(key[0]) if key else None, **filters.__dict__
        )
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        next_token = pagination.encode_token([rows[-1].id], filters.__dict__)
    return rows, next_token


def revoke_api_token(deps: Deps, token_id: str, user_id: str = "") -> ApiToken:
    """Revokes for good (ApiTokenRevoked); revoking a revoked token answers it unchanged. With
    user_id, another user's token is NOT_FOUND, as if it did not exist (revoked or not)."""
    if not is_valid_id(token_id):
        raise _not_found(token_id)
    with deps.db.uow() as uow:
        token = repository.get_api_token(uow.session, token_id, for_update=True)
        if token is None or (user_id and token.user_id != user_id):
            raise _not_found(token_id)
        if token.revoked_at is not None:
            return token
        now = utcnow()
        revoked = replace(token, revoked_at=now)
        repository.revoke_api_token(uow.session, token_id, now)
        uow.add_event(convert.api_token_revoked(revoked))
        uow.commit()
        return revoked


def verify_api_token(deps: Deps, plaintext: str) -> tuple[User, ApiToken]:
    """The token's user, if the token is known, unexpired and unrevoked and its user active;
    else UNAUTHENTICATED (invalid_token). Records the use, at most once a minute per token."""
    if not plaintext.startswith(TOKEN_PREFIX):
        raise _invalid_token()
    with deps.db.read() as session:
        token = repository.find_api_token_by_digest(session, token_digest(plaintext))
        user = repository.get_user(session, token.user_id) if token is not None else None
    now = utcnow()
    if token is None or user is None or not token.usable_at(now) or not user.active:
        raise _invalid_token()
    resolution = timedelta(seconds=LAST_USE_RESOLUTION_SECONDS)
    if token.last_used_at is None or now - token.last_used_at >= resolution:
        with deps.db.uow() as uow:
            repository.record_api_token_use(uow.session, token.id, now, unless_since=now - resolution)
            uow.commit()
        token = replace(token, last_used_at=now)
    return user, token
