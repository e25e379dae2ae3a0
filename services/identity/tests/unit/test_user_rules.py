"""User rules without I/O: e-mail normalisation and validation, display name, role, time zone and
locale checks, update masks, the last active admin; errors name the field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_identity.domain.users import (
    DEFAULT_LOCALE,
    DEFAULT_TIME_ZONE,
    Role,
    User,
    check_an_admin_remains,
    email_key,
    normalise_locale,
    update_paths,
    validated,
)
from crm_platform.errors import FailedPrecondition, InvalidArgument


def _user(**overrides: object) -> User:
    base: dict[str, object] = {"id": "", "email": "ana@example.com", "display_name": "Ana", "role": Role.REP}
    base.update(overrides)
    return User(**base)  # type: ignore[arg-type]


def test_email_is_normalised_and_keyed_in_lower_case() -> None:
    user = validated(_user(email="  Ana.Perez@EXAMPLE.Com "))
    assert user.email == "Ana.Perez@example.com"
    assert user.email_key == "ana.perez@example.com"
    assert email_key(" ANA.PEREZ@example.COM") == "ana.perez@example.com"
    # Not an address: still a key (it is rate-limited like any other), matching no user.
    assert email_key("  Not An Address ") == "not an address"


def test_defaults_and_canonical_forms() -> None:
    user = validated(_user(display_name="  Ana Pérez ", time_zone="", locale=""))
    assert user.display_name == "Ana Pérez"
    assert user.time_zone == DEFAULT_TIME_ZONE == "America/Bogota"
    assert user.locale == DEFAULT_LOCALE == "es-CO"
    assert validated(_user(locale="en_us")).locale == "en-US"
    assert normalise_locale("zh-hant-tw") == "zh-Hant-TW"
    assert validated(_user(time_zone="Europe/Madrid")).time_zone == "Europe/Madrid"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "user.email"),
        ({"email": ""}, "user.email"),
        ({"email": "a" * 320 + "@example.com"}, "user.email"),
        ({"display_name": "   "}, "user.display_name"),
        ({"display_name": "x" * 201}, "user.display_name"),
        ({"role": None}, "user.role"),
        ({"time_zone": "Mars/Olympus"}, "user.time_zone"),
        ({"time_zone": "../../etc/passwd"}, "user.time_zone"),
        ({"locale": "xx-QQ"}, "user.locale"),
        ({"locale": "not a locale"}, "user.locale"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validated(_user(**overrides))
    assert [v.field for v in err.value.violations] == [field]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        validated(_user(email="nope", display_name="", role=None, time_zone="Nowhere", locale="??"))
    assert {v.field for v in err.value.violations} == {
        "user.email",
        "user.display_name",
        "user.role",
        "user.time_zone",
        "user.locale",
    }


def test_update_mask_refuses_active_and_unknown_paths() -> None:
    patch = _user(display_name="New")
    assert update_paths(["display_name", "role", "display_name"], patch) == ["display_name", "role"]
    with pytest.raises(InvalidArgument) as err:
        update_paths(["active", "password_hash"], patch)
    descriptions = " ".join(v.description for v in err.value.violations)
    assert [v.field for v in err.value.violations] == ["update_mask", "update_mask"]
    assert "'active'" in descriptions and "'password_hash'" in descriptions


def test_an_empty_mask_means_the_fields_the_patch_sets() -> None:
    patch = User(id="x", email="", display_name="Nuevo", role=None, team_id="", time_zone="", locale="")
    assert update_paths([], patch) == ["display_name"]


@given(st.emails())
def test_any_valid_address_keys_to_its_lower_case_form(address: str) -> None:
    try:
        user = validated(_user(email=address))
    except InvalidArgument:
        return  # hypothesis produces some addresses email-validator rightly refuses (e.g. special-use domains)
    assert user.email_key == user.email.lower()
    assert email_key(address.upper()) == email_key(address)


def test_the_last_active_admin_cannot_stop_being_one() -> None:
    admin = _user(id="a1", role=Role.ADMIN)
    for after in (_user(id="a1", role=Role.MANAGER), _user(id="a1", role=Role.ADMIN, active=False)):
        with pytest.raises(FailedPrecondition) as err:
            check_an_admin_remains(admin, after, other_active_admins=0)
        assert err.value.reason == "last_admin" and "'a1' is the last active admin" in err.value.message
        check_an_admin_remains(admin, after, other_active_admins=1)  # another admin remains
    check_an_admin_remains(admin, _user(id="a1", role=Role.ADMIN, display_name="Otro"), other_active_admins=0)
    # An inactive admin is not one of the admins that must remain; a rep never was.
    inactive = _user(id="a1", role=Role.ADMIN, active=False)
    check_an_admin_remains(inactive, _user(id="a1", role=Role.REP, active=False), other_active_admins=0)
    check_an_admin_remains(_user(role=Role.REP), _user(role=Role.REP, active=False), other_active_admins=0)
