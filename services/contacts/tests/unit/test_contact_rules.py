"""Contact rules, without I/O: required fields, normalisation (phones read in the client's country),
errors that name the field, and updates through a field mask."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_contacts.domain.contacts import Contact, DecisionRole, new_contact, updated, validated
from crm_platform.errors import Conflict, InvalidArgument

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CLIENT = "0190f0e0-0000-7000-8000-00000000c001"
OTHER_CLIENT = "0190f0e0-0000-7000-8000-00000000c002"


def _draft(**overrides: object) -> Contact:
    base: dict[str, object] = {"id": "", "client_id": CLIENT, "owner_id": "u1", "first_name": "Ana"}
    base.update(overrides)
    return Contact(**base)  # type: ignore[arg-type]


def test_a_new_contact_is_normalised() -> None:
    made = new_contact(
        _draft(
            first_name=" Ana ",
            last_name=" Peña ",
            job_title=" Gerente de compras ",
            email="Ana.Pena@Example.COM",
            phones=("300 123 4567", "+57 300 123 4567", " "),
            decision_role=DecisionRole.DECISION_MAKER,
            primary=True,
        ),
        "k-1",
        NOW,
        phone_country="CO",
    )
    assert (made.id, made.first_name, made.last_name, made.job_title) == ("k-1", "Ana", "Peña", "Gerente de compras")
    assert made.email == "ana.pena@example.com"
    assert made.phones == ("+573001234567",)  # the same number twice is kept once
    assert (made.version, made.created_at, made.archived, made.primary) == (1, NOW, False, True)
    assert made.search_text == "ana peña ana.pena@example.com"


def test_phones_without_country_need_the_clients_country() -> None:
    with pytest.raises(InvalidArgument) as err:
        validated(_draft(phones=("300 123 4567",)))
    assert [v.field for v in err.value.violations] == ["phones[0]"]
    assert validated(_draft(phones=("300 123 4567",)), phone_country="CO").phones == ("+573001234567",)


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"first_name": " ", "last_name": ""}, ["first_name"]),
        ({"client_id": ""}, ["client_id"]),
        ({"client_id": "not-an-id"}, ["client_id"]),
        ({"owner_id": ""}, ["owner_id"]),
        ({"email": "nope"}, ["email"]),
        ({"phones": ("+57 12",)}, ["phones[0]"]),
        ({"last_name": "x" * 201}, ["last_name"]),
        ({"job_title": "x" * 501}, ["job_title"]),
        ({"client_id": "", "email": "nope", "first_name": ""}, ["client_id", "first_name", "email"]),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, object], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as err:
        validated(_draft(**overrides))
    assert [v.field for v in err.value.violations] == fields


def test_an_update_takes_the_masked_fields_and_reports_what_changed() -> None:
    current = new_contact(_draft(email="ana@example.com"), "k-1", NOW)
    draft = _draft(id="k-1", first_name="Ignored", last_name="Peña", email="ANA@example.com", primary=True)
    after, changed = updated(current, draft, ["last_name", "email", "primary"], expected_version=1)
    assert (after.first_name, after.last_name, after.email, after.primary) == ("Ana", "Peña", "ana@example.com", True)
    assert changed == ["last_name", "primary"]  # the e-mail is the same once normalised
    moved, changed = updated(current, _draft(client_id=OTHER_CLIENT), ["client_id"])
    assert (moved.client_id, changed) == (OTHER_CLIENT, ["client_id"])


def test_an_update_refuses_a_stale_version_and_fields_it_may_not_change() -> None:
    current = replace(new_contact(_draft(), "k-1", NOW), version=3)
    with pytest.raises(Conflict) as conflict:
        updated(current, _draft(first_name="B"), ["first_name"], expected_version=2)
    assert conflict.value.reason == "version_mismatch"
    with pytest.raises(InvalidArgument) as err:
        updated(current, _draft(), ["archived", "version", "colour"])
    assert len(err.value.violations) == 3
    with pytest.raises(InvalidArgument) as err:
        updated(current, _draft(first_name="", last_name=""), ["first_name", "last_name"])
    assert [v.field for v in err.value.violations] == ["first_name"]
