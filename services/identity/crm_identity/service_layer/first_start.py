"""The first start of the service on an empty database: an administrator to sign in with, from
CRM_ADMIN_EMAIL / CRM_ADMIN_PASSWORD, or with a generated one-time password shown once. Safe when
several replicas start at once: exactly one creates the administrator."""

from __future__ import annotations

import logging
import secrets
import sys
from dataclasses import dataclass

from crm_identity.adapters import repository
from crm_identity.contract import convert
from crm_identity.domain.passwords import check_password
from crm_identity.domain.users import Role, User, email_key, normalise_email
from crm_identity.service_layer.common import utcnow
from crm_identity.service_layer.deps import Deps
from crm_identity.settings import FirstAdminSettings
from crm_platform.config import ConfigError
from crm_platform.errors import InvalidArgument
from crm_platform.ids import new_id

log = logging.getLogger(__name__)

ADMIN_DISPLAY_NAME = "Administrator"


@dataclass(frozen=True)
class FirstAdmin:
    user: User
    # The generated one-time password, or "" when it came from CRM_ADMIN_PASSWORD.
    generated_password: str


def checked_admin_settings(admin: FirstAdminSettings) -> tuple[str, str]:
    """(normalised e-mail, password or ""), or ConfigError naming the variable at fault. Checked
    at every start, so that a bad value is found before it is needed."""
    try:
        email = normalise_email(admin.email)
    except ValueError as exc:
        raise ConfigError(f"CRM_ADMIN_EMAIL: {exc}") from None
    password = admin.password.get_secret_value()
    if password:
        try:
            check_password(password, email, "CRM_ADMIN_PASSWORD")
        except InvalidArgument as exc:
            raise ConfigError(f"CRM_ADMIN_PASSWORD does not meet the password policy: {exc.message}") from None
    return email, password


def ensure_first_admin(deps: Deps, admin: FirstAdminSettings) -> FirstAdmin | None:
    """Creates the administrator when no active admin exists (UserCreated); None otherwise. (Users
    made before it, e.g. by `crm create-user`, do not stop the platform from getting its admin.)"""
    email, password = checked_admin_settings(admin)
    with deps.db.read() as session:
        if repository.any_active_admin(session):
            return None
    generated = "" if password else secrets.token_urlsafe(12)
    password_hash = deps.passwords.hash(password or generated)
    with deps.db.uow() as uow:
        # Replicas starting together queue here; the ones after the first find a user and stop.
        repository.advisory_lock(uow.session, "first-admin")
        if repository.any_active_admin(uow.session):
            return None
        if repository.email_taken_by(uow.session, email_key(email)):
            log.error(
                "no active admin, and %s (CRM_ADMIN_EMAIL) belongs to another user: no admin created; "
                "run `crm create-user --role admin` with another e-mail",
                email,
            )
            return None
        now = utcnow()
        user = User(
            id=new_id(),
            email=email,
            display_name=ADMIN_DISPLAY_NAME,
            role=Role.ADMIN,
            password_change_required=bool(generated),
            created_at=now,
            updated_at=now,
        )
        repository.add_user(uow.session, user, password_hash)
        uow.add_event(convert.user_created(user))
        uow.commit()
    if generated:
        message = f"first admin created: {email}; one-time password: {generated} (change it at first sign-in)"
        # Shown once, on the terminal of whoever started the service and in its log.
        print(message, file=sys.stderr, flush=True)
        log.warning(message)
    else:
        log.info("first admin created: %s (password from CRM_ADMIN_PASSWORD)", email)
    return FirstAdmin(user, generated)
