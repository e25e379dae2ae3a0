"""Rules shared by clients, contacts and prospects: field limits, e-mail, phone, tax id
and address normalisation, owner filters, and optimistic concurrency. Pure Python: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import phonenumbers
from babel import Locale
from email_validator import EmailNotValidError, validate_email

from crm_contacts.domain.tax_ids import InvalidTaxId, normal_tax_id
from crm_platform.errors import FieldViolation
from crm_platform.update_mask import UpdatableFields

NAME_MAX = 200
TEXT_MAX = 500
# Ids (own and other services') are UUID strings; owners are user ids of the identity service.
ID_MAX = 36
TAX_ID_MAX = 50
MAX_PHONES = 20
R = TypeVar("R")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# Limits of the stored address columns.
_ADDRESS_MAX = {"street": TEXT_MAX, "city": NAME_MAX, "region": NAME_MAX, "postal_code": 20}


@dataclass(frozen=True)
class Address:
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country_code: str = ""


def check_length(value: str, field_name: str, limit: int, problems: list[FieldViolation]) -> None:
    if len(value) > limit:
        problems.append(FieldViolation(field_name, f"must be at most {limit} characters"))


# CLDR's two-letter regions that are not countries (unknown, EU, eurozone, UN, outlying Oceania).
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO"})
# ISO 3166-1 alpha-2 codes as CLDR (Babel) knows them (Babel types its data's keys as str | int | None).
_COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if isinstance(code, str) and len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)


def is_country_code(value: str) -> bool:
    """An ISO 3166-1 alpha-2 code of a real country ("CO", "MX"), upper case."""
    return bool(_COUNTRY.match(value)) and value in _COUNTRIES


def normalise_email(value: str, field_name: str, problems: list[FieldViolation]) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        problems.append(FieldViolation(field_name, f"'{value}' is not a valid e-mail address: {exc}"))
        return value


def email_domain(email: str) -> str:
    """The domain of a (normalised) e-mail address; empty when there is none."""
    return email.rpartition("@")[2].lower() if "@" in email else ""


def normalise_phone(value: str, default_country: str, field_name: str, problems: list[FieldViolation]) -> str:
    """E.164 (+573001234567); a number without +country uses the record's country."""
    try:
        number = phonenumbers.parse(value, default_country or None)
    except phonenumbers.NumberParseException as exc:
        problems.append(FieldViolation(field_name, f"'{value}' is not a phone number: {exc}"))
        return value
    if not phonenumbers.is_valid_number(number):
        problems.append(FieldViolation(field_name, f"'{value}' is not a valid phone number"))
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phones(values: Sequence[str], default_country: str, problems: list[FieldViolation]) -> tuple[str, ...]:
    """Each non-blank phone in E.164, in the given order, without repeats."""
    if len(values) > MAX_PHONES:
        problems.append(FieldViolation("phones", f"at most {MAX_PHONES} phone numbers"))
        return tuple(values)
    phones = (normalise_phone(p, default_country, f"phones[{i}]", problems) for i, p in enumerate(values) if p.strip())
    return tuple(dict.fromkeys(phones))


def normalised_address(address: Address, problems: list[FieldViolation]) -> Address:
    """Trimmed fields within their limits and an upper-case ISO 3166-1 alpha-2 country code."""
    for name, limit in _ADDRESS_MAX.items():
        check_length(getattr(address, name).strip(), f"address.{name}", limit, problems)
    country = address.country_code.strip().upper()
    if country and not is_country_code(country):
        problems.append(FieldViolation("address.country_code", "must be an ISO 3166-1 alpha-2 code such as CO"))
    return Address(
        street=address.street.strip(),
        city=address.city.strip(),
        region=address.region.strip(),
        postal_code=address.postal_code.strip(),
        country_code=country,
    )


def normalised_tax_id(
    tax_country: str, tax_id: str, address_country: str, problems: list[FieldViolation]
) -> tuple[str, str]:
    """(country, value): the country defaults to the address's when a value is given; the value
    is checked by its country's rule and kept in that rule's normal form (tax_ids: 9001234568 →
    900123456-8), or, for a country without a rule, trimmed."""
    value = tax_id.strip()
    country = tax_country.strip().upper() or (address_country if value else "")
    if country and not is_country_code(country):
        problems.append(FieldViolation("tax_id.country_code", "must be an ISO 3166-1 alpha-2 code such as CO"))
    else:
        try:
            value = normal_tax_id(country, value)
        except InvalidTaxId as exc:
            problems.append(FieldViolation("tax_id.value", str(exc)))
    check_length(value, "tax_id.value", TAX_ID_MAX, problems)
    return country, value


def check_owner_id(owner_id: str, problems: list[FieldViolation]) -> None:
    if not owner_id:
        problems.append(FieldViolation("owner_id", "is required"))
    else:
        check_length(owner_id, "owner_id", ID_MAX, problems)


@dataclass(frozen=True)
class ContactsFields(UpdatableFields):
    """Update masks of the contacts service's records: an address may be updated one part at a
    time ("address.city"), and so may a tax id ("tax_id.value"), which records keep as
    `tax_country` + `tax_id`."""

    subfields: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "address": ("street", "city", "region", "postal_code", "country_code"),
            "tax_id": ("country_code", "value"),
        }
    )

    def apply_path(self, changes: dict[str, Any], current: Any, draft: Any, head: str, sub: str) -> None:
        if head != "tax_id":
            super().apply_path(changes, current, draft, head, sub)
            return
        if sub in ("", "country_code"):
            changes["tax_country"] = draft.tax_country
        if sub in ("", "value"):
            changes["tax_id"] = draft.tax_id

    def value(self, record: Any, name: str) -> Any:
        if name == "tax_id":
            return (record.tax_country, record.tax_id)
        return getattr(record, name)
