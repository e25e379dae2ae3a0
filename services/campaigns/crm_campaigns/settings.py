"""The campaigns service's own settings (environment variables CRM_CAMPAIGNS_*), with working
defaults for the embedded mode: the default currency of a budget, the SMTP server and the
Mailchimp account mailings go through, the public address unsubscribe links point at and the key
that signs them, and the background sender's pace."""

from __future__ import annotations

import hashlib
import os
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_campaigns.adapters.mail import MailchimpConfig, SmtpConfig
from crm_platform.config import load_settings
from crm_platform.money import is_known_currency

PREFIX = "CRM_CAMPAIGNS_"


class CampaignsSettings(BaseSettings):
    """CRM_CAMPAIGNS_<FIELD> for each field, e.g. CRM_CAMPAIGNS_SMTP_HOST=smtp.example.com."""

    model_config = SettingsConfigDict(
        alias_generator=lambda name: PREFIX + name.upper(), populate_by_name=True, extra="ignore"
    )

    # The currency of a campaign created without a budget.
    default_currency: str = "COP"
    # SMTP: the server every SMTP mailing goes through.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_verify_tls: bool = True
    # SMTP connections a mailing is sent over at once.
    smtp_connections: int = Field(default=2, ge=1, le=32)
    # The sender of a mailing whose content names none.
    default_from_email: str = "no-reply@example.com"
    default_from_name: str = ""
    # Mailchimp Marketing API v3: https://<dc>.api.mailchimp.com/3.0, the API key, the audience.
    mailchimp_base_url: str = ""
    mailchimp_api_key: str = ""
    mailchimp_list_id: str = ""
    # Where unsubscribe links point: the gateway's public address.
    public_base_url: str = "http://127.0.0.1:8080"
    # Key of the unsubscribe links' signatures; empty = derived from CRM_INTERNAL_TOKEN.
    unsubscribe_secret: str = ""
    # Members claimed per turn of the background sender, and its idle poll.
    send_batch_size: int = Field(default=200, ge=1, le=10_000)
    # Members claimed (queued → sending) together before their messages go: a crash mid-group
    # leaves at most this many in doubt (never resent); 1 = one at a time, two commits a message.
    send_claim_size: int = Field(default=20, ge=1, le=500)
    send_poll_seconds: float = Field(default=1.0, gt=0)

    @field_validator("default_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.strip().upper()
        if not is_known_currency(value):
            raise ValueError(f"'{value}' is not an ISO 4217 currency code")
        return value

    def smtp(self) -> SmtpConfig:
        return SmtpConfig(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,
            username=self.smtp_user,
            password=self.smtp_password,
            timeout=self.smtp_timeout_seconds,
            verify_tls=self.smtp_verify_tls,
        )

    def mailchimp(self) -> MailchimpConfig | None:
        if not (self.mailchimp_base_url and self.mailchimp_api_key and self.mailchimp_list_id):
            return None
        return MailchimpConfig(self.mailchimp_base_url, self.mailchimp_api_key, self.mailchimp_list_id)

    def unsubscribe_key(self) -> bytes:
        secret = self.unsubscribe_secret or "internal:" + os.environ.get("CRM_INTERNAL_TOKEN", "")
        return hashlib.sha256(b"crm-campaigns-unsubscribe:" + secret.encode()).digest()


def campaigns_settings() -> CampaignsSettings:
    return load_settings(CampaignsSettings, f"the campaigns service ({PREFIX}*)")
