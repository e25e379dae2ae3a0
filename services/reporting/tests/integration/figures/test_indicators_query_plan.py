"""The indicator queries read covering indexes of live rows only (no table lookups, no scans):
checked with SQLite's EXPLAIN QUERY PLAN on the statements GetIndicators really runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm_platform.db import Database, run_migrations
from crm_platform.ids import new_id
from crm_reporting.domain.periods import Period, PeriodKind
from crm_reporting.service_layer import indicators


def test_indicator_queries_use_covering_indexes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}", "reporting")
    run_migrations(db, "crm_reporting:migrations")
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, params))

    sa.event.listen(db.engine, "before_cursor_execute", grab)
    indicators.get_indicators(
        db, indicators.Scope.USER, new_id(), Period.of(PeriodKind.QUARTER, date(2026, 1, 1)), ZoneInfo("UTC")
    )
    sa.event.remove(db.engine, "before_cursor_execute", grab)
    plans = {}
    with db.engine.connect() as conn:
        for statement, params in statements:
            table = statement.split("FROM", 1)[1].split()[0] if "FROM" in statement else ""
            if table in ("rm_deals", "rm_activities", "rm_prospects", "rm_quotes"):
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
                plans.setdefault(table, []).append(" ".join(str(r[-1]) for r in rows))
    db.dispose()
    assert len(plans["rm_deals"]) == 3
    expected = {
        "rm_deals": "_live",
        "rm_activities": "ix_rm_activities_done_live",
        "rm_prospects": "ix_rm_prospects_created_live",
        "rm_quotes": "ix_rm_quotes_decided_live",
    }
    for table, found in plans.items():
        for plan in found:
            assert "USING COVERING INDEX" in plan and expected[table] in plan, plan
            assert "SCAN" not in plan, plan
