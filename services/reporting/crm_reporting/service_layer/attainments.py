"""Budget attainment alone, of a scope (a user, a team, the company) and optionally of each of its
parts (a team's members; the company's users or teams), over one or more consecutive periods of
one kind, in one read: one grouped query of the won deals (by owner, currency and period) and one
of the periods' budgets; the rest is arithmetic here.

Each figure is the one GetIndicators gives for that scope and period (service_layer/indicators.py
has the definitions): achieved = the won amount of the deals won in the period, per currency; the
target of a user is their budget, of a team its own budget in a currency where it has one, else
the sum of its members' budgets, of the company the sum of all users' budgets. The pages that draw
a bar per person (the dashboard, the budgets grid) ask this once instead of once per person and
period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_platform.db import Database, utc
from crm_platform.errors import InvalidArgument
from crm_reporting.adapters import tables as t
from crm_reporting.domain.figures import ratio
from crm_reporting.domain.periods import Period
from crm_reporting.service_layer.indicators import Attainment, Scope, Sum, owners_of

MAX_PERIODS = 24

# (currency -> minor units)
Amounts = dict[str, int]


class Breakdown(StrEnum):
    NONE = ""
    USERS = "users"
    TEAMS = "teams"


@dataclass(frozen=True)
class ScopeAttainment:
    scope: Scope
    scope_id: str
    period: Period
    budget_attainments: list[Attainment]


@dataclass
class Attainments:
    items: list[ScopeAttainment] = field(default_factory=list)
    data_time: datetime | None = None


def consecutive(first: Period, count: int) -> list[Period]:
    if count < 0 or count > MAX_PERIODS:
        raise InvalidArgument.field("period_count", f"must be between 1 and {MAX_PERIODS}")
    periods = [first]
    for _n in range(max(count, 1) - 1):
        periods.append(Period(first.kind, periods[-1].next_start))
    return periods


def _attained(target: Amounts, won: Amounts) -> list[Attainment]:
    return [
        Attainment(c, target.get(c, 0), won.get(c, 0), ratio(won.get(c, 0), target.get(c, 0)))
        for c in sorted(set(target) | set(won))
    ]


def _summed(parts: Sequence[Amounts]) -> Amounts:
    out: Amounts = defaultdict(int)
    for amounts in parts:
        for currency, minor in amounts.items():
            out[currency] += minor
    return dict(out)


def _won(s: Session, owners: list[str] | None, periods: list[Period], zone: ZoneInfo) -> dict[tuple[int, str], Amounts]:
    """The won amount per (period index, owner) and currency: one query, the period of each deal
    told by a CASE over the periods' bounds (read from the covering index of closed live deals)."""
    d = t.rm_deals
    bounds = [p.utc_bounds(zone) for p in periods]
    bucket: Any = sa.literal(0)
    if len(periods) > 1:
        bucket = sa.case(*((d.c.closed_at < hi, i) for i, (_lo, hi) in enumerate(bounds[:-1])), else_=len(periods) - 1)
    where: list[Any] = [d.c.deleted == sa.false()]
    if owners is not None:
        where.append(d.c.owner_id.in_(owners))
    rows: Sequence[tuple[str, str, int, Sum]] = s.execute(
        sa.select(d.c.owner_id, d.c.currency_code, bucket.label("period"), sa.func.sum(d.c.amount_minor))
        .where(*where, d.c.closed_at >= bounds[0][0], d.c.closed_at < bounds[-1][1], d.c.status == "won")
        .group_by(d.c.owner_id, d.c.currency_code, "period")
    ).all()
    out: dict[tuple[int, str], Amounts] = defaultdict(dict)
    for owner, currency, index, amount in rows:
        out[(int(index), owner)][currency] = int(amount or 0)
    return out


@dataclass
class _Budgets:
    """The periods' budgets: per (period index, user) and per (period index, team) of its own."""

    users: dict[tuple[int, str], Amounts] = field(default_factory=lambda: defaultdict(dict))
    teams: dict[tuple[int, str], Amounts] = field(default_factory=lambda: defaultdict(dict))


def _budgets(s: Session, periods: list[Period]) -> _Budgets:
    b = t.budgets
    index = {p.start: i for i, p in enumerate(periods)}
    # user (or ""), team (of a team's own budget), period, currency, target (minor units)
    rows: Sequence[tuple[str, str, date, str, Sum]] = s.execute(
        sa.select(b.c.user_id, b.c.team_id, b.c.period_start, b.c.currency_code, sa.func.sum(b.c.target_minor))
        .where(b.c.period_kind == periods[0].kind.value, b.c.period_start.in_(list(index)))
        .group_by(b.c.user_id, b.c.team_id, b.c.period_start, b.c.currency_code)
    ).all()
    out = _Budgets()
    for user_id, team_id, start, currency, target in rows:
        i = index[start]
        into = out.users[(i, user_id)] if user_id else out.teams[(i, team_id)]
        into[currency] = into.get(currency, 0) + int(target or 0)
    return out


def _live_members(s: Session) -> dict[str, list[str]]:
    """Every live team's live users (rm_users.team_id), teams without users included."""
    teams: Sequence[str] = s.scalars(sa.select(t.rm_teams.c.id).where(t.rm_teams.c.deleted == sa.false())).all()
    members: dict[str, list[str]] = {team_id: [] for team_id in teams}
    u = t.rm_users
    users: Sequence[tuple[str, str]] = s.execute(
        sa.select(u.c.id, u.c.team_id).where(u.c.deleted == sa.false(), u.c.team_id != "")
    ).all()
    for user_id, team_id in users:
        members.setdefault(team_id, []).append(user_id)
    return members


def get_attainments(
    db: Database,
    scope: Scope,
    scope_id: str,
    first: Period,
    count: int,
    breakdown: Breakdown,
    zone: ZoneInfo,
) -> Attainments:
    periods = consecutive(first, count)
    if breakdown is Breakdown.USERS and scope is Scope.USER:
        raise InvalidArgument.field("breakdown", "a user has no parts: ask a team's or the company's users")
    if breakdown is Breakdown.TEAMS and scope is not Scope.COMPANY:
        raise InvalidArgument.field("breakdown", "only the company breaks down by team")
    with db.read() as s:
        owners = owners_of(s, scope, scope_id)
        out = Attainments(data_time=utc(s.scalar(sa.select(sa.func.max(t.rm_streams.c.last_event_time)))))
        won = _won(s, owners, periods, zone) if owners != [] else {}
        budgets = _budgets(s, periods)
        teams = _live_members(s) if scope is Scope.COMPANY and breakdown is Breakdown.TEAMS else {}
        users: list[str] = []
        if breakdown is Breakdown.USERS:
            if owners is not None:
                users = sorted(owners)
            else:
                known: set[str] = set(s.scalars(sa.select(t.rm_users.c.id).where(t.rm_users.c.deleted == sa.false())))
                others = {owner for _i, owner in won} | {user for _i, user in budgets.users}
                users = sorted(known | others - {""})

    def user_target(i: int, user_ids: Sequence[str]) -> Amounts:
        return _summed([budgets.users.get((i, u), {}) for u in user_ids])

    def user_won(i: int, user_ids: Sequence[str]) -> Amounts:
        return _summed([won.get((i, u), {}) for u in user_ids])

    def team_target(i: int, team_id: str, members: Sequence[str]) -> Amounts:
        # Per currency: the team's own budget where it has one, else the sum of its members'.
        return user_target(i, members) | budgets.teams.get((i, team_id), {})

    for i, period in enumerate(periods):
        if scope is Scope.USER:
            target, achieved = user_target(i, [scope_id]), user_won(i, [scope_id])
        elif scope is Scope.TEAM:
            members = owners or []
            target, achieved = team_target(i, scope_id, members), user_won(i, members)
        else:
            target = user_target(i, sorted({u for j, u in budgets.users if j == i and u}))
            achieved = user_won(i, sorted({o for j, o in won if j == i}))
        out.items.append(ScopeAttainment(scope, scope_id, period, _attained(target, achieved)))
        for user_id in users:
            attained = _attained(user_target(i, [user_id]), user_won(i, [user_id]))
            out.items.append(ScopeAttainment(Scope.USER, user_id, period, attained))
        for team_id, members in sorted(teams.items()):
            attained = _attained(team_target(i, team_id, members), user_won(i, members))
            out.items.append(ScopeAttainment(Scope.TEAM, team_id, period, attained))
    return out
