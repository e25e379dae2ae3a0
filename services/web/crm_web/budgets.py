"""Presupuestos (budgets): a grid of people (or teams) by the months or quarters of a year, one
currency at a time, to set and change sales targets through /api/v1/budgets, with the attainment
(GET /api/v1/indicators) beside each target of a period that has begun.

Who may edit what is the API's rule (admins: everyone; managers: the users of the teams they lead
and those teams; reps: nothing); the page offers an input only where that rule allows one, and
shows the API's answer beside the cell all the same. Each cell is its own small form: with htmx it
saves in place and shows its error beside it; without JavaScript it posts and the grid
comes back with the error in the same cell. An emptied cell deletes its budget.

The attainments come from GET /api/v1/indicators/attainments, every begun period of the year in one
call per scope: an admin's grid one call (the company broken down by users or teams), a manager's
one per team they lead (broken down by members) and one for themselves when outside those teams,
a rep's one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.formatting import babel_locale
from crm_web.indicators import led_teams, period_label, today

bp = Blueprint("budgets", __name__, url_prefix="/budgets")

CURRENCIES = ("COP", "USD", "MXN", "CLP", "PEN", "ARS", "EUR")
KINDS = [("month", lazy_gettext("Meses")), ("quarter", lazy_gettext("Trimestres"))]


@dataclass(frozen=True)
class Row:
    key: str  # "user:<id>" | "team:<id>"
    name: str
    editable: bool

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def id(self) -> str:
        return self.key.split(":", 1)[1]


@dataclass
class Cell:
    row: Row
    kind: str
    start: date
    currency: str
    budget: dict[str, Any] | None = None
    attainment: dict[str, Any] | None = None
    error: str = ""
    value: str | None = None  # what was typed, when it was not saved
    saved: bool = False

    @property
    def key(self) -> str:
        return f"{self.row.key}|{self.start.isoformat()}"

    @property
    def dom_id(self) -> str:
        return "cell-" + self.key.replace(":", "-").replace("|", "-")

    @property
    def period_name(self) -> str:
        return period_label(self.kind, self.start)

    @property
    def shown(self) -> str:
        if self.value is not None:
            return self.value
        return str(((self.budget or {}).get("target") or {}).get("amount") or "")


def _args() -> tuple[int, str, str, str]:
    try:
        year = int(request.values.get("year", "") or today().year)
    except ValueError:
        year = today().year
    year = min(max(year, 2000), 2100)
    kind = request.values.get("period", "month")
    kind = kind if kind in ("month", "quarter") else "month"
    rows = "teams" if request.values.get("rows") == "teams" and web_session.is_manager() else "people"
    return year, kind, rows, request.values.get("currency", "").strip().upper()[:3]


def starts(year: int, kind: str) -> list[date]:
    step = 3 if kind == "quarter" else 1
    return [date(year, m, 1) for m in range(1, 13, step)]


def column_label(kind: str, start: date) -> str:
    if kind == "quarter":
        return _("T%(n)s", n=(start.month - 1) // 3 + 1)
    return format_date(start, "LLL", locale=babel_locale(web_session.user_locale())).rstrip(".").capitalize()


def _name(u: dict[str, Any]) -> str:
    return str(u.get("display_name") or u.get("email") or u.get("id", ""))


def rows_for(api: Api, mode: str) -> list[Row]:
    """The people or teams the user sees in the grid, and whether they may set their targets."""
    me = web_session.user()
    my_id, role = str(me.get("id", "")), me.get("role")
    if role == "rep":
        return [Row(f"user:{my_id}", _name(me), False)]
    teams = led_teams(api, my_id)
    if mode == "teams":
        return [Row(f"team:{t['id']}", str(t.get("name", "")), True) for t in teams]
    users = lookups.users(api)
    if role == "admin":
        people = [Row(f"user:{u['id']}", _name(u), True) for u in users.values()]
    else:
        team_ids = {t["id"] for t in teams}
        people = [
            Row(f"user:{u['id']}", _name(u), True)
            for u in users.values()
            if u.get("team_id") in team_ids and u.get("id") != my_id
        ]
        people.append(Row(f"user:{my_id}", _name(me), False))
    return sorted(people, key=lambda r: r.name.lower())


def _all_budgets(api: Api, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = ""
    for _page in range(40):
        page = api.list("/api/v1/budgets", page_size=500, page_token=token, **params)
        out += page.items
        token = page.next_page_token
        if not token:
            break
    return out


def budgets_for(api: Api, year: int, kind: str) -> list[dict[str, Any]]:
    """Every budget of the year's periods the user may read (the API narrows by role)."""
    span = {"period_kind": kind, "period_start_from": f"{year}-01-01", "period_start_to": f"{year}-12-31"}
    me = web_session.user()
    if me.get("role") != "manager":
        return _all_budgets(api, **span)
    calls = [pool.submit(_all_budgets, api, team_id=t["id"], **span) for t in led_teams(api, str(me["id"]))]
    calls.append(pool.submit(_all_budgets, api, user_id=me["id"], **span))
    seen: dict[str, dict[str, Any]] = {}
    for call in calls:
        for b in call.result():
            seen[b["id"]] = b
    return list(seen.values())


def owner_key(b: dict[str, Any]) -> str:
    return f"user:{b['user_id']}" if b.get("user_id") else f"team:{b.get('team_id', '')}"


# (scope kind, scope id, period start) -> the budget_attainments the API gives for them
Attained = dict[tuple[str, str, str], list[dict[str, Any]]]


def attained(api: Api, scope: str, scope_id: str, kind: str, first: date, count: int, breakdown: str) -> Attained:
    """The attainments of a scope (and of its parts) over `count` periods from `first`."""
    found = api.get(
        "/api/v1/indicators/attainments",
        scope=scope,
        id=scope_id,
        period=kind,
        start=first.isoformat(),
        count=count,
        breakdown=breakdown,
    )
    return {
        (str(a.get("scope")), str(a.get("scope_id")), str(a.get("period_start"))): a.get("budget_attainments") or []
        for a in found.get("attainments") or []
    }


def attainment_calls(api: Api, keys: set[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The fewest calls (scope, id, breakdown) that answer for every (kind, id) of `keys`: one for
    a single row; for an admin the company's breakdown(s); for a manager each led team with its
    members, then anyone left (themselves) alone."""
    if len(keys) == 1:
        ((kind, key_id),) = keys
        return [(kind, key_id, "none")]
    if web_session.is_admin():
        kinds = {kind for kind, _id in keys}
        return [("company", "", "users" if kind == "user" else "teams") for kind in sorted(kinds)]
    calls: list[tuple[str, str, str]] = []
    covered: set[tuple[str, str]] = set()
    users = lookups.users(api)
    for team in led_teams(api, str(web_session.user().get("id", ""))):
        team_id = str(team["id"])
        members = {("user", uid) for uid, u in users.items() if u.get("team_id") == team_id}
        if ("team", team_id) in keys or members & keys:
            calls.append(("team", team_id, "users" if members & keys else "none"))
            covered |= {("team", team_id)} | (members if members & keys else set())
    calls += [(kind, key_id, "none") for kind, key_id in sorted(keys - covered)]
    return calls


def fill_attainments(api: Api, cells: list[Cell]) -> None:
    """Each cell's attainment in its currency, for the cells with a target in a period begun."""
    now = today()
    wanted = [c for c in cells if c.budget and c.start <= now]
    if not wanted:
        return
    kind = wanted[0].kind
    first, last = min(c.start for c in wanted), max(c.start for c in wanted)
    step = 3 if kind == "quarter" else 1
    count = ((last.year - first.year) * 12 + last.month - first.month) // step + 1
    calls = [
        pool.submit(attained, api, scope, scope_id, kind, first, count, breakdown)
        for scope, scope_id, breakdown in attainment_calls(api, {(c.row.kind, c.row.id) for c in wanted})
    ]
    found: Attained = {}
    for call in calls:
        try:
            found |= call.result()
        except ApiError as exc:
            if exc.status == 401:
                raise
            # Those figures are missing; the targets still show.
    for c in wanted:
        figures = found.get((c.row.kind, c.row.id, c.start.isoformat())) or []
        c.attainment = next(
            (dict(a) for a in figures if (a.get("target") or {}).get("currency_code") == c.currency), None
        )


def render_grid(overrides: dict[str, Cell] | None = None) -> str:
    api = web_session.api()
    year, kind, mode, currency = _args()
    rows = rows_for(api, mode)
    budgets = budgets_for(api, year, kind)
    if not currency:
        counts = Counter((b.get("target") or {}).get("currency_code", "") for b in budgets)
        currency = counts.most_common(1)[0][0] if counts else "COP"
    found = {
        (owner_key(b), (b.get("period_start") or ""), (b.get("target") or {}).get("currency_code")): b for b in budgets
    }
    columns = starts(year, kind)
    table: list[tuple[Row, list[Cell]]] = []
    for row in rows:
        cells = [Cell(row, kind, s, currency, found.get((row.key, s.isoformat(), currency))) for s in columns]
        cells = [(overrides or {}).get(c.key, c) for c in cells]
        table.append((row, cells))
    fill_attainments(api, [c for _r, cells in table for c in cells if not c.error])
    currencies = sorted(
        set(CURRENCIES) | {(b.get("target") or {}).get("currency_code", "") for b in budgets} - {""} | {currency}
    )
    return render_template(
        "budgets/grid.html",
        table=table,
        columns=[(s, column_label(kind, s), period_label(kind, s)) for s in columns],
        year=year,
        kind=kind,
        kinds=KINDS,
        mode=mode,
        currency=currency,
        currencies=currencies,
        editable=any(r.editable for r in rows),
        can_manage=web_session.is_manager(),
    )


@bp.get("/")
def grid() -> str:
    return render_grid()


def _find_row(api: Api, key: str, mode: str) -> Row | None:
    return next((r for r in rows_for(api, mode) if r.key == key), None)


def _problem(exc: ApiError) -> str:
    if exc.status == 409:
        return _("Ya hay una meta para este periodo y moneda: recarga la página para verla.")
    if exc.status == 412:
        return _("Otra persona cambió esta meta mientras la editabas: recarga la página para ver su valor.")
    if exc.status == 403:
        return _("No puedes fijar esta meta.")
    if exc.field_errors:
        return "; ".join(exc.field_errors.values())
    return exc.detail


def save(api: Api, cell: Cell, amount: str, budget_id: str, version: str) -> Cell:
    """Create, change or (an emptied cell) delete the cell's budget; the cell as it now is."""
    target = {"amount": amount, "currency_code": cell.currency}
    try:
        if budget_id and not amount:
            api.delete(f"/api/v1/budgets/{budget_id}")
            cell.budget = None
        elif budget_id:
            headers = {"If-Match": f'"{version}"'} if version else None
            cell.budget = api.patch(f"/api/v1/budgets/{budget_id}", {"target": target}, headers=headers)
        elif amount:
            body: dict[str, Any] = {
                f"{cell.row.kind}_id": cell.row.id,
                "period_kind": cell.kind,
                "period_start": cell.start.isoformat(),
                "target": target,
            }
            cell.budget = api.post("/api/v1/budgets", body)
        cell.saved = bool(budget_id or amount)
    except ApiError as exc:
        if exc.status not in (400, 403, 404, 409, 412):
            raise
        cell.error, cell.value = _problem(exc), amount
        cell.budget = {"id": budget_id, "version": version} if budget_id else None
    return cell


@bp.post("/cell")
def save_cell() -> str | Response:
    api = web_session.api()
    year, kind, mode, currency = _args()
    row = _find_row(api, request.form.get("owner", ""), mode)
    start_text = request.form.get("start", "")
    try:
        start = date.fromisoformat(start_text)
    except ValueError:
        start = None
    if row is None or start is None or start not in starts(start.year, kind) or not currency:
        flash(_("Esa meta no está en la cuadrícula."), "error")
        return redirect(url_for("budgets.grid", year=year, period=kind, rows=mode, currency=currency))
    cell = Cell(row, kind, start, currency)
    if not row.editable:
        cell.error = _("No puedes fijar esta meta.")
    else:
        amount = request.form.get("amount", "").strip().replace(" ", "")
        cell = save(api, cell, amount, request.form.get("budget_id", ""), request.form.get("version", ""))
    if not cell.error:
        fill_attainments(api, [cell])
    if request.headers.get("HX-Request"):
        return render_template("budgets/_cell.html", cell=cell, year=year, mode=mode)
    if cell.error:
        return render_grid({cell.key: cell})
    flash(_("Meta guardada."), "success")
    return redirect(url_for("budgets.grid", year=year, period=kind, rows=mode, currency=currency))
