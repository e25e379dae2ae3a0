"""Changing a password: users changing their own (with the current one) or an admin resetting
someone's (without it). Either way every session of the user ends. A current password given
here is checked under the same limit of failed attempts as a sign-in with it."""

from __future__ import annotations

from dataclasses import replace

from crm_identity.adapters import repository
from crm_identity.contract import convert
from crm_identity.domain.passwords import check_password
from crm_identity.domain.sessions import REASON_PASSWORD_CHANGED
from crm_identity.service_layer.common import user_not_found, utcnow
from crm_identity.service_layer.deps import Deps
from crm_identity.service_layer.sessions import count_password_attempt, revoke_all_sessions
from crm_platform.errors import InvalidArgument
from crm_platform.ids import is_valid_id


def _wrong_current_password() -> InvalidArgument:
    return InvalidArgument.field("current_password", "is not the user's current password")


def change_password(deps: Deps, user_id: str, new_password: str, current_password: str = "") -> None:
    """With current_password (self-service) the new password clears password_change_required;
    without it (an admin reset; the gateway decides who may) the user must change it at the next
    sign-in. Revokes every session (UserSessionsRevoked, reason password_changed); a change of
    password_change_required is also a UserUpdated. A wrong current_password counts as a failed
    sign-in of the account, and while the account is at its limit the current_password is not
    even checked (RESOURCE_EXHAUSTED with retry_after_seconds, as Login answers)."""
    if not is_valid_id(user_id):
        raise user_not_found(user_id)
    with deps.db.read() as session:
        found = repository.get_user_with_password(session, user_id)
    if found is None:
        raise user_not_found(user_id)
    user, stored_hash = found
    check_password(new_password, user.email, "new_password")
    self_service = bool(current_password)
    if self_service:
        with deps.db.uow() as uow:
            count_password_attempt(deps, uow, user.email_key, "", utcnow())
            uow.commit()
        if not deps.passwords.verify(stored_hash, current_password):
            raise _wrong_current_password()
    new_hash = deps.passwords.hash(new_password)

    with deps.db.uow() as uow:
        found = repository.get_user_with_password(uow.session, user_id, for_update=True)
        if found is None:
            raise user_not_found(user_id)
        current, hash_now = found
        if self_service and hash_now != stored_hash:  # changed by someone else meanwhile
            raise _wrong_current_password()
        now = utcnow()
        # The current password proved right, or an admin set a new one for a locked-out user: either
        # way the account's failed attempts are forgiven, as at a successful sign-in.
        repository.clear_login_attempts(uow.session, user.email_key)
        repository.set_password_hash(uow.session, user_id, new_hash)
        must_change = not self_service
        if current.password_change_required != must_change:
            updated = replace(
                current, password_change_required=must_change, updated_at=now, version=current.version + 1
            )
            repository.save_user(uow.session, updated, current.version)
            uow.add_event(convert.user_updated(updated, ["password_change_required"]))
        revoke_all_sessions(uow, user_id, now, REASON_PASSWORD_CHANGED)
        uow.commit()
