"""The business figures the operators' dashboard shows, from the read models: the open pipeline per
currency in major units (won, lost and deleted deals left out) and the live prospects per channel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import REGISTRY

from crm_platform.db import Database, run_migrations
from crm_platform.ids import new_id
from crm_reporting.adapters import tables as t
from crm_reporting.entrypoints import gauges

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_open_pipeline_per_currency_and_prospects_per_channel(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gauges.db'}", "reporting")
    run_migrations(db, "crm_reporting:migrations")
    deals = [
        ("open", "COP", 1_500_000, False),
        ("open", "COP", 500_000, False),
        ("open", "USD", 12_345, False),  # 123.45
        ("won", "USD", 99_900, False),
        ("open", "USD", 10_000, True),  # deleted: a tombstone
    ]
    prospects = [("web", False), ("web", False), ("rd_station", False), ("trade_fair", True)]
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(t.rm_deals),
            [
                {
                    "id": new_id(),
                    "status": s,
                    "currency_code": c,
                    "amount_minor": m,
                    "deleted": d,
                    "version": 1,
                    "event_time": NOW,
                }
                for s, c, m, d in deals
            ],
        )
        conn.execute(
            sa.insert(t.rm_prospects),
            [{"id": new_id(), "source": s, "deleted": d, "version": 1, "event_time": NOW} for s, d in prospects],
        )
    gauges.refresh_business(db)
    assert _value("crm_reporting_pipeline_open_amount", currency="COP") == 2_000_000
    assert _value("crm_reporting_pipeline_open_amount", currency="USD") == 123.45
    assert _value("crm_reporting_prospects", source="web") == 2
    assert _value("crm_reporting_prospects", source="rd_station") == 1
    assert _value("crm_reporting_prospects", source="trade_fair") is None
    # The last open USD deal won: its series goes, rather than staying at the old figure.
    with db.engine.begin() as conn:
        conn.execute(sa.update(t.rm_deals).where(t.rm_deals.c.currency_code == "USD").values(status="won"))
    gauges.refresh_business(db)
    assert _value("crm_reporting_pipeline_open_amount", currency="USD") is None
    assert _value("crm_reporting_pipeline_open_amount", currency="COP") == 2_000_000
    db.dispose()
