"""Leads (from a trade fair, a webhook or typed in) and what makes one usable: a name (company or
person) or an e-mail, a plausible e-mail, an ISO country code. The same lead in one campaign (same
external id, else same e-mail) is captured once: `lead_key` is that identity. Pure Python."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from enum import Enum

from crm_platform.errors import FieldViolation

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# Longest value of each text field (the prospect's own limits are in the contacts service).
MAX_TEXT = 200


class LeadSource(Enum):
    TRADE_FAIR = "trade_fair"
    GOOGLE_ADS = "google_ads"
    RD_STATION = "rd_station"
    WEB_FORM = "web_form"
    MANUAL = "manual"


@dataclass(frozen=True)
class Lead:
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    job_title: str = ""
    email: str = ""
    phone: str = ""
    city: str = ""
    country_code: str = ""
    notes: str = ""
    source: LeadSource | None = None
    external_id: str = ""

    @property
    def display_name(self) -> str:
        person = " ".join(p for p in (self.first_name, self.last_name) if p)
        return person or self.company_name or self.email


def lead_problems(lead: Lead, prefix: str = "lead") -> tuple[Lead, list[FieldViolation]]:
    """The lead cleaned (stripped, e-mail lower-cased, country upper-cased) and what is wrong with it."""
    clean = replace(
        lead,
        **{
            name: getattr(lead, name).strip()
            for name in (
                "company_name",
                "first_name",
                "last_name",
                "job_title",
                "phone",
                "city",
                "notes",
                "external_id",
            )
        },
        email=lead.email.strip().lower(),
        country_code=lead.country_code.strip().upper(),
    )
    problems: list[FieldViolation] = []
    if not (clean.company_name or clean.first_name or clean.last_name or clean.email):
        problems.append(FieldViolation(f"{prefix}.company_name", "a company, a name or an e-mail is required"))
    if clean.email and not _EMAIL.match(clean.email):
        problems.append(FieldViolation(f"{prefix}.email", f"'{clean.email}' is not an e-mail address"))
    if clean.country_code and not _COUNTRY.match(clean.country_code):
        problems.append(FieldViolation(f"{prefix}.country_code", f"'{clean.country_code}' is not an ISO 3166-1 code"))
    for name in ("company_name", "first_name", "last_name", "job_title", "email", "phone", "city"):
        if len(getattr(clean, name)) > MAX_TEXT:
            problems.append(FieldViolation(f"{prefix}.{name}", f"at most {MAX_TEXT} characters"))
    if len(clean.notes) > 5000:
        problems.append(FieldViolation(f"{prefix}.notes", "at most 5000 characters"))
    if len(clean.external_id) > 200:
        problems.append(FieldViolation(f"{prefix}.external_id", "at most 200 characters"))
    return clean, problems


def lead_key(lead: Lead) -> str:
    """The lead's identity in its campaign: its external id, else its e-mail, else its name and phone."""
    if lead.external_id:
        return f"lead:ext:{lead.external_id}"
    if lead.email:
        return f"lead:email:{lead.email}"
    raw = "|".join((lead.company_name, lead.first_name, lead.last_name, lead.phone)).casefold()
    return "lead:name:" + hashlib.sha256(raw.encode()).hexdigest()[:32]
