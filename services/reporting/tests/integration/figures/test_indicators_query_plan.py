"""The indicator queries read covering indexes of live rows only (no table lookups): checked with
SQLite's EXPLAIN QUERY PLAN on the statements GetIndicators and GetAttainments really run, for a
user, a team and the company (whose queries name no owner: migration 0005's indexes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm_platform.db import Database, run_migrations
from crm_platform.ids import new_id
from crm_reporting.adapters import tables as t
from crm_reporting.domain.periods import Period, PeriodKind
from crm_reporting.service_layer import attainments, indicators

QUARTER = Period.of(PeriodKind.QUARTER, date(2026, 1, 1))
ZONE = ZoneInfo("UTC")
TEAM = new_id()


def plans_of(tmp_path: Path, run: Callable[[Database], object]) -> dict[str, list[str]]:
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}", "reporting")
    run_migrations(db, "crm_reporting:migrations")
    with db.uow() as uow:
        now = datetime.now(UTC)
        uow.session.execute(sa.insert(t.rm_teams).values(id=TEAM, name="Norte", version=1, event_time=now))
        uow.session.execute(
            sa.insert(t.rm_users),
            [{"id": new_id(), "team_id": TEAM, "version": 1, "event_time": now} for _i in range(3)],
        )
        uow.commit()
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, params))

    sa.event.listen(db.engine, "before_cursor_execute", grab)
    run(db)
    sa.event.remove(db.engine, "before_cursor_execute", grab)
    plans: dict[str, list[str]] = {}
    with db.engine.connect() as conn:
        for statement, params in statements:
            table = statement.split("FROM", 1)[1].split()[0] if "FROM" in statement else ""
            if table in ("rm_deals", "rm_activities", "rm_prospects", "rm_quotes"):
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
                plans.setdefault(table, []).append(" ".join(str(r[-1]) for r in rows))
    db.dispose()
    return plans


def check(plans: dict[str, list[str]], expected: dict[str, str], scans: tuple[str, ...] = ()) -> None:
    for table, found in plans.items():
        for plan in found:
            assert "USING COVERING INDEX" in plan and expected[table] in plan, plan
            if not any(index in plan for index in scans):
                assert "SCAN" not in plan, plan


@pytest.mark.parametrize("scope", [indicators.Scope.USER, indicators.Scope.TEAM])
def test_the_indicators_of_a_user_or_team_search_owner_led_indexes(tmp_path: Path, scope: indicators.Scope) -> None:
    scope_id = new_id() if scope is indicators.Scope.USER else TEAM
    plans = plans_of(tmp_path, lambda db: indicators.get_indicators(db, scope, scope_id, QUARTER, ZONE))
    # Closed deals, and the open ones (pipeline and forecast in one pass).
    assert len(plans["rm_deals"]) == 2
    expected = {
        "rm_deals": "_live (owner_id=?",
        "rm_activities": "ix_rm_activities_done_live (owner_id=?",
        "rm_prospects": "ix_rm_prospects_created_live (owner_id=?",
        "rm_quotes": "ix_rm_quotes_decided_live (owner_id=?",
    }
    check(plans, expected)
    # The open deals of some owners come grouped in the index's order: no sorting.
    assert "TEMP B-TREE" not in plans["rm_deals"][1]


def test_the_indicators_of_the_company_read_indexes_led_by_the_period(tmp_path: Path) -> None:
    plans = plans_of(tmp_path, lambda db: indicators.get_indicators(db, indicators.Scope.COMPANY, "", QUARTER, ZONE))
    expected = {
        "rm_deals": "_live",
        "rm_activities": "ix_rm_activities_done_at_live (done_at>? AND done_at<?)",
        "rm_prospects": "ix_rm_prospects_created_live",
        "rm_quotes": "ix_rm_quotes_decided_live",
    }
    # The open pipeline is every open deal (a scan of the open deals' index, in its group order);
    # prospects and quotes are read whole (small tables).
    check(plans, expected, scans=("ix_rm_deals_open_stage_live", "ix_rm_prospects_", "ix_rm_quotes_"))
    closed, open_ = plans["rm_deals"]
    assert "ix_rm_deals_closed_at_live (closed_at>? AND closed_at<?)" in closed
    assert "ix_rm_deals_open_stage_live" in open_ and "TEMP B-TREE" not in open_


@pytest.mark.parametrize(
    ("scope", "breakdown", "index"),
    [
        (indicators.Scope.TEAM, attainments.Breakdown.USERS, "ix_rm_deals_closed_live (owner_id=? AND closed_at>?"),
        (indicators.Scope.COMPANY, attainments.Breakdown.TEAMS, "ix_rm_deals_closed_at_live (closed_at>?"),
    ],
)
def test_attainments_read_the_won_deals_once_from_a_covering_index(
    tmp_path: Path, scope: indicators.Scope, breakdown: attainments.Breakdown, index: str
) -> None:
    scope_id = TEAM if scope is indicators.Scope.TEAM else ""
    plans = plans_of(tmp_path, lambda db: attainments.get_attainments(db, scope, scope_id, QUARTER, 4, breakdown, ZONE))
    assert list(plans) == ["rm_deals"] and len(plans["rm_deals"]) == 1
    check(plans, {"rm_deals": index})
