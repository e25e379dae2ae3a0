"""The password policy: what a password must be before it is hashed and stored. Pure Python."""

from __future__ import annotations

from crm_platform.errors import InvalidArgument

PASSWORD_MIN = 10
PASSWORD_MAX = 256


def check_password(password: str, email: str, field: str = "password") -> None:
    """InvalidArgument naming `field` unless the password has 10 to 256 characters and is not the
    user's own e-mail address (compared without regard to case)."""
    if len(password) < PASSWORD_MIN:
        raise InvalidArgument.field(field, f"must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InvalidArgument.field(field, f"must be at most {PASSWORD_MAX} characters")
    if email and password.strip().lower() == email.strip().lower():
        raise InvalidArgument.field(field, "must not be the e-mail address")
