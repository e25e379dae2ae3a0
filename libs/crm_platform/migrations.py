"""The body of every service's Alembic env.py, and the platform tables (outbox, processed events,
dead letters, client request ids) that each service's first migration creates, with the later
changes to them that a migration of every service applies (add_outbox_traceparent_v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy import MetaData, engine_from_config, pool

# Alembic's include_object hook: (object, name, type, reflected, compare_to) -> compare it or not.
IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def run_env(target_metadata: MetaData | list[MetaData], include_object: IncludeObject | None = None) -> None:
    """Call from a service's migrations/env.py. Uses the connection run_migrations passes in, or
    the URL in the Alembic config when run from the alembic command line. `include_object` leaves
    out of autogenerate's comparisons what the service's migrations make by hand and Alembic cannot
    compare (the schema test uses the same hook)."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        engine = engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        with engine.connect() as conn:
            _run(conn, target_metadata, include_object)
            conn.commit()
    else:
        _run(connection, target_metadata, include_object)


def _run(
    connection: sa.Connection, target_metadata: MetaData | list[MetaData], include_object: IncludeObject | None
) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


class MigrationsPending(RuntimeError):
    """A service told not to migrate on start (CRM_MIGRATE_ON_START=false) found its database
    behind its code: `crm migrate` has not run for this release yet."""


def require_migrated(engine: sa.Engine, script_location: str, service: str) -> None:
    """Raises MigrationsPending unless the database is at the service's head revision(s)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        raise MigrationsPending(
            f"the {service} database is at revision {sorted(current) or 'none'}, not {sorted(heads)}: "
            f"run `crm migrate {service}` first (CRM_MIGRATE_ON_START is false)"
        )


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def add_outbox_traceparent_v2() -> None:
    """Version 2: the outbox row keeps the traceparent of the transaction that wrote it (rows
    written before have none, and their events start no trace)."""
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=False, server_default=""))


def drop_outbox_traceparent_v2() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("traceparent")


def create_platform_tables_v1() -> None:
    """The platform tables at version 1. Called by each service's first migration; a later change
    to these tables is a new function here plus a migration in every service that calls it."""
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("published_at", _ts(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _ts(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_outbox_events_event_id"),
    )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["id"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_events_published_at", "outbox_events", ["published_at"])
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", _ts(), nullable=False),
    )
    op.create_table(
        "dead_letter_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
    )
    op.create_table(
        "client_requests",
        sa.Column("scope", sa.String(100), primary_key=True),
        sa.Column("request_id", sa.String(100), primary_key=True),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
    )
