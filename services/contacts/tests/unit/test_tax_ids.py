"""Tax ids per country (python-stdnum): valid ones take one normal form, invalid ones say why,
other countries keep what was given, trimmed."""

from __future__ import annotations

import pytest

from crm_contacts.domain.clients import Client, ClientKind, validated
from crm_contacts.domain.common import Address
from crm_contacts.domain.tax_ids import InvalidTaxId, normal_tax_id, tax_id_forms
from crm_platform.errors import InvalidArgument


@pytest.mark.parametrize(
    ("country", "given", "normal"),
    [
        ("CO", "900.123.456-8", "900123456-8"),
        ("CO", "9001234568", "900123456-8"),
        ("CO", " 900 123 456 8 ", "900123456-8"),
        ("MX", "gode561231gr8", "GODE561231GR8"),
        ("CL", "12.345.678-5", "12345678-5"),
        ("AR", "20267565393", "20-26756539-3"),
        ("PE", "20100066603", "20100066603"),
        ("EC", "1792060346001", "1792060346001"),
        ("BR", "11.222.333/0001-81", "11222333/0001-81"),  # a company's CNPJ
        ("BR", "111.444.777-35", "111444777-35"),  # a person's CPF
        ("US", "  12-3456789 ", "12-3456789"),  # no rule: as given, trimmed
        ("", " abc ", "abc"),
    ],
)
def test_valid_ids_take_one_normal_form(country: str, given: str, normal: str) -> None:
    assert normal_tax_id(country, given) == normal


@pytest.mark.parametrize(
    ("country", "given", "why"),
    [
        ("CO", "900123456-7", "'900123456-7' is not a valid CO NIT: its check digit does not match"),
        ("CO", "123", "is not a valid CO NIT: it has the wrong number of digits"),
        ("MX", "GODE561231GR9", "is not a valid MX RFC: its check digit does not match"),
        ("CL", "12.345.678-K", "is not a valid CL RUT: its check digit does not match"),
        ("AR", "20267565392", "is not a valid AR CUIT: its check digit does not match"),
        ("BR", "11.222.333/0001-82", "is not a valid BR CNPJ or CPF: its check digit does not match"),
    ],
)
def test_invalid_ids_say_why(country: str, given: str, why: str) -> None:
    with pytest.raises(InvalidTaxId) as err:
        normal_tax_id(country, given)
    assert why in str(err.value)


def test_a_client_with_an_invalid_nit_is_refused_naming_the_field() -> None:
    draft = Client(
        id="",
        kind=ClientKind.COMPANY,
        name="Acme",
        owner_id="u1",
        tax_id="900123456-7",
        address=Address(country_code="CO"),
    )
    with pytest.raises(InvalidArgument) as err:
        validated(draft)
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("tax_id.value", "'900123456-7' is not a valid CO NIT: its check digit does not match")
    ]


def test_a_reference_without_country_matches_the_normal_form_of_any_country_it_fits() -> None:
    assert tax_id_forms("", "9001234568") == ("9001234568", "900123456-8")
    assert tax_id_forms("CO", "900.123.456-8") == ("900.123.456-8", "900123456-8")
    assert tax_id_forms("", "") == ()
