"""The shell around every page: the home page, the global search (one box, results grouped by
kind, asked of the API's lists in parallel) and the language switch (kept in the user's profile,
which has a locale field; before sign-in, in the session)."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from crm_web import lookups, pool
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.auth import safe_next

bp = Blueprint("shell", __name__)

# What the global search looks in: kind, API list path, the detail page's endpoint (when built)
# and its id argument, the heading. Kinds whose page does not exist yet are still searched and
# listed, without a link.
SEARCH_KINDS: list[tuple[str, str, str, str, Any]] = [
    ("clients", "/api/v1/clients", "clients.show_client", "client_id", lazy_gettext("Clientes")),
    ("contacts", "/api/v1/contacts", "contacts.show_contact", "contact_id", lazy_gettext("Contactos")),
    ("prospects", "/api/v1/prospects", "prospects.show_prospect", "prospect_id", lazy_gettext("Prospectos")),
    ("deals", "/api/v1/deals", "deals.show_deal", "deal_id", lazy_gettext("Negocios")),
    ("products", "/api/v1/products", "products.show_product", "product_id", lazy_gettext("Productos")),
]
SEARCH_LIMIT = 5
# Rows per part of Inicio; a longer list links to its page.
HOME_ROWS = 20


def title_of(kind: str, item: dict[str, Any]) -> str:
    """The name a person recognises a record by."""
    person = " ".join(x for x in (item.get("first_name"), item.get("last_name")) if x)
    if kind == "contacts":
        return person or item.get("email") or item.get("id", "")
    if kind == "prospects":
        company = item.get("company_name") or ""
        return f"{company} · {person}" if company and person else company or person or item.get("email", "")
    if kind == "deals":
        return item.get("title") or item.get("id", "")
    return item.get("name") or item.get("email") or item.get("id", "")


def _search_one(api: Api, path: str, q: str) -> tuple[list[dict[str, Any]], ApiError | None]:
    try:
        return api.list(path, q=q, page_size=SEARCH_LIMIT).items, None
    except ApiError as exc:
        if exc.status == 401:
            raise
        return [], exc


def _optional(future: Future[Any]) -> Any:
    """A part of Inicio that may fail alone: None (shown as "not available now"), unless the
    session ended."""
    try:
        return future.result()
    except ApiError as exc:
        if exc.status == 401:
            raise
        return None


@bp.get("/")
def home() -> str:
    """Inicio: the user's day. Overdue and today's activities (complete and reschedule in place),
    their open deals expected to close this month, their quotes waiting for an answer, and their
    budget attainment this month; a manager also gets the way to the team's indicators. Every
    part is one API call, all made at once."""
    from crm_web import activities

    api = web_session.api()
    me = web_session.user()
    mine = [me.get("id")]
    today = activities.now_local().date()
    month_start = today.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    tomorrow = activities.rfc3339(activities.day_start(today + timedelta(days=1)))
    overdue = pool.submit(api.list, "/api/v1/activities", owner_id=mine, due="overdue", page_size=HOME_ROWS)
    due_today = pool.submit(
        api.list, "/api/v1/activities", owner_id=mine, due="upcoming", due_before=tomorrow, page_size=HOME_ROWS
    )
    deals = pool.submit(
        api.list,
        "/api/v1/deals",
        owner_id=mine,
        status="open",
        expected_close_from=month_start.isoformat(),
        expected_close_to=month_end.isoformat(),
        page_size=HOME_ROWS,
    )
    quotes = pool.submit(api.list, "/api/v1/quotes", owner_id=mine, status="sent", page_size=HOME_ROWS)
    indicators = pool.submit(api.get, "/api/v1/indicators", scope="user", period="month", start=month_start.isoformat())
    stages = pool.submit(lookups.stages, api)
    groups = {"overdue": _optional(overdue), "today": _optional(due_today)}
    shown = {k: (v.items if v is not None else []) for k, v in groups.items()}
    report = _optional(indicators)
    return render_template(
        "home.html",
        groups=groups,
        more={k: bool(v and v.next_page_token) for k, v in groups.items()},
        records=activities.with_records(api, shown),
        outcomes=activities.OUTCOMES,
        now=activities.rfc3339(datetime.now(UTC)),
        deals=_optional(deals),
        quotes=_optional(quotes),
        attainments=(report or {}).get("budget_attainments") if report is not None else None,
        stages=_optional(stages) or {},
        month_start=month_start,
        users={},
    )


@bp.get("/search")
def search() -> str:
    q = request.args.get("q", "").strip()
    groups: list[dict[str, Any]] = []
    if q:
        api = web_session.api()
        futures = [(kind, pool.submit(_search_one, api, path, q)) for kind, path, *_ in SEARCH_KINDS]
        for (kind, _path, endpoint, arg, heading), (_k, future) in zip(SEARCH_KINDS, futures, strict=True):
            items, error = future.result()
            groups.append(
                {
                    "kind": kind,
                    "heading": heading,
                    "error": error,
                    "items": [{"title": title_of(kind, i), "item": i, "endpoint": endpoint, "arg": arg} for i in items],
                }
            )
    template = "search/_results.html" if request.headers.get("HX-Request") else "search/page.html"
    return render_template(template, q=q, groups=groups)


@bp.post("/language")
def set_language() -> Response:
    lang = request.form.get("language", "")
    locale = {"es": "es-CO", "en": "en-US"}.get(lang)
    if locale is None:
        return redirect(safe_next(request.form.get("next")))
    if web_session.signed_in():
        me = web_session.user()
        # Keep the country of a Spanish locale the user chose (es-MX stays es-MX).
        current = me.get("locale") or ""
        if web_session.language() == lang:
            locale = current or locale
        try:
            updated = web_session.api().patch(f"/api/v1/users/{me['id']}", {"locale": locale})
            web_session.update_user(updated)
        except ApiError as exc:
            if exc.status == 401:
                raise
            session["locale"] = locale
            web_session.user()["locale"] = locale
            session.modified = True
    else:
        session["locale"] = locale
    return redirect(safe_next(request.form.get("next")))


def url_for_record(endpoint: str, **kw: Any) -> str | None:
    try:
        return url_for(endpoint, **kw)
    except BuildError:  # the page is not built (yet): no link
        return None
