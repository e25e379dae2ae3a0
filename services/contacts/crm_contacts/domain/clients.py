"""Client (Cliente) rules: what a valid client is, and how its fields are normalised. Pure Python:
no ORM, no protobuf, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_platform.errors import FieldViolation, InvalidArgument

NAME_MAX = 200
TEXT_MAX = 500
MAX_TAGS = 50
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class ClientKind(StrEnum):
    COMPANY = "company"
    PERSON = "person"


@dataclass(frozen=True)
class Address:
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country_code: str = ""


@dataclass(frozen=True)
class Client:
    id: str
    kind: ClientKind
    name: str
    owner_id: str
    legal_name: str = ""
    tax_country: str = ""
    tax_id: str = ""
    industry: str = ""
    segment_tags: tuple[str, ...] = ()
    email: str = ""
    phones: tuple[str, ...] = ()
    website: str = ""
    address: Address = field(default_factory=Address)
    source: str = ""
    archived: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1


def normalise_email(value: str, field_name: str, problems: list[FieldViolation]) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        problems.append(FieldViolation(field_name, f"'{value}' is not a valid e-mail address: {exc}"))
        return value


def normalise_phone(value: str, default_country: str, field_name: str, problems: list[FieldViolation]) -> str:
    """E.164 (+573001234567); a number without +country uses the client's country."""
    try:
        number = phonenumbers.parse(value, default_country or None)
    except phonenumbers.NumberParseException as exc:
        problems.append(FieldViolation(field_name, f"'{value}' is not a phone number: {exc}"))
        return value
    if not phonenumbers.is_valid_number(number):
        problems.append(FieldViolation(field_name, f"'{value}' is not a valid phone number"))
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validated(client: Client) -> Client:
    """The client with normalised fields, or InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    name = client.name.strip()
    if not name:
        problems.append(FieldViolation("name", "is required"))
    elif len(name) > NAME_MAX:
        problems.append(FieldViolation("name", f"must be at most {NAME_MAX} characters"))
    if not client.owner_id:
        problems.append(FieldViolation("owner_id", "is required"))
    for fname in ("legal_name", "industry", "website", "source"):
        if len(getattr(client, fname)) > TEXT_MAX:
            problems.append(FieldViolation(fname, f"must be at most {TEXT_MAX} characters"))
    country = client.address.country_code.strip().upper()
    if country and not _COUNTRY.match(country):
        problems.append(FieldViolation("address.country_code", "must be an ISO 3166-1 alpha-2 code such as CO"))
    tax_country = client.tax_country.strip().upper() or (country if client.tax_id else "")
    if tax_country and not _COUNTRY.match(tax_country):
        problems.append(FieldViolation("tax_id.country_code", "must be an ISO 3166-1 alpha-2 code such as CO"))
    email = normalise_email(client.email, "email", problems)
    phones = tuple(
        normalise_phone(p, country, f"phones[{i}]", problems) for i, p in enumerate(client.phones) if p.strip()
    )
    tags = tuple(dict.fromkeys(t.strip().lower() for t in client.segment_tags if t.strip()))
    if len(tags) > MAX_TAGS:
        problems.append(FieldViolation("segment_tags", f"at most {MAX_TAGS} tags"))
    if problems:
        raise InvalidArgument(problems)
    return replace(
        client,
        name=name,
        legal_name=client.legal_name.strip(),
        tax_country=tax_country,
        tax_id=re.sub(r"[\s.]", "", client.tax_id).upper(),
        email=email,
        phones=phones,
        segment_tags=tags,
        address=replace(client.address, country_code=country),
    )
