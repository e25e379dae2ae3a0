"""Conversion rules, without I/O: which prospects may be converted, the client and contact a
prospect becomes, which e-mail domains may match a company, and the deal part of a convert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_contacts.domain.clients import ClientKind
from crm_contacts.domain.clients import validated as validated_client
from crm_contacts.domain.common import Address
from crm_contacts.domain.conversion import (
    FREE_MAIL_DOMAINS,
    check_convertible,
    client_from_prospect,
    company_domain,
    contact_from_prospect,
    converted,
    deal_request,
)
from crm_contacts.domain.prospects import Prospect, ProspectSource, ProspectStatus, new_prospect
from crm_platform.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LATER = datetime(2026, 12, 2, tzinfo=UTC)


def _prospect(**overrides: object) -> Prospect:
    base: dict[str, object] = {
        "id": "",
        "owner_id": "u1",
        "company_name": "Ferretería Sol",
        "first_name": "Ana",
        "last_name": "Peña",
        "job_title": "Compras",
        "email": "ana@ferresol.example",
        "phones": ("+57 300 123 4567",),
        "tax_id": "900.123.456-8",
        "industry": "retail",
        "address": Address(city="Medellín", country_code="CO"),
        "source": ProspectSource.TRADE_FAIR,
        "status": None,
    }
    base.update(overrides)
    return new_prospect(Prospect(**base), "p-1", NOW)  # type: ignore[arg-type]


def test_a_company_prospect_becomes_a_company_client_and_its_person_a_primary_contact() -> None:
    prospect = _prospect()
    client = validated_client(client_from_prospect(prospect))
    assert (client.kind, client.name, client.owner_id) == (ClientKind.COMPANY, "Ferretería Sol", "u1")
    assert (client.tax_country, client.tax_id, client.industry) == ("CO", "900123456-8", "retail")
    assert (client.email, client.phones, client.address.city) == (
        "ana@ferresol.example",
        ("+573001234567",),
        "Medellín",
    )
    assert client.source == "trade_fair"
    contact = contact_from_prospect(prospect, "c-1", primary=True)
    assert contact is not None
    assert (contact.client_id, contact.first_name, contact.last_name, contact.job_title) == (
        "c-1",
        "Ana",
        "Peña",
        "Compras",
    )
    assert (contact.email, contact.phones, contact.primary, contact.owner_id) == (
        "ana@ferresol.example",
        ("+573001234567",),
        True,
        "u1",
    )


def test_a_prospect_without_a_company_becomes_a_person_client() -> None:
    client = client_from_prospect(_prospect(company_name=""))
    assert (client.kind, client.name) == (ClientKind.PERSON, "Ana Peña")
    assert contact_from_prospect(_prospect(first_name="", last_name=""), "c-1", primary=True) is None


def test_only_open_prospects_that_are_not_archived_convert() -> None:
    for status in (ProspectStatus.NEW, ProspectStatus.CONTACTED, ProspectStatus.QUALIFIED):
        check_convertible(replace(_prospect(), status=status))
    with pytest.raises(FailedPrecondition) as err:
        check_convertible(replace(_prospect(), status=ProspectStatus.DISQUALIFIED, disqualified_reason="x"))
    assert err.value.reason == "prospect_disqualified"
    with pytest.raises(FailedPrecondition) as err:
        check_convertible(replace(_prospect(), archived=True))
    assert err.value.reason == "prospect_archived"


def test_converted_names_what_the_conversion_produced() -> None:
    after = converted(_prospect(), "c-1", "k-1", True, LATER)
    assert (after.status, after.converted_client_id, after.converted_contact_id) == (
        ProspectStatus.CONVERTED,
        "c-1",
        "k-1",
    )
    assert (after.converted_client_created, after.version, after.updated_at) == (True, 2, LATER)


def test_free_mail_domains_stand_for_no_company() -> None:
    assert company_domain("ana@ferresol.example") == "ferresol.example"
    assert {"gmail.com", "hotmail.com", "outlook.com", "yahoo.com"} <= FREE_MAIL_DOMAINS
    assert company_domain("ana@gmail.com") == company_domain("") == ""


def test_the_deal_part_of_a_convert() -> None:
    assert deal_request(False, "", "", "").open_deal is False
    deal = deal_request(True, " Ferretería 2027 ", "1500000.50", "cop")
    assert (deal.title, deal.amount, deal.currency) == ("Ferretería 2027", Decimal("1500000.50"), "COP")
    assert deal_request(True, "", "", "").amount is None


@pytest.mark.parametrize(
    ("open_deal", "title", "amount", "currency", "fields"),
    [
        (True, "", "12,5", "COP", ["deal_amount"]),
        (True, "", "10", "XXX1", ["deal_amount"]),
        (True, "", "10", "", ["deal_amount"]),
        (True, "", "-1", "USD", ["deal_amount"]),
        (True, "", "NaN", "USD", ["deal_amount"]),
        (True, "x" * 201, "", "", ["deal_title"]),
        (False, "Negocio", "", "", ["open_deal"]),
        (False, "", "10", "USD", ["open_deal"]),
    ],
)
def test_a_bad_deal_is_refused_naming_the_field(
    open_deal: bool, title: str, amount: str, currency: str, fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as err:
        deal_request(open_deal, title, amount, currency)
    assert [v.field for v in err.value.violations] == fields
