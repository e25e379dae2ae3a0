"""The campaigns service's tables (SQLAlchemy Core): campaigns, their members (the segment's
snapshot at launch, captured leads, each member's mail and call state), the suppression list of
unsubscribed addresses, spend, mail events already recorded, and the deals of each campaign (from
the deals service's events). Migrations create them; a test checks that the two agree."""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.tables import ExactDecimal

metadata = sa.MetaData()

Amount = ExactDecimal()
Ts = sa.DateTime(timezone=True)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_date", sa.Date(), nullable=True),
    sa.Column("end_date", sa.Date(), nullable=True),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("budget_amount", Amount, nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("cost_amount", Amount, nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    # The target segment and the mail content as JSON documents (read and written whole).
    sa.Column("target", sa.JSON(), nullable=False),
    sa.Column("mailing", sa.JSON(), nullable=True),
    sa.Column("external_id", sa.String(200), nullable=False, server_default=""),
    sa.Column("webhook_secret", sa.String(100), nullable=False),
    sa.Column("launch_time", Ts, nullable=True),
    sa.Column("complete_time", Ts, nullable=True),
    sa.Column("cancel_time", Ts, nullable=True),
    sa.Column("cancel_reason", sa.String(500), nullable=False, server_default=""),
    # The mailing job: "" (none), "queued" (the sender has work), "done"; and the provider's id of
    # the mailing (Mailchimp campaign) once it was created there.
    sa.Column("send_state", sa.String(20), nullable=False, server_default=""),
    sa.Column("provider_campaign_id", sa.String(100), nullable=False, server_default=""),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_campaigns_owner", "owner_id", "id"),
    sa.Index("ix_campaigns_send_state", "send_state"),
)

members = sa.Table(
    "campaign_members",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    # What the member is in its campaign: "client:<id>", "contact:<id>", "prospect:<id>" for the
    # snapshot, "lead:..." for a captured lead (crm_campaigns.domain.leads.lead_key): unique, so a
    # second launch or a replayed lead adds nobody.
    sa.Column("record_key", sa.String(250), nullable=False),
    sa.Column("client_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("contact_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("prospect_id", sa.String(36), nullable=False, server_default=""),
    # A contact member's client (a call's deal is opened for it).
    sa.Column("parent_client_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    sa.Column("phone", sa.String(50), nullable=False, server_default=""),
    sa.Column("display_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("first_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("client_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("assigned_rep_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("last_call_outcome", sa.String(20), nullable=False, server_default=""),
    sa.Column("last_call_time", Ts, nullable=True),
    sa.Column("call_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("call_back_time", Ts, nullable=True),
    sa.Column("created_prospect_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("created_deal_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("status_time", Ts, nullable=False),
    sa.Column("send_state", sa.String(20), nullable=False, server_default=""),
    sa.Column("send_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("sent_at", Ts, nullable=True),
    sa.Column("opened_at", Ts, nullable=True),
    sa.Column("clicked_at", Ts, nullable=True),
    sa.Column("bounced_at", Ts, nullable=True),
    sa.Column("unsubscribed_at", Ts, nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("campaign_id", "record_key", name="uq_campaign_members_record"),
    sa.Index("ix_campaign_members_campaign", "campaign_id", "id"),
    sa.Index("ix_campaign_members_send", "campaign_id", "send_state", "id"),
    sa.Index("ix_campaign_members_email", "campaign_id", "email"),
)

# Addresses that unsubscribed (lower case): never mailed again, by any campaign.
suppressions = sa.Table(
    "mail_suppressions",
    metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("campaign_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("member_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("created_at", Ts, nullable=False),
)

spends = sa.Table(
    "campaign_spends",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    sa.Column("spend_date", sa.Date(), nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("recorded_by", sa.String(36), nullable=False, server_default=""),
    sa.Column("created_at", Ts, nullable=False),
    sa.Index("ix_campaign_spends_campaign", "campaign_id", "spend_date"),
)

# Provider events already recorded (a webhook delivered twice changes nothing).
mail_events = sa.Table(
    "mail_events",
    metadata,
    sa.Column("campaign_id", sa.String(36), primary_key=True),
    sa.Column("external_event_id", sa.String(200), primary_key=True),
    sa.Column("created_at", Ts, nullable=False),
)

# The deals of each campaign as the deals service's events tell them.
campaign_deals = sa.Table(
    "campaign_deals",
    metadata,
    sa.Column("deal_id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    # The deal's version in the deals service: an event applies only when it is newer, so a late
    # or redelivered event (deal_created after deal_won) cannot undo a newer state.
    sa.Column("deal_version", sa.BigInteger(), nullable=False, server_default="0"),
    # A deleted deal (or one whose source campaign was cleared) stays as a row that counts for no
    # campaign, with its version, so that an older event cannot bring it back.
    sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Index("ix_campaign_deals_campaign", "campaign_id"),
)
