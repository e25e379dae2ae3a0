"""User rules: what a valid user is (e-mail, name, role, time zone, locale) and how its fields
are normalised, which fields an update may change, and that an active admin always remains.
Pure Python: no ORM, no protobuf, no I/O."""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import babel
from email_validator import EmailNotValidError, validate_email

from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument

DISPLAY_NAME_MAX = 200
EMAIL_MAX = 320
DEFAULT_TIME_ZONE = "America/Bogota"
DEFAULT_LOCALE = "es-CO"
# The fields UpdateUser may change; `active` has its own calls (Deactivate/ReactivateUser).
UPDATABLE_FIELDS = ("display_name", "email", "role", "team_id", "time_zone", "locale")


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"


@dataclass(frozen=True)
class User:
    id: str
    email: str
    display_name: str
    # None only in a request that left it unspecified (which validation refuses).
    role: Role | None
    team_id: str = ""
    active: bool = True
    time_zone: str = DEFAULT_TIME_ZONE
    locale: str = DEFAULT_LOCALE
    password_change_required: bool = False
    last_login_at: datetime | None = None
    deactivated_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def email_key(self) -> str:
        """The e-mail as compared for uniqueness and sign-in: lower case."""
        return self.email.lower()

    @property
    def is_active_admin(self) -> bool:
        return self.active and self.role == Role.ADMIN


def normalise_email(value: str) -> str:
    """The address as email-validator normalises it (domain in lower case, Unicode NFC), or
    ValueError with the reason it is not an address."""
    value = value.strip()
    if not value:
        raise ValueError("is required")
    if len(value) > EMAIL_MAX:
        raise ValueError(f"must be at most {EMAIL_MAX} characters")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not a valid e-mail address: {exc}") from None


def email_key(value: str) -> str:
    """The lookup key of whatever was typed at sign-in: the normalised address in lower case, or,
    for something that is not an address, the trimmed text in lower case (it still counts
    against the rate limit, and matches no user)."""
    try:
        return normalise_email(value).lower()
    except ValueError:
        return value.strip().lower()[:EMAIL_MAX]


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(value: str) -> str:
    """The IANA name if zoneinfo knows it, else ValueError."""
    known = _known_time_zones()
    if known:
        if value not in known:
            raise ValueError(f"'{value}' is not an IANA time zone such as America/Bogota")
        return value
    try:  # no listing available (no tzdata directory): ask zoneinfo for the one name
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError(f"'{value}' is not an IANA time zone such as America/Bogota") from None
    return value


def normalise_locale(value: str) -> str:
    """A BCP 47 tag Babel knows, in canonical case ("es_co" → "es-CO"), else ValueError."""
    try:
        parsed = babel.Locale.parse(value.strip().replace("_", "-"), sep="-")
    except (ValueError, TypeError, babel.UnknownLocaleError):
        raise ValueError(f"'{value}' is not a known BCP 47 locale such as es-CO or en-US") from None
    return "-".join(p for p in (parsed.language, parsed.script, parsed.territory, parsed.variant) if p)


def validated(user: User) -> User:
    """The user with normalised fields, or InvalidArgument naming every bad field (as `user.<field>`)."""
    problems: list[FieldViolation] = []
    email = user.email
    try:
        email = normalise_email(user.email)
    except ValueError as exc:
        problems.append(FieldViolation("user.email", str(exc)))
    name = user.display_name.strip()
    if not name:
        problems.append(FieldViolation("user.display_name", "is required"))
    elif len(name) > DISPLAY_NAME_MAX:
        problems.append(FieldViolation("user.display_name", f"must be at most {DISPLAY_NAME_MAX} characters"))
    if user.role is None:
        problems.append(FieldViolation("user.role", "is required: admin, manager or rep"))
    time_zone = user.time_zone.strip() or DEFAULT_TIME_ZONE
    try:
        time_zone = check_time_zone(time_zone)
    except ValueError as exc:
        problems.append(FieldViolation("user.time_zone", str(exc)))
    locale = user.locale.strip() or DEFAULT_LOCALE
    try:
        locale = normalise_locale(locale)
    except ValueError as exc:
        problems.append(FieldViolation("user.locale", str(exc)))
    if problems:
        raise InvalidArgument(problems)
    return replace(
        user, email=email, display_name=name, team_id=user.team_id.strip(), time_zone=time_zone, locale=locale
    )


def update_paths(requested: list[str], patch: User) -> list[str]:
    """The fields an update changes: the mask's paths, or with an empty mask (AIP-134) every
    updatable field the patch sets. `active` and unknown paths are InvalidArgument."""
    if not requested:
        return [f for f in UPDATABLE_FIELDS if getattr(patch, f) not in ("", None)]
    problems: list[FieldViolation] = []
    for path in requested:
        if path == "active":
            problems.append(
                FieldViolation("update_mask", "'active' cannot be updated: use DeactivateUser/ReactivateUser")
            )
        elif path not in UPDATABLE_FIELDS:
            problems.append(
                FieldViolation("update_mask", f"'{path}' cannot be updated (updatable: {', '.join(UPDATABLE_FIELDS)})")
            )
    if problems:
        raise InvalidArgument(problems)
    return list(dict.fromkeys(requested))


def changed_fields(before: User, after: User, paths: list[str]) -> list[str]:
    return [p for p in paths if getattr(before, p) != getattr(after, p)]


def check_an_admin_remains(before: User, after: User, other_active_admins: int) -> None:
    """FailedPrecondition (last_admin) when the change would leave no active admin: `before` is
    an active admin, `after` is not, and no other user is an active admin."""
    if before.is_active_admin and not after.is_active_admin and other_active_admins == 0:
        raise FailedPrecondition(
            f"user '{before.id}' is the last active admin; make another user an admin first",
            reason="last_admin",
        )
