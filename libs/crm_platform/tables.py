"""The platform tables as SQLAlchemy Core tables (their schema is created by
migrations.create_platform_tables_v1, and a test checks the two agree)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

platform_metadata = sa.MetaData()


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal column (money, quantities): NUMERIC(24, 6) on PostgreSQL; on SQLite, text,
    because SQLite's NUMERIC affinity would store a binary float. Values come back as Decimal.
    Sums of such columns are done in Python (Decimal), never by SQLite."""

    impl = sa.Numeric(24, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(24, 6, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Ts = sa.DateTime(timezone=True)

outbox_events = sa.Table(
    "outbox_events",
    platform_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("published_at", _Ts, nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _Ts, nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    # The W3C traceparent of the transaction that wrote the event ("" outside a trace): the relay
    # sends it as a NATS header, so the consumers' spans join the producer's trace.
    sa.Column("traceparent", sa.String(55), nullable=False, server_default=""),
    sa.UniqueConstraint("event_id", name="uq_outbox_events_event_id"),
    sa.Index(
        "ix_outbox_events_pending",
        "id",
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    ),
    sa.Index("ix_outbox_events_published_at", "published_at"),
)

processed_events = sa.Table(
    "processed_events",
    platform_metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("processed_at", _Ts, nullable=False),
)

dead_letter_events = sa.Table(
    "dead_letter_events",
    platform_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("consumer", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.Column("error", sa.Text(), nullable=False),
    sa.Column("deliveries", sa.Integer(), nullable=False),
    sa.Column("created_at", _Ts, nullable=False),
)

client_requests = sa.Table(
    "client_requests",
    platform_metadata,
    sa.Column("scope", sa.String(100), primary_key=True),
    sa.Column("request_id", sa.String(100), primary_key=True),
    sa.Column("response", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", _Ts, nullable=False),
)
