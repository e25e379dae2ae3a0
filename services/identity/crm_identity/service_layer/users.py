"""Use cases on users. Each runs in one unit of work: the change and its events commit together.
A user's version (and update_time) moves when what an editor sees changes; sign-in bookkeeping
(last_login_time, a password hash upgrade) does not move it, so that an editor's
expected_version does not go stale each time the user signs in."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session as DbSession

from crm_identity.adapters import repository
from crm_identity.contract import convert
from crm_identity.domain.passwords import check_password
from crm_identity.domain.sessions import REASON_DEACTIVATED
from crm_identity.domain.users import User, changed_fields, check_an_admin_remains, update_paths, validated
from crm_identity.service_layer.common import (
    check_version,
    once_more_after_integrity_error,
    user_not_found,
    utcnow,
)
from crm_identity.service_layer.deps import Deps
from crm_identity.service_layer.sessions import revoke_all_sessions
from crm_platform import pagination
from crm_platform.db import UnitOfWork
from crm_platform.errors import AlreadyExists, InvalidArgument
from crm_platform.ids import is_valid_id, new_id

CREATE_SCOPE = "CreateUser"
BATCH_MAX = 1000


@dataclass(frozen=True)
class UserFilters:
    query: str = ""
    team_id: str = ""
    # A Role value, or "" for any.
    role: str = ""
    include_inactive: bool = False


def _check_team(session: DbSession, team_id: str) -> None:
    if team_id and not (is_valid_id(team_id) and repository.team_exists(session, team_id)):
        raise InvalidArgument.field("user.team_id", f"team '{team_id}' does not exist")


def _check_email_free(session: DbSession, user: User) -> None:
    existing = repository.email_taken_by(session, user.email_key, exclude_id=user.id)
    if existing:
        raise AlreadyExists(
            f"a user with the e-mail {user.email} already exists",
            reason="duplicate_email",
            metadata={"existing_id": existing},
        )


def _lock_other_admins(session: DbSession, user_id: str) -> int:
    """How many active admins there are besides `user_id`, with every active admin's row locked
    until the transaction ends, so that two calls that each remove one of the last two admins
    queue and the second sees the first's change. Every use case that may remove an admin takes
    this lock before locking the user's own row: the same order everywhere, so no deadlock."""
    return sum(1 for admin_id in repository.lock_active_admins(session) if admin_id != user_id)


@dataclass(frozen=True)
class NewUser:
    """A validated draft and its password hash (None: no password), ready to be stored."""

    user: User
    password_hash: str | None


def prepare_user(deps: Deps, draft: User, password: str = "") -> NewUser:
    """Validates the draft and the password and hashes the password. Hashing is slow by design:
    done before the transaction so that it holds no lock meanwhile."""
    user = validated(draft)
    if password:
        check_password(password, user.email)
    password_hash = deps.passwords.hash(password) if password else None
    return NewUser(
        replace(user, password_change_required=bool(password) and draft.password_change_required), password_hash
    )


def create_user(uow: UnitOfWork, new: NewUser) -> User:
    """Stores a new, active user (see prepare_user) in the caller's unit of work and stages
    UserCreated; the caller commits (the servicer through run_once, scope CREATE_SCOPE, so that a
    repeated request_id returns the first answer)."""
    now = utcnow()
    created = replace(
        new.user,
        id=new_id(),
        active=True,
        last_login_at=None,
        deactivated_at=None,
        created_at=now,
        updated_at=now,
        version=1,
    )
    _check_team(uow.session, created.team_id)
    _check_email_free(uow.session, created)
    repository.add_user(uow.session, created, new.password_hash)
    uow.add_event(convert.user_created(created))
    return created


def get_user(deps: Deps, user_id: str) -> User:
    if not is_valid_id(user_id):
        raise user_not_found(user_id)
    with deps.db.read() as session:
        user = repository.get_user(session, user_id)
    if user is None:
        raise user_not_found(user_id)
    return user


def batch_get_users(deps: Deps, ids: list[str]) -> tuple[list[User], list[str]]:
    """The users that exist, and the ids that do not (in the order asked)."""
    if len(ids) > BATCH_MAX:
        raise InvalidArgument.field("ids", f"at most {BATCH_MAX} ids per call")
    wanted = list(dict.fromkeys(ids))
    with deps.db.read() as session:
        found = repository.get_users(session, [i for i in wanted if is_valid_id(i)])
    known = {u.id for u in found}
    return found, [i for i in wanted if i not in known]


def list_users(deps: Deps, filters: UserFilters, page_size: int, page_token: str) -> tuple[list[User], str]:
    size = pagination.page_size(page_size)
    key = pagination.decode_token(page_token, filters.__dict__)
    with deps.db.read() as session:
        rows = repository.list_users(session, limit=size + 1, after_id=str(key[0]) if key else None, **filters.__dict__)
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        next_token = pagination.encode_token([rows[-1].id], filters.__dict__)
    return rows, next_token


def update_user(deps: Deps, patch: User, mask: list[str], expected_version: int = 0) -> User:
    """Changes the fields named by the mask (see domain.users.update_paths) and stages
    UserUpdated with the fields that really changed; an update that changes nothing is a no-op.
    Taking the admin role from the last active admin is FAILED_PRECONDITION (last_admin)."""
    if not is_valid_id(patch.id):
        raise user_not_found(patch.id)
    paths = update_paths(mask, patch)

    def body() -> User:
        with deps.db.uow() as uow:
            other_admins = _lock_other_admins(uow.session, patch.id) if "role" in paths else 0
            current = repository.get_user(uow.session, patch.id, for_update=True)
            if current is None:
                raise user_not_found(patch.id)
            check_version("user", current.id, current.version, expected_version)
            candidate = validated(replace(current, **{p: getattr(patch, p) for p in paths}))
            changed = changed_fields(current, candidate, paths)
            if not changed:
                return current
            if "role" in changed:
                check_an_admin_remains(current, candidate, other_admins)
            if "team_id" in changed:
                _check_team(uow.session, candidate.team_id)
            if candidate.email_key != current.email_key:
                _check_email_free(uow.session, candidate)
            updated = replace(candidate, updated_at=utcnow(), version=current.version + 1)
            if not repository.save_user(uow.session, updated, current.version):
                raise AssertionError("the user row is locked by this transaction")
            uow.add_event(convert.user_updated(updated, changed))
            uow.commit()
            return updated

    return once_more_after_integrity_error(body)


def deactivate_user(deps: Deps, user_id: str, expected_version: int = 0) -> User:
    """Marks the user inactive (it can no longer sign in or use its API tokens) and ends every
    session: stages UserDeactivated and UserSessionsRevoked. Deactivating an inactive user
    answers the user unchanged; the last active admin is FAILED_PRECONDITION (last_admin)."""
    if not is_valid_id(user_id):
        raise user_not_found(user_id)
    with deps.db.uow() as uow:
        other_admins = _lock_other_admins(uow.session, user_id)
        current = repository.get_user(uow.session, user_id, for_update=True)
        if current is None:
            raise user_not_found(user_id)
        check_version("user", user_id, current.version, expected_version)
        if not current.active:
            return current
        now = utcnow()
        updated = replace(current, active=False, deactivated_at=now, updated_at=now, version=current.version + 1)
        check_an_admin_remains(current, updated, other_admins)
        repository.save_user(uow.session, updated, current.version)
        uow.add_event(convert.user_deactivated(updated))
        revoke_all_sessions(uow, user_id, now, REASON_DEACTIVATED)
        uow.commit()
        return updated


def reactivate_user(deps: Deps, user_id: str, expected_version: int = 0) -> User:
    """Lets a deactivated user sign in again (stages UserUpdated, changed_fields ["active"]);
    reactivating an active user answers the user unchanged."""
    if not is_valid_id(user_id):
        raise user_not_found(user_id)
    with deps.db.uow() as uow:
        current = repository.get_user(uow.session, user_id, for_update=True)
        if current is None:
            raise user_not_found(user_id)
        check_version("user", user_id, current.version, expected_version)
        if current.active:
            return current
        updated = replace(current, active=True, deactivated_at=None, updated_at=utcnow(), version=current.version + 1)
        repository.save_user(uow.session, updated, current.version)
        uow.add_event(convert.user_updated(updated, ["active"]))
        uow.commit()
        return updated
