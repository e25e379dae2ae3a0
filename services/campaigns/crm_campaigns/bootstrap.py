"""Wires the campaigns service: its servicer (with the contacts service as the source of segments
and prospects, the deals service for calls and deals, SMTP and Mailchimp as mail providers), its
migrations, settings, the consumer of the deals service's events and the background mail sender.
Tests pass a clock, settings or providers of their own to `build_spec`."""

from __future__ import annotations

from dataclasses import dataclass

from crm_campaigns.adapters.contacts_directory import ContactsDirectory, GrpcContactsDirectory
from crm_campaigns.adapters.deals_client import DealsClient, GrpcDealsClient
from crm_campaigns.adapters.mail import MailchimpClient, SmtpSender
from crm_campaigns.entrypoints.consumers import consumers
from crm_campaigns.entrypoints.grpc_servicer import CampaignsServicer
from crm_campaigns.entrypoints.sender import MailSender
from crm_campaigns.service_layer.campaigns import Campaigns, Clock, utc_now
from crm_campaigns.service_layer.mailing import Providers
from crm_campaigns.settings import CampaignsSettings, campaigns_settings
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import BackgroundTask, ServiceSpec


@dataclass(frozen=True)
class _Wiring:
    """The use cases' dependencies and the mail providers, made once for a start's database."""

    db: Database
    campaigns: Campaigns
    providers: Providers


def providers_for(settings: CampaignsSettings) -> Providers:
    def mailchimp() -> MailchimpClient | None:
        config = settings.mailchimp()
        return MailchimpClient(config) if config is not None else None

    return Providers(smtp=lambda: SmtpSender(settings.smtp()), mailchimp=mailchimp)


def build_spec(
    clock: Clock = utc_now,
    settings: CampaignsSettings | None = None,
    providers: Providers | None = None,
    directory: ContactsDirectory | None = None,
    deals: DealsClient | None = None,
) -> ServiceSpec:
    """The service as it runs; settings are read from the environment when it starts."""
    current: _Wiring | None = None

    def wiring(db: Database) -> tuple[Campaigns, Providers]:
        nonlocal current
        if current is None or current.db is not db:  # one wiring per start (tests start the spec many times)
            s = settings or campaigns_settings()
            w = Campaigns(db, directory or GrpcContactsDirectory(), deals or GrpcDealsClient(), s, clock)
            current = _Wiring(db, w, providers or providers_for(s))
        return current.campaigns, current.providers

    def register(server: GrpcServer, db: Database) -> None:
        w, p = wiring(db)
        server.register(CampaignsServicer(w, p))

    def background(db: Database) -> list[BackgroundTask]:
        w, p = wiring(db)
        return [MailSender(w, p, w.settings.send_poll_seconds)]

    return ServiceSpec(
        name="campaigns",
        migrations="crm_campaigns:migrations",
        register=register,
        consumers=consumers,
        background=background,
        settings=(lambda: settings) if settings is not None else campaigns_settings,
    )


SPEC = build_spec()
