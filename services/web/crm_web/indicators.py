"""Indicadores (the management dashboard): the figures of GET /api/v1/indicators for the signed-in
user's scope — a rep their own, a manager each team they lead and its members, an admin the
company, each team and each user — over a month, quarter or year. Each figure is a chart (Chart.js,
fed from a JSON block: the CSP forbids inline script) with its numbers beside it in a table, so the
page reads the same without JavaScript and to a screen reader; money stays per currency.

Budget attainment is drawn as a bar per person: for a team, the members' figures come in one
call (GET /api/v1/indicators/attainments with breakdown=users) beside the team's own indicators;
for the company, each team's (breakdown=teams): two calls in parallel, whatever the team's size.
Every chart links to the report that lists its records (/reports/new with `module`,
`f.<field>=<value>` filters and `group`), once the reports page exists."""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup

from crm_web import labels, lookups, pool
from crm_web import session as web_session
from crm_web.api import Api
from crm_web.formatting import babel_locale, time_zone
from crm_web.shell import url_for_record

bp = Blueprint("indicators", __name__, url_prefix="/indicators")

PERIODS = [("month", lazy_gettext("Mes")), ("quarter", lazy_gettext("Trimestre")), ("year", lazy_gettext("Año"))]
KINDS = ("call", "meeting", "visit", "task", "email")


# --- periods -------------------------------------------------------------------------------------


def period_start(kind: str, day: date) -> date:
    """The first day of the month, quarter or year that holds `day`."""
    if kind == "year":
        return date(day.year, 1, 1)
    if kind == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, day.month, 1)


def shift(kind: str, start: date, n: int) -> date:
    """The start of the period `n` periods after (or before) the one starting at `start`."""
    months = {"month": 1, "quarter": 3, "year": 12}[kind] * n
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_label(kind: str, start: date) -> str:
    locale = babel_locale(web_session.user_locale())
    if kind == "year":
        return str(start.year)
    if kind == "quarter":
        return _("T%(n)s %(year)s", n=(start.month - 1) // 3 + 1, year=start.year)
    return format_date(start, "LLLL y", locale=locale).capitalize()


def today() -> date:
    return datetime.now(time_zone(web_session.user_time_zone())).date()


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- scopes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    kind: str  # user | team | company
    id: str
    name: str


def _name(u: dict[str, Any]) -> str:
    return str(u.get("display_name") or u.get("email") or u.get("id", ""))


def led_teams(api: Api, user_id: str) -> list[dict[str, Any]]:
    """The teams a manager leads (an admin: every team)."""
    params: dict[str, Any] = {"page_size": 500}
    if not web_session.is_admin():
        params["manager_id"] = user_id
    teams = api.list("/api/v1/teams", **params).items
    return sorted(teams, key=lambda t: str(t.get("name", "")))


def scopes(api: Api) -> list[Scope]:
    """The scopes the signed-in user may read, in the picker's order (the API enforces the same)."""
    me = web_session.user()
    my_id = str(me.get("id", ""))
    role = me.get("role")
    self_scope = Scope("user", my_id, str(me.get("display_name") or me.get("email") or ""))
    if role == "rep":
        return [self_scope]
    teams = led_teams(api, my_id)
    users = lookups.users(api)
    out: list[Scope] = []
    if role == "admin":
        out.append(Scope("company", "", _("Toda la empresa")))
    out += [Scope("team", str(t["id"]), str(t.get("name", ""))) for t in teams]
    if role == "admin":
        people = list(users.values())
    else:
        team_ids = {t["id"] for t in teams}
        people = [u for u in users.values() if u.get("team_id") in team_ids and u.get("id") != my_id]
        out.append(self_scope)
    out += sorted((Scope("user", str(u["id"]), _name(u)) for u in people), key=lambda s: s.name.lower())
    return out


# --- figures -------------------------------------------------------------------------------------


def indicators(api: Api, scope: str, scope_id: str, kind: str, start: date) -> dict[str, Any]:
    return dict(api.get("/api/v1/indicators", scope=scope, id=scope_id, period=kind, start=start.isoformat()))


@dataclass
class Bar:
    """One person's (or team's) attainment in one currency."""

    name: str
    target: dict[str, Any]
    achieved: dict[str, Any]
    attainment: str
    total: bool = False


@dataclass
class Dashboard:
    scope: Scope
    kind: str
    start: date
    figures: dict[str, Any]
    bars: dict[str, list[Bar]] = field(default_factory=dict)  # currency -> bars


def _bars(rows: list[tuple[str, dict[str, Any], bool]]) -> dict[str, list[Bar]]:
    out: dict[str, list[Bar]] = {}
    for name, figures, total in rows:
        for a in figures.get("budget_attainments") or []:
            target, achieved = a.get("target") or {}, a.get("achieved") or {}
            currency = target.get("currency_code") or achieved.get("currency_code") or ""
            out.setdefault(currency, []).append(Bar(name, target, achieved, a.get("attainment") or "", total))
    # Everyone shown has a row in each currency, those without a target or a sale too.
    for bars in out.values():
        names = {b.name for b in bars}
        for name, _figures, total in rows:
            if name not in names:
                bars.append(Bar(name, {}, {}, "", total))
        bars.sort(key=lambda b: (b.total, [n for n, _f, _t in rows].index(b.name)))
    return dict(sorted(out.items()))


def attainments(api: Api, scope: str, scope_id: str, kind: str, start: date, breakdown: str) -> dict[str, Any]:
    """The budget attainment of each part of a scope in one period, by the part's id."""
    found = api.get(
        "/api/v1/indicators/attainments",
        scope=scope,
        id=scope_id,
        period=kind,
        start=start.isoformat(),
        breakdown=breakdown,
    )
    return {
        str(a.get("scope_id", "")): {"budget_attainments": a.get("budget_attainments") or []}
        for a in found.get("attainments") or []
        if a.get("scope") != scope
    }


@dataclass
class Calls:
    """The calls of one scope, under way: its indicators and, for a team or the company, the
    attainment of each of its parts (members or teams), named in the page's order."""

    main: Future[dict[str, Any]]
    parts: Future[dict[str, Any]] | None = None
    names: list[tuple[str, str]] = field(default_factory=list)  # (id, name)


def start_calls(api: Api, scope_kind: str, scope_id: str, kind: str, start: date) -> Calls:
    calls = Calls(pool.submit(indicators, api, scope_kind, scope_id, kind, start))
    if scope_kind == "team":
        calls.parts = pool.submit(attainments, api, "team", scope_id, kind, start, "users")
        members = [u for u in lookups.users(api).values() if u.get("team_id") == scope_id]
        calls.names = [(str(u["id"]), _name(u)) for u in sorted(members, key=lambda u: _name(u).lower())]
    elif scope_kind == "company":
        calls.parts = pool.submit(attainments, api, "company", "", kind, start, "teams")
        calls.names = [(str(t["id"]), str(t.get("name", ""))) for t in led_teams(api, "")]
    return calls


def build_dashboard(api: Api, scope: Scope, kind: str, start: date, calls: Calls | None = None) -> Dashboard:
    calls = calls or start_calls(api, scope.kind, scope.id, kind, start)
    figures = calls.main.result()
    parts = calls.parts.result() if calls.parts is not None else {}
    rows = [(name, parts.get(part_id, {}), False) for part_id, name in calls.names]
    if scope.kind == "user":
        rows.append((scope.name, figures, False))
    else:
        rows.append((_("Total"), figures, True))
    return Dashboard(scope, kind, start, figures, _bars(rows))


# --- charts and report links -----------------------------------------------------------------------


def instant_span(first: date, last: date) -> str:
    """The days first..last (inclusive) as a report filter on instants, in the user's time zone."""
    zone = time_zone(web_session.user_time_zone())
    lo = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    hi = datetime.combine(last, datetime.max.time().replace(microsecond=0), zone).astimezone(UTC)
    return f"{lo:%Y-%m-%dT%H:%M:%SZ}..{hi:%Y-%m-%dT%H:%M:%SZ}"


def report_link(module: str, scope: Scope, group: str, agg: str, **filters: str) -> str | None:
    """The report listing a chart's records, grouped as the chart is (the reports page's query:
    `module`, `f.<field>=<value>` with `<from>..<to>` for a range, `group`, `agg`); absent until
    the reports page exists. A team's or the company's records are those the reader may see."""
    params: dict[str, str] = {"module": module}
    if scope.kind == "user":
        params["f.owner_id"] = scope.id
    params.update({f"f.{k}": v for k, v in filters.items() if v})
    if group:
        params["group"] = group
    if agg:
        params["agg"] = agg
    return url_for_record("reports.new_report", **params)


def chart_json(spec: dict[str, Any]) -> Markup:
    """A chart's data as the body of a <script type="application/json"> block ("<" escaped)."""
    text = json.dumps(spec, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text)  # JSON with < and > escaped cannot close the script element


def _amount(money: dict[str, Any] | None) -> float:
    """A money amount as the chart's axis reads it (the tables show the exact figure)."""
    try:
        return float((money or {}).get("amount") or 0)
    except ValueError:
        return 0.0


def _rate(text: str) -> float | None:
    try:
        return round(float(text) * 100, 2) if text != "" else None
    except ValueError:
        return None


def charts(d: Dashboard, users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The data of every chart on the page (labels and numbers; the page's JS draws them)."""
    f = d.figures
    out: dict[str, Any] = {}
    for currency, bars in d.bars.items():
        out[f"attainment-{currency}"] = {
            "type": "bar",
            "horizontal": True,
            "labels": [b.name for b in bars],
            "datasets": [
                {"label": _("Meta"), "data": [_amount(b.target) for b in bars], "tone": "muted"},
                {"label": _("Logrado"), "data": [_amount(b.achieved) for b in bars], "tone": "primary"},
            ],
        }
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for s in f.get("pipeline_stage_values") or []:
        by_currency.setdefault((s.get("amount") or {}).get("currency_code", ""), []).append(s)
    for currency, stages in sorted(by_currency.items()):
        out[f"pipeline-{currency}"] = {
            "type": "bar",
            "labels": [s.get("stage_name") or "—" for s in stages],
            "datasets": [{"label": currency, "data": [_amount(s.get("amount")) for s in stages], "tone": "primary"}],
        }
    rates = [
        (_("Tasa de cierre"), f.get("win_rate", "")),
        (_("Conversión de prospectos"), f.get("prospect_conversion_rate", "")),
        (_("Aceptación de cotizaciones"), f.get("quote_acceptance_rate", "")),
    ]
    out["rates"] = {
        "type": "bar",
        "horizontal": True,
        "percent": True,
        "labels": [name for name, _v in rates],
        "datasets": [{"label": "%", "data": [_rate(v or "") for _n, v in rates], "tone": "primary"}],
    }
    reps = activity_rows(f, users)
    out["activities"] = {
        "type": "bar",
        "stacked": True,
        "labels": [r["name"] for r in reps],
        "datasets": [
            {"label": labels.label("activity_kind", k), "data": [r["counts"].get(k, 0) for r in reps], "tone": k}
            for k in KINDS
        ],
    }
    campaigns = f.get("campaigns") or []
    out["campaigns"] = {
        "type": "bar",
        "percent": True,
        "labels": [c.get("campaign_name") or "—" for c in campaigns],
        "datasets": [{"label": _("ROI"), "data": [_rate(c.get("roi") or "") for c in campaigns], "tone": "primary"}],
    }
    return out


def activity_rows(f: dict[str, Any], users: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Activities done per rep: one row per rep with a count per kind (and their total)."""
    rows: dict[str, dict[str, Any]] = {}
    me = web_session.user()
    for a in f.get("activities_done") or []:
        uid = str(a.get("user_id", ""))
        name = _name(users[uid]) if uid in users else (me.get("display_name") if uid == me.get("id") else uid)
        row = rows.setdefault(uid, {"name": name, "counts": {}, "total": 0})
        kind = str(a.get("activity_kind") or "")
        row["counts"][kind] = row["counts"].get(kind, 0) + int(a.get("done_count") or 0)
        row["total"] += int(a.get("done_count") or 0)
    return sorted(rows.values(), key=lambda r: str(r["name"]).lower())


# --- the page ---------------------------------------------------------------------------------------


def scope_key(s: Scope) -> str:
    """A scope as one value of the picker: "company", "team:<id>", "user:<id>"."""
    return s.kind if s.kind == "company" else f"{s.kind}:{s.id}"


def _chosen(options: list[Scope]) -> Scope:
    """The scope the query names (`who`), or the first the user may read."""
    who = request.args.get("who", "")
    if not who:
        return options[0]
    for s in options:
        if scope_key(s) == who:
            return s
    abort(404)


def period_args() -> tuple[str, date]:
    """The period the query names (`period`, `start` any day in it), else the current month."""
    kind = request.args.get("period", "month")
    if kind not in ("month", "quarter", "year"):
        kind = "month"
    return kind, period_start(kind, parse_day(request.args.get("start", "")) or today())


def period_options(kind: str, start: date) -> list[tuple[str, str]]:
    """The periods offered in the picker: around today and the one shown."""
    now = period_start(kind, today())
    back, ahead = {"month": (18, 6), "quarter": (8, 4), "year": (4, 2)}[kind]
    starts = {shift(kind, now, n) for n in range(-back, ahead + 1)} | {start}
    return [(s.isoformat(), period_label(kind, s)) for s in sorted(starts, reverse=True)]


@bp.get("/")
def dashboard() -> str:
    api = web_session.api()
    kind, start = period_args()
    # The scope a link names is asked for at once, beside the list of scopes the user may read
    # (which then checks it; the API refuses one the user may not read all the same).
    scope_kind, _sep, scope_id = request.args.get("who", "").partition(":")
    calls = start_calls(api, scope_kind, scope_id, kind, start) if scope_kind in ("user", "team", "company") else None
    options = scopes(api)
    scope = _chosen(options)
    if calls is not None and (scope.kind, scope.id) != (scope_kind, scope_id):
        calls = None
    users = pool.submit(lookups.users, api)
    d = build_dashboard(api, scope, kind, start, calls)
    end = parse_day(d.figures.get("period_end") or "") or shift(kind, start, 1) - timedelta(days=1)
    days, moments = f"{start.isoformat()}..{end.isoformat()}", instant_span(start, end)
    links = {
        "attainment": report_link("deals", scope, "owner_id", "sum:amount", status="won", win_time=moments),
        "pipeline": report_link("deals", scope, "stage_id", "sum:amount", status="open"),
        "forecast": report_link("deals", scope, "owner_id", "sum:amount", status="open", expected_close_date=days),
        "closed": report_link("deals", scope, "status", "", close_time=moments),
        "activities": report_link("activities", scope, "owner_id", "", status="done", done_time=moments),
        "prospects": report_link("prospects", scope, "status", "", create_time=moments),
        "quotes": report_link("quotes", scope, "status", "", decide_time=moments),
        "campaigns": report_link("campaigns", scope, "", ""),
    }
    ctx = {
        "d": d,
        "scope": scope,
        "options": [(scope_key(s), s) for s in options],
        "who": scope_key(scope),
        "kind": kind,
        "start": start,
        "period_name": period_label(kind, start),
        "periods": PERIODS,
        "period_options": period_options(kind, start),
        "previous": shift(kind, start, -1).isoformat(),
        "next": shift(kind, start, 1).isoformat(),
        "charts": chart_json(charts(d, users.result())),
        "activity_rows": activity_rows(d.figures, users.result()),
        "kinds": KINDS,
        "links": links,
        "is_rep": web_session.user().get("role") == "rep",
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "indicators-body":
        return render_template("indicators/_body.html", **ctx)
    return render_template("indicators/dashboard.html", **ctx)
