"""Prospect rules, without I/O: required fields, normalisation, the status machine, the reason a
disqualification needs, and what a converted prospect may no longer do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_contacts.domain.common import Address
from crm_contacts.domain.prospects import (
    TRANSITIONS,
    Prospect,
    ProspectSource,
    ProspectStatus,
    check_changeable,
    check_transition,
    new_prospect,
    updated,
    validated,
)
from crm_platform.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CAMPAIGN = "0190f0e0-0000-7000-8000-000000000001"
S = ProspectStatus


def _draft(**overrides: object) -> Prospect:
    base: dict[str, object] = {"id": "", "owner_id": "u1", "company_name": "Acme", "status": None}
    base.update(overrides)
    return Prospect(**base)  # type: ignore[arg-type]


def _stored(status: ProspectStatus = S.NEW, **overrides: object) -> Prospect:
    return replace(new_prospect(_draft(**overrides), "p-1", NOW), status=status)


def test_a_new_prospect_is_normalised_and_starts_new() -> None:
    p = new_prospect(
        _draft(
            company_name="  Café Ñandú ",
            first_name=" Ana ",
            email="Ana@Example.COM",
            phones=("300 123 4567", "+57 300 123 4567", " "),
            address=Address(city=" Medellín ", country_code="co"),
            tax_id="900.123.456-8",
            source=ProspectSource.TRADE_FAIR,
            source_campaign_id=CAMPAIGN,
        ),
        "p-1",
        NOW,
    )
    assert (p.id, p.status, p.version, p.created_at, p.updated_at) == ("p-1", S.NEW, 1, NOW, NOW)
    assert p.company_name == "Café Ñandú" and p.first_name == "Ana"
    assert p.email == "ana@example.com"
    assert p.phones == ("+573001234567",)  # the same number twice is kept once
    assert p.address == Address(city="Medellín", country_code="CO")
    assert (p.tax_country, p.tax_id) == ("CO", "900123456-8")
    assert p.search_text == "café ñandú ana ana@example.com"


def test_a_person_without_a_company_is_a_prospect_too() -> None:
    assert new_prospect(_draft(company_name="", last_name="Pérez"), "p-1", NOW).last_name == "Pérez"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"company_name": " ", "first_name": "", "last_name": ""}, "company_name"),
        ({"company_name": "x" * 201}, "company_name"),
        ({"owner_id": ""}, "owner_id"),
        ({"owner_id": "u" * 37}, "owner_id"),
        ({"email": "nope"}, "email"),
        ({"phones": ("12",)}, "phones[0]"),
        ({"address": Address(country_code="Colombia")}, "address.country_code"),
        ({"address": Address(postal_code="1" * 21)}, "address.postal_code"),
        ({"source": ProspectSource.WEB, "source_campaign_id": CAMPAIGN}, "source_campaign_id"),
        ({"source": ProspectSource.CAMPAIGN, "source_campaign_id": "not-an-id"}, "source_campaign_id"),
        ({"status": S.QUALIFIED}, "status"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        new_prospect(_draft(**overrides), "p-1", NOW)
    assert [v.field for v in err.value.violations] == [field]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        new_prospect(_draft(company_name="", owner_id="", email="x"), "p-1", NOW)
    assert {v.field for v in err.value.violations} == {"company_name", "owner_id", "email"}


ALLOWED = {
    (S.NEW, S.CONTACTED),
    (S.CONTACTED, S.QUALIFIED),
    (S.NEW, S.DISQUALIFIED),
    (S.CONTACTED, S.DISQUALIFIED),
    (S.QUALIFIED, S.DISQUALIFIED),
    (S.DISQUALIFIED, S.NEW),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_the_status_machine(current: ProspectStatus, target: ProspectStatus) -> None:
    if current == target or (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(FailedPrecondition) as err:
            check_transition(current, target)
        assert err.value.reason == "invalid_status_transition"
        assert err.value.metadata == {"from": current.value, "to": target.value}


def test_the_transition_table_is_the_documented_one() -> None:
    assert {(c, t) for c, targets in TRANSITIONS.items() for t in targets} == ALLOWED


def test_only_converting_makes_a_prospect_converted() -> None:
    with pytest.raises(FailedPrecondition, match="only converting"):
        updated(_stored(S.QUALIFIED), _draft(status=S.CONVERTED), ["status"])


def test_disqualifying_needs_a_reason() -> None:
    with pytest.raises(InvalidArgument) as err:
        updated(_stored(S.CONTACTED), _draft(status=S.DISQUALIFIED), ["status"])
    assert [v.field for v in err.value.violations] == ["disqualified_reason"]

    after, changed = updated(
        _stored(S.CONTACTED), _draft(status=S.DISQUALIFIED, disqualified_reason=" sin presupuesto "), ["*"]
    )
    assert after.status == S.DISQUALIFIED and after.disqualified_reason == "sin presupuesto"
    assert changed == ["status", "disqualified_reason"]


def test_only_a_disqualified_prospect_has_a_reason() -> None:
    with pytest.raises(InvalidArgument) as err:
        updated(_stored(S.NEW), _draft(disqualified_reason="x"), ["disqualified_reason"])
    assert [v.field for v in err.value.violations] == ["disqualified_reason"]


def test_reopening_a_disqualified_prospect_clears_its_reason() -> None:
    disqualified = replace(_stored(S.DISQUALIFIED), disqualified_reason="no budget")
    after, changed = updated(disqualified, _draft(status=S.NEW), ["status"])
    assert after.status == S.NEW and after.disqualified_reason == ""
    assert changed == ["status", "disqualified_reason"]


def test_naming_status_without_giving_one_is_an_error() -> None:
    with pytest.raises(InvalidArgument) as err:
        updated(_stored(S.NEW), _draft(status=None), ["status"])
    assert [v.field for v in err.value.violations] == ["status"]


def test_a_converted_prospect_cannot_change() -> None:
    converted = replace(_stored(S.QUALIFIED), status=S.CONVERTED, converted_client_id="c-1")
    with pytest.raises(FailedPrecondition) as err:
        updated(converted, _draft(company_name="Otra"), ["company_name"])
    assert err.value.reason == "prospect_converted"
    with pytest.raises(FailedPrecondition):
        check_changeable(converted)
    check_changeable(_stored(S.QUALIFIED))


def test_an_update_validates_and_reports_what_changed() -> None:
    current = _stored(S.NEW, email="a@example.com")
    after, changed = updated(
        current,
        _draft(email="B@EXAMPLE.com", company_name="ignored", phones=("+57 300 123 4567",)),
        ["email", "phones"],
    )
    assert (after.email, after.phones, after.company_name) == ("b@example.com", ("+573001234567",), "Acme")
    assert changed == ["email", "phones"]
    with pytest.raises(InvalidArgument) as err:
        updated(current, _draft(company_name="", first_name="", last_name=""), ["company_name"])
    assert [v.field for v in err.value.violations] == ["company_name"]


def test_validated_keeps_a_valid_prospect_as_it_is() -> None:
    p = _stored(S.CONTACTED, email="a@example.com", phones=("+573001234567",))
    assert validated(p) == p
