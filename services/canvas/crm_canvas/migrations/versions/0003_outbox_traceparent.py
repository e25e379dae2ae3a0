"""The outbox keeps the traceparent of the transaction that wrote each event, which the relay
sends as a NATS header (the platform tables' version 2, crm_platform.migrations).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from crm_platform.migrations import add_outbox_traceparent_v2, drop_outbox_traceparent_v2

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_traceparent_v2()


def downgrade() -> None:
    drop_outbox_traceparent_v2()
