"""Client rules, without I/O: required fields, normalisation, and errors that name the field."""

from __future__ import annotations

import pytest

from crm_contacts.domain.clients import Address, Client, ClientKind, validated
from crm_platform.errors import InvalidArgument


def _client(**overrides: object) -> Client:
    base: dict[str, object] = {"id": "", "kind": ClientKind.COMPANY, "name": "Acme", "owner_id": "u1"}
    base.update(overrides)
    return Client(**base)  # type: ignore[arg-type]


def test_fields_are_normalised() -> None:
    c = validated(
        _client(
            name="  Café Ñandú S.A.S. ",
            email="Ventas@Example.COM",
            phones=("300 123 4567",),
            address=Address(city="Bogotá", country_code="co"),
            tax_id="900.123.456-8",
            segment_tags=("Retail", "retail ", "pymes"),
        )
    )
    assert c.name == "Café Ñandú S.A.S."
    assert c.email == "ventas@example.com"
    assert c.phones == ("+573001234567",)
    assert c.address.country_code == "CO" and c.tax_country == "CO" and c.tax_id == "900123456-8"
    assert c.segment_tags == ("retail", "pymes")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"owner_id": ""}, "owner_id"),
        ({"email": "not-an-email"}, "email"),
        ({"phones": ("12",)}, "phones[0]"),
        ({"address": Address(country_code="Colombia")}, "address.country_code"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validated(_client(**overrides))
    assert [v.field for v in err.value.violations] == [field]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        validated(_client(name="", email="nope", owner_id=""))
    assert {v.field for v in err.value.violations} == {"name", "email", "owner_id"}
