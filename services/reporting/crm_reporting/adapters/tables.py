"""The reporting service's tables (SQLAlchemy Core).

Two kinds:
- what the service owns: budgets and saved report definitions;
- read models (`rm_*`), denormalised copies of the other services' records built from their
  events and never written otherwise. They are dropped and replayed by the rebuild command.

Read-model rules:
- one row per source record, keyed by its id, with the record's `version`: an event applies only
  when its version is newer than the stored one, so a redelivered or late event (a deal's
  `deal_created` arriving after its `deal_won`) changes nothing;
- a deleted record stays as a tombstone (`deleted` true, its version kept) so that an older event
  arriving after the delete cannot bring it back; reports and indicators skip tombstones;
- money is stored as integer minor units of its currency (`*_minor`, e.g. COP 0 decimals, USD 2,
  KWD 3: crm_platform.money.minor_unit_exponent) beside its `currency_code`: amounts in the
  source services are already rounded to the minor unit, so this is exact, and SUM over a million
  rows runs in the database instead of in Python. Amounts of different currencies are never
  summed together: every money aggregate groups by currency.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.tables import ExactDecimal

metadata = sa.MetaData()

Id = sa.String(36)
Time = sa.DateTime(timezone=True)


def _record_columns() -> list[sa.Column[object]]:
    """The columns every read model has: the source record's version and the tombstone flag,
    and the time of the newest event applied (what a report's data_time reports)."""
    return [
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("event_time", Time, nullable=False),
    ]


# ---- owned by the reporting service ----

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("id", Id, primary_key=True),
    # A user's budget has user_id (and the team the user was in); a team's own budget has only
    # team_id (user_id is the empty string, so that the unique index below covers both).
    sa.Column("user_id", Id, nullable=False),
    sa.Column("team_id", Id, nullable=False),
    # month | quarter | year
    sa.Column("period_kind", sa.String(10), nullable=False),
    # The first day of the period.
    sa.Column("period_start", sa.Date(), nullable=False),
    sa.Column("period_end", sa.Date(), nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("target_minor", sa.BigInteger(), nullable=False),
    sa.Column("created_by", Id, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index(
        "ux_budgets_owner_period",
        "user_id",
        "team_id",
        "period_kind",
        "period_start",
        "currency_code",
        unique=True,
    ),
    sa.Index("ix_budgets_period", "period_start", "period_kind"),
)

report_definitions = sa.Table(
    "report_definitions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column("module", sa.String(20), nullable=False),
    # The definition's filters, groupings, aggregates, columns and order as JSON (validated
    # against the module's fields when saved and again when run).
    sa.Column("definition", sa.JSON(), nullable=False),
    sa.Column("owner_id", Id, nullable=False),
    sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_report_definitions_owner", "owner_id", "id"),
    sa.Index("ix_report_definitions_shared", "shared", "id"),
)

# ---- read models (from the other services' events) ----

rm_users = sa.Table(
    "rm_users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("role", sa.String(20), nullable=False, server_default=""),
    sa.Column("team_id", Id, nullable=False, server_default=""),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("time_zone", sa.String(64), nullable=False, server_default=""),
    *_record_columns(),
    sa.Index("ix_rm_users_team", "team_id"),
)

rm_teams = sa.Table(
    "rm_teams",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("manager_id", Id, nullable=False, server_default=""),
    *_record_columns(),
)

# Stages come with their pipeline's events (the whole pipeline each time): one row per stage,
# replaced as a set when a newer pipeline version arrives.
rm_pipelines = sa.Table(
    "rm_pipelines",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    *_record_columns(),
)

rm_stages = sa.Table(
    "rm_stages",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("default_probability", sa.Integer(), nullable=False),
    # open | won | lost
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Index("ix_rm_stages_pipeline", "pipeline_id", "position"),
)

rm_deals = sa.Table(
    "rm_deals",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("client_id", Id, nullable=False, server_default=""),
    sa.Column("pipeline_id", Id, nullable=False, server_default=""),
    sa.Column("stage_id", Id, nullable=False, server_default=""),
    # open | won | lost
    sa.Column("status", sa.String(10), nullable=False, server_default="open"),
    sa.Column("probability", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("currency_code", sa.String(3), nullable=False, server_default=""),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("expected_close_date", sa.Date(), nullable=True),
    sa.Column("source_campaign_id", Id, nullable=False, server_default=""),
    sa.Column("source_prospect_id", Id, nullable=False, server_default=""),
    sa.Column("accepted_quote_id", Id, nullable=False, server_default=""),
    sa.Column("lost_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=True),
    sa.Column("won_at", Time, nullable=True),
    sa.Column("lost_at", Time, nullable=True),
    # won_at or lost_at: the period a closed deal counts in.
    sa.Column("closed_at", Time, nullable=True),
    sa.Column("sales_cycle_seconds", sa.BigInteger(), nullable=False, server_default="0"),
    # The catalogue products of its lines, space-separated (reports filter "product contains").
    sa.Column("product_ids", sa.Text(), nullable=False, server_default=""),
    *_record_columns(),
    # Indicators: closed deals of some owners in a period (covering: no table lookups).
    sa.Index(
        "ix_rm_deals_closed",
        "owner_id",
        "closed_at",
        "status",
        "currency_code",
        "amount_minor",
        "sales_cycle_seconds",
    ),
    # Indicators: the open pipeline of some owners, by stage.
    sa.Index("ix_rm_deals_open", "owner_id", "status", "stage_id", "currency_code", "amount_minor", "probability"),
    sa.Index("ix_rm_deals_campaign", "source_campaign_id", "status"),
    sa.Index("ix_rm_deals_created", "created_at"),
)

rm_activities = sa.Table(
    "rm_activities",
    metadata,
    sa.Column("id", Id, primary_key=True),
    # call | meeting | visit | task | email
    sa.Column("kind", sa.String(10), nullable=False, server_default=""),
    sa.Column("subject", sa.String(300), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    # scheduled | done | cancelled
    sa.Column("status", sa.String(10), nullable=False, server_default=""),
    sa.Column("due_at", Time, nullable=True),
    sa.Column("duration_seconds", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("done_at", Time, nullable=True),
    sa.Column("outcome", sa.String(500), nullable=False, server_default=""),
    sa.Column("deal_id", Id, nullable=False, server_default=""),
    sa.Column("client_id", Id, nullable=False, server_default=""),
    sa.Column("contact_id", Id, nullable=False, server_default=""),
    sa.Column("prospect_id", Id, nullable=False, server_default=""),
    sa.Column("campaign_id", Id, nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=True),
    *_record_columns(),
    # Indicators: activities done by some owners in a period, by kind (covering).
    sa.Index("ix_rm_activities_done", "owner_id", "done_at", "status", "kind"),
    sa.Index("ix_rm_activities_due", "owner_id", "due_at"),
)

rm_quotes = sa.Table(
    "rm_quotes",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("number", sa.String(40), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("deal_id", Id, nullable=False, server_default=""),
    sa.Column("client_id", Id, nullable=False, server_default=""),
    # draft | sent | accepted | rejected | expired | superseded
    sa.Column("status", sa.String(12), nullable=False, server_default=""),
    sa.Column("currency_code", sa.String(3), nullable=False, server_default=""),
    sa.Column("total_minor", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("valid_until", sa.Date(), nullable=True),
    sa.Column("created_at", Time, nullable=True),
    sa.Column("sent_at", Time, nullable=True),
    sa.Column("accepted_at", Time, nullable=True),
    sa.Column("rejected_at", Time, nullable=True),
    sa.Column("expired_at", Time, nullable=True),
    # accepted_at, rejected_at or expired_at: the period a decided quote counts in.
    sa.Column("decided_at", Time, nullable=True),
    *_record_columns(),
    sa.Index("ix_rm_quotes_decided", "owner_id", "decided_at", "status"),
)

rm_clients = sa.Table(
    "rm_clients",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    # company | person
    sa.Column("kind", sa.String(10), nullable=False, server_default=""),
    sa.Column("industry", sa.String(200), nullable=False, server_default=""),
    # Space-separated, with a leading and trailing space (" vip norte "), so that "tag is one
    # of" is a LIKE '% tag %'.
    sa.Column("segment_tags", sa.Text(), nullable=False, server_default=""),
    sa.Column("city", sa.String(200), nullable=False, server_default=""),
    sa.Column("country_code", sa.String(2), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("source", sa.String(100), nullable=False, server_default=""),
    sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", Time, nullable=True),
    *_record_columns(),
    sa.Index("ix_rm_clients_owner", "owner_id"),
)

rm_contacts = sa.Table(
    "rm_contacts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("client_id", Id, nullable=False, server_default=""),
    sa.Column("first_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("job_title", sa.String(200), nullable=False, server_default=""),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    sa.Column("decision_role", sa.String(30), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", Time, nullable=True),
    *_record_columns(),
    sa.Index("ix_rm_contacts_client", "client_id"),
)

rm_prospects = sa.Table(
    "rm_prospects",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("company_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("first_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    # web | referral | campaign | trade_fair | ads | rd_station | other
    sa.Column("source", sa.String(20), nullable=False, server_default=""),
    sa.Column("source_campaign_id", Id, nullable=False, server_default=""),
    # new | contacted | qualified | converted | disqualified
    sa.Column("status", sa.String(15), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("converted_client_id", Id, nullable=False, server_default=""),
    sa.Column("converted_deal_id", Id, nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=True),
    sa.Column("converted_at", Time, nullable=True),
    *_record_columns(),
    sa.Index("ix_rm_prospects_created", "owner_id", "created_at", "status"),
    sa.Index("ix_rm_prospects_campaign", "source_campaign_id"),
)

rm_products = sa.Table(
    "rm_products",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("sku", sa.String(64), nullable=False, server_default=""),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    # product | service
    sa.Column("kind", sa.String(10), nullable=False, server_default=""),
    sa.Column("unit_of_measure", sa.String(30), nullable=False, server_default=""),
    sa.Column("currency_code", sa.String(3), nullable=False, server_default=""),
    # Catalogue prices may carry more decimals than the currency's minor unit: exact decimal.
    sa.Column("unit_price", ExactDecimal(), nullable=True),
    sa.Column("tax_rate", ExactDecimal(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created_at", Time, nullable=True),
    *_record_columns(),
)

rm_campaigns = sa.Table(
    "rm_campaigns",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    # mailing | telemarketing | social_ads | trade_fair
    sa.Column("type", sa.String(15), nullable=False, server_default=""),
    # draft | scheduled | running | completed | cancelled
    sa.Column("status", sa.String(10), nullable=False, server_default=""),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("start_date", sa.Date(), nullable=True),
    sa.Column("end_date", sa.Date(), nullable=True),
    # The budget's currency; cost (the recorded spend) is in it too.
    sa.Column("currency_code", sa.String(3), nullable=False, server_default=""),
    sa.Column("budget_minor", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("cost_minor", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("member_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("launched_at", Time, nullable=True),
    sa.Column("completed_at", Time, nullable=True),
    sa.Column("created_at", Time, nullable=True),
    *_record_columns(),
)

# Leads a campaign captured (LeadCaptured), one row per prospect: counted per campaign and
# period for cost per lead. Prospects created with the campaign as their source by other paths
# (a rep typing one in) count through rm_prospects.source_campaign_id.
rm_campaign_leads = sa.Table(
    "rm_campaign_leads",
    metadata,
    sa.Column("prospect_id", Id, primary_key=True),
    sa.Column("campaign_id", Id, nullable=False),
    sa.Column("owner_id", Id, nullable=False, server_default=""),
    sa.Column("captured_at", Time, nullable=False),
    sa.Index("ix_rm_campaign_leads_campaign", "campaign_id", "captured_at"),
)

# Where each consumed stream stands: events applied and the newest event's time.
rm_streams = sa.Table(
    "rm_streams",
    metadata,
    sa.Column("stream", sa.String(50), primary_key=True),
    sa.Column("events_applied", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("last_event_time", Time, nullable=True),
)

READ_MODELS: tuple[sa.Table, ...] = (
    rm_users,
    rm_teams,
    rm_pipelines,
    rm_stages,
    rm_deals,
    rm_activities,
    rm_quotes,
    rm_clients,
    rm_contacts,
    rm_prospects,
    rm_products,
    rm_campaigns,
    rm_campaign_leads,
    rm_streams,
)

# ---- added by migration 0003: indicator indexes over live rows, and the rebuild log ----


# The indicators skip tombstones: these partial covering indexes hold only live rows, so that an
# indicator query (which says `deleted = false` literally) reads the index alone, never the table
# (`deleted` is also their last column: SQLite counts an index as covering only when it holds
# every column the query names).
def _live(table: sa.Table) -> sa.ColumnElement[bool]:
    return table.c.deleted == sa.false()


sa.Index(
    "ix_rm_deals_closed_live",
    rm_deals.c.owner_id,
    rm_deals.c.closed_at,
    rm_deals.c.status,
    rm_deals.c.currency_code,
    rm_deals.c.amount_minor,
    rm_deals.c.sales_cycle_seconds,
    rm_deals.c.deleted,
    sqlite_where=_live(rm_deals),
    postgresql_where=_live(rm_deals),
)
sa.Index(
    "ix_rm_deals_open_live",
    rm_deals.c.owner_id,
    rm_deals.c.status,
    rm_deals.c.stage_id,
    rm_deals.c.currency_code,
    rm_deals.c.expected_close_date,
    rm_deals.c.amount_minor,
    rm_deals.c.probability,
    rm_deals.c.deleted,
    sqlite_where=_live(rm_deals),
    postgresql_where=_live(rm_deals),
)
sa.Index(
    "ix_rm_activities_done_live",
    rm_activities.c.owner_id,
    rm_activities.c.done_at,
    rm_activities.c.status,
    rm_activities.c.kind,
    rm_activities.c.deleted,
    sqlite_where=_live(rm_activities),
    postgresql_where=_live(rm_activities),
)
sa.Index(
    "ix_rm_prospects_created_live",
    rm_prospects.c.owner_id,
    rm_prospects.c.created_at,
    rm_prospects.c.status,
    rm_prospects.c.deleted,
    sqlite_where=_live(rm_prospects),
    postgresql_where=_live(rm_prospects),
)
sa.Index(
    "ix_rm_quotes_decided_live",
    rm_quotes.c.owner_id,
    rm_quotes.c.decided_at,
    rm_quotes.c.status,
    rm_quotes.c.deleted,
    sqlite_where=_live(rm_quotes),
    postgresql_where=_live(rm_quotes),
)
sa.Index("ix_rm_campaigns_owner", rm_campaigns.c.owner_id, rm_campaigns.c.start_date)

# ---- added by migration 0005: the company's indicators (no owner named) ----

# Led by the period's instant (closed deals, activities done), and the open deals alone by stage
# (the pipeline grouped by stage and currency in the index's order); the owner-led ones above serve
# a user or a team. Not led by the status: SQLite, without statistics, takes an equality on a
# first column over a range, and read the closed deals of a team through such an index (5 s).
sa.Index(
    "ix_rm_deals_closed_at_live",
    rm_deals.c.closed_at,
    rm_deals.c.status,
    rm_deals.c.currency_code,
    rm_deals.c.amount_minor,
    rm_deals.c.sales_cycle_seconds,
    rm_deals.c.owner_id,
    rm_deals.c.deleted,
    sqlite_where=_live(rm_deals),
    postgresql_where=_live(rm_deals),
)
sa.Index(
    "ix_rm_deals_open_stage_live",
    rm_deals.c.stage_id,
    rm_deals.c.currency_code,
    rm_deals.c.expected_close_date,
    rm_deals.c.amount_minor,
    rm_deals.c.probability,
    rm_deals.c.status,
    rm_deals.c.deleted,
    sqlite_where=sa.and_(_live(rm_deals), rm_deals.c.status == "open"),
    postgresql_where=sa.and_(_live(rm_deals), rm_deals.c.status == "open"),
)
sa.Index(
    "ix_rm_activities_done_at_live",
    rm_activities.c.done_at,
    rm_activities.c.status,
    rm_activities.c.owner_id,
    rm_activities.c.kind,
    rm_activities.c.deleted,
    sqlite_where=_live(rm_activities),
    postgresql_where=_live(rm_activities),
)

# One row per rebuild of the read models (`crm rebuild-reports`): not a read model, so a rebuild
# keeps it. The service shows the last one's duration on /metrics.
rm_rebuilds = sa.Table(
    "rm_rebuilds",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("started_at", Time, nullable=False),
    sa.Column("finished_at", Time, nullable=True),
    sa.Column("duration_seconds", sa.Float(), nullable=True),
    sa.Column("events_replayed", sa.BigInteger(), nullable=False, server_default="0"),
)
