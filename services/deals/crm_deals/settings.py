"""The deals service's own settings, read from environment variables."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.config import load_settings
from crm_platform.money import is_known_currency

PREFIX = "CRM_DEALS_"


class DealsSettings(BaseSettings):
    """CRM_DEALS_<FIELD> for each field, e.g. CRM_DEALS_DEFAULT_CURRENCY=MXN."""

    model_config = SettingsConfigDict(
        alias_generator=lambda name: PREFIX + name.upper(), populate_by_name=True, extra="ignore"
    )

    # The currency of a deal opened without an amount (e.g. by a prospect conversion that named none).
    default_currency: str = "COP"

    @field_validator("default_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.strip().upper()
        if not is_known_currency(value):
            raise ValueError(f"'{value}' is not an ISO 4217 currency code")
        return value


def deals_settings() -> DealsSettings:
    return load_settings(DealsSettings, f"the deals service ({PREFIX}*)")
