"""The quotes service's own settings (environment variables CRM_QUOTES_*), with working defaults
for the embedded mode: the company's time zone (validity dates end at its midnight), the default
validity of a new quote, how often the expiry sweep runs, and the company header of the PDF."""

from __future__ import annotations

from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.config import load_settings

PREFIX = "CRM_QUOTES_"


class QuotesSettings(BaseSettings):
    """CRM_QUOTES_<FIELD> for each field, e.g. CRM_QUOTES_TIME_ZONE=America/Mexico_City."""

    # The aliases are the variables' full names (as in every service's settings) so that the error
    # of a malformed value names the variable itself; fields can still be passed by name in code.
    model_config = SettingsConfigDict(
        alias_generator=lambda name: PREFIX + name.upper(), populate_by_name=True, extra="ignore"
    )

    # IANA zone of the company: a quote valid until 2026-03-31 expires at 2026-04-01 00:00 there,
    # and a new quote's year (its number) is the year there.
    time_zone: str = "America/Bogota"
    # valid_until of a new quote that names none: this many days after today.
    validity_days: int = Field(default=30, ge=1, le=3650)
    # Seconds between runs of the sweep that stores expired quotes and publishes quote_expired
    # (reads report expiry without it); 0 turns it off.
    expiry_sweep_seconds: float = Field(default=300.0, ge=0)
    # The PDF's header: who makes the offer.
    company_name: str = "Mi Empresa S.A.S."
    company_tax_id: str = ""
    company_address: str = ""
    company_phone: str = ""
    company_email: str = ""
    company_website: str = ""
    # Language of a PDF when the request names none: es or en.
    pdf_locale: str = "es"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone such as America/Bogota") from None
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def quotes_settings() -> QuotesSettings:
    return load_settings(QuotesSettings, f"the quotes service ({PREFIX}*)")
