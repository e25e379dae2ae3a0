"""Converting a prospect (Prospecto) into a client and its contact: which prospects may be
converted, the client and the contact a prospect becomes, which existing client a conversion may
reuse instead, and the deal a conversion may ask the deals service to open. Pure Python: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from crm_contacts.domain.clients import Client, ClientKind
from crm_contacts.domain.common import NAME_MAX, check_length, email_domain
from crm_contacts.domain.contacts import Contact
from crm_contacts.domain.prospects import Prospect, ProspectStatus
from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_platform.money import parse_amount, parse_currency

# Public e-mail providers: sharing one of these domains says nothing about sharing a company, so
# a conversion never reuses a client because of them.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.es",
        "outlook.com",
        "outlook.es",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.es",
        "yahoo.com.mx",
        "yahoo.com.ar",
        "ymail.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "protonmail.com",
        "proton.me",
        "gmx.com",
        "mail.com",
        "yandex.com",
        "zoho.com",
    }
)


@dataclass(frozen=True)
class DealRequest:
    """What a conversion asks the deals service to open (carried by prospect_converted)."""

    open_deal: bool = False
    title: str = ""
    # Exact, at full precision: the deals service rounds it once, where it stores the deal.
    amount: Decimal | None = None
    currency: str = ""


def deal_request(open_deal: bool, title: str, amount: str, currency: str) -> DealRequest:
    """The checked deal part of a convert: a title and an amount (a decimal string with an ISO 4217
    currency, not negative) only with open_deal; InvalidArgument naming the field otherwise."""
    title = title.strip()
    problems: list[FieldViolation] = []
    check_length(title, "deal_title", NAME_MAX, problems)
    value: Decimal | None = None
    code = ""
    if amount.strip() or currency.strip():
        try:
            value = parse_amount(amount, "deal_amount")
        except InvalidArgument as exc:
            problems.extend(exc.violations)
        else:
            if value < 0:
                problems.append(FieldViolation("deal_amount", "must not be negative"))
        try:
            code = parse_currency(currency, "deal_amount")
        except InvalidArgument as exc:
            problems.extend(exc.violations)
    if not open_deal and (title or value is not None):
        problems.append(FieldViolation("open_deal", "a deal title or amount is given only with open_deal"))
    if problems:
        raise InvalidArgument(problems)
    return DealRequest(open_deal=open_deal, title=title, amount=value, currency=code)


def company_domain(email: str) -> str:
    """The e-mail's domain when it can stand for a company (not a free-mail provider's)."""
    domain = email_domain(email)
    return "" if domain in FREE_MAIL_DOMAINS else domain


def check_convertible(prospect: Prospect) -> None:
    """FailedPrecondition unless the prospect is open (new, contacted or qualified) and not
    archived. A converted prospect is not refused here: converting it again returns the first
    result, which the caller handles before asking."""
    if prospect.status == ProspectStatus.DISQUALIFIED:
        raise FailedPrecondition(
            f"prospect '{prospect.id}' is disqualified ({prospect.disqualified_reason}): reopen it before converting",
            reason="prospect_disqualified",
            metadata={"prospect_id": prospect.id},
        )
    if prospect.archived:
        raise FailedPrecondition(
            f"prospect '{prospect.id}' is archived and cannot be converted",
            reason="prospect_archived",
            metadata={"prospect_id": prospect.id},
        )


def person_name(prospect: Prospect) -> str:
    return " ".join(n for n in (prospect.first_name, prospect.last_name) if n)


def client_from_prospect(prospect: Prospect) -> Client:
    """The client draft a prospect becomes: its company, or the person when it names no company;
    with its e-mail, phones, tax id, industry, address and owner, its source as the client's."""
    company = bool(prospect.company_name)
    return Client(
        id="",
        kind=ClientKind.COMPANY if company else ClientKind.PERSON,
        name=(prospect.company_name if company else person_name(prospect))[:NAME_MAX],
        owner_id=prospect.owner_id,
        tax_country=prospect.tax_country,
        tax_id=prospect.tax_id,
        industry=prospect.industry,
        email=prospect.email,
        phones=prospect.phones,
        address=prospect.address,
        source=prospect.source.value if prospect.source else "",
    )


def contact_from_prospect(prospect: Prospect, client_id: str, primary: bool) -> Contact | None:
    """The contact draft of the prospect's person in the client; None when the prospect names no
    person (only a company)."""
    if not (prospect.first_name or prospect.last_name):
        return None
    return Contact(
        id="",
        client_id=client_id,
        owner_id=prospect.owner_id,
        first_name=prospect.first_name,
        last_name=prospect.last_name,
        job_title=prospect.job_title,
        email=prospect.email,
        phones=prospect.phones,
        primary=primary,
    )


def converted(prospect: Prospect, client_id: str, contact_id: str, client_created: bool, now: datetime) -> Prospect:
    """The prospect as a conversion leaves it: converted, naming what it produced."""
    return replace(
        prospect,
        status=ProspectStatus.CONVERTED,
        converted_client_id=client_id,
        converted_contact_id=contact_id,
        converted_client_created=client_created,
        version=prospect.version + 1,
        updated_at=now,
    )
