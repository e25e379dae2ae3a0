"""Deals (Negocio): the pipeline board (one column per open stage with its count and its sum per
currency; drag a card, or use its "Mover a…" menu, to move it with `:move` and If-Match; won and
lost as drop targets), the list with the API's filters, the deal page (inline edit of its fields,
line items, contacts, stage history with the time in each stage, activities, quotes, timeline,
win / lose / reopen) and the new-deal form.

Every move is one API call made as the user: a stale version is the API's 412, which the page
turns into a message saying who moved the deal where (read back from the deal's stage history)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from babel.dates import format_timedelta
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import formatting, lookups, pool, records
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.auth import safe_next
from crm_web.formatting import babel_locale, from_local_input
from crm_web.forms import Form

bp = Blueprint("deals", __name__, url_prefix="/deals")

# The list's filters: the API's query parameters of GET /api/v1/deals.
FILTERS = [
    "q",
    "status",
    "pipeline_id",
    "stage_id",
    "owner_id",
    "client_id",
    "expected_close_from",
    "expected_close_to",
]
PAGE_SIZE = 50
# The board shows at most this many open deals (500 per API page); more asks for a filter.
BOARD_MAX_DEALS = 2000
STATUSES = [("open", lazy_gettext("Abierto")), ("won", lazy_gettext("Ganado")), ("lost", lazy_gettext("Perdido"))]
CURRENCIES = ["COP", "USD", "EUR", "MXN", "CLP", "PEN", "ARS"]
ACTIVITY_KINDS = [
    ("call", lazy_gettext("Llamada")),
    ("meeting", lazy_gettext("Reunión")),
    ("visit", lazy_gettext("Visita")),
    ("task", lazy_gettext("Tarea")),
    ("email", lazy_gettext("Correo")),
]
# The deal's fields edited in place on its page: name -> the form inputs it has.
INLINE_FIELDS: dict[str, list[str]] = {
    "title": ["title"],
    "amount": ["amount.amount", "amount.currency_code"],
    "probability": ["probability"],
    "expected_close_date": ["expected_close_date"],
    "owner_id": ["owner_id"],
}

# Client names shown on the cards. Clients are readable by every signed-in user (the API does not
# narrow them by role), so one per-process memo serves everyone, as lookups.py does for users.
CLIENT_NAMES_TTL = 120.0
_clients_lock = threading.Lock()
_client_names: dict[str, tuple[float, str]] = {}


def _client_name_map(api: Api, ids: Iterable[str]) -> dict[str, str]:
    """id -> name of the clients named, from the memo; the missing ones are read: a few one by one
    (in parallel), many by listing every client once."""
    wanted = {i for i in ids if i}
    now = time.monotonic()
    with _clients_lock:
        known = {i: v[1] for i, v in _client_names.items() if i in wanted and now - v[0] < CLIENT_NAMES_TTL}
    missing = wanted - set(known)
    found: dict[str, str] = {}
    if 0 < len(missing) <= 16:
        futures = {i: pool.submit(api.get, f"/api/v1/clients/{i}") for i in missing}
        for i, fut in futures.items():
            try:
                found[i] = fut.result().get("name", "")
            except ApiError as exc:
                if exc.status == 401:
                    raise
    elif missing:
        token = ""
        for _page in range(40):  # at most 20,000 clients
            page = api.list("/api/v1/clients", page_size=500, page_token=token, include_archived=True)
            found.update({c["id"]: c.get("name", "") for c in page.items})
            token = page.next_page_token
            if not token:
                break
    with _clients_lock:
        for i, name in found.items():
            _client_names[i] = (now, name)
    return {**known, **{i: n for i, n in found.items() if i in wanted}}


@functools.lru_cache(maxsize=8192)
def _money_text(amount: str, currency: str, locale: str) -> str:
    return formatting.money(amount, locale, currency)


def _pipelines(api: Api) -> list[dict[str, Any]]:
    return list(api.list("/api/v1/pipelines", page_size=500).items)


def _choose_pipeline(pipelines: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    by_id = {p["id"]: p for p in pipelines}
    return by_id.get(wanted) or next((p for p in pipelines if p.get("is_default")), None) or next(iter(pipelines), None)


def _stage_of_kind(pipeline: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((s for s in pipeline.get("stages") or [] if s.get("kind") == kind), None)


def _open_stages(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in pipeline.get("stages") or [] if s.get("kind") == "open"]


def _people(api: Api) -> list[tuple[str, str]]:
    """Whose deals the owner filter offers: an admin, everyone; a manager, their team and
    themselves; a rep has no filter (the API shows them only their own)."""
    me = web_session.user()
    if not web_session.is_manager():
        return []
    people = list(lookups.users(api).values())
    if not web_session.is_admin():
        people = [
            u
            for u in people
            if u["id"] == me.get("id") or (me.get("team_id") and u.get("team_id") == me.get("team_id"))
        ]
    return sorted(((u["id"], u.get("display_name") or u.get("email") or u["id"]) for u in people), key=lambda x: x[1])


def initials(name: str) -> str:
    parts = [p for p in name.replace("@", " ").split() if p[:1].isalpha()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def _sums(deals: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The amounts of the deals summed per currency (never mixed), in currency order."""
    totals: dict[str, Decimal] = {}
    for d in deals:
        money = d.get("amount") or {}
        code = money.get("currency_code") or ""
        try:
            value = Decimal(str(money.get("amount") or "0"))
        except InvalidOperation:
            continue
        if code:
            totals[code] = totals.get(code, Decimal(0)) + value
    return [{"currency_code": c, "amount": format(totals[c], "f")} for c in sorted(totals)]


def _board_filters() -> dict[str, str]:
    return {
        k: request.args.get(k, "").strip() for k in ("pipeline_id", "owner_id", "q") if request.args.get(k, "").strip()
    }


def _open_deals(api: Api, pipeline_id: str, owner_id: str, q: str) -> tuple[list[dict[str, Any]], bool]:
    """The open deals of the pipeline (the first BOARD_MAX_DEALS), and whether there are more."""
    deals: list[dict[str, Any]] = []
    token = ""
    while True:
        page = api.list(
            "/api/v1/deals",
            pipeline_id=pipeline_id,
            status="open",
            owner_id=owner_id,
            q=q,
            page_size=500,
            page_token=token,
        )
        deals.extend(page.items)
        token = page.next_page_token
        if not token:
            return deals, False
        if len(deals) >= BOARD_MAX_DEALS:
            return deals, True


def _overdue_deal_ids(api: Api) -> set[str]:
    """The deals with a scheduled activity already past due: one list of the caller's overdue
    activities (due=overdue), not one call per card. A deal whose next activity is overdue is
    exactly a deal with some overdue activity."""
    ids: set[str] = set()
    token = ""
    for _page in range(10):
        page = api.list("/api/v1/activities", due="overdue", page_size=500, page_token=token)
        ids.update(a["deal_id"] for a in page.items if a.get("deal_id"))
        token = page.next_page_token
        if not token:
            break
    return ids


def _board_columns(api: Api) -> dict[str, Any]:
    """The chosen pipeline (the default unless named) and its open stages with their open deals,
    counts and sums per currency, as the filters narrow them."""
    args = _board_filters()
    pipelines = _pipelines(api)
    pipeline = _choose_pipeline(pipelines, args.get("pipeline_id", ""))
    deals: list[dict[str, Any]] = []
    truncated = False
    if pipeline is not None:
        deals, truncated = _open_deals(api, pipeline["id"], args.get("owner_id", ""), args.get("q", ""))
    stages = _open_stages(pipeline) if pipeline else []
    by_stage: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in stages}
    for d in deals:
        by_stage.setdefault(d.get("stage_id", ""), []).append(d)
    columns = [{"stage": s, "deals": by_stage[s["id"]], "sums": _sums(by_stage[s["id"]])} for s in stages]
    return {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "deals": deals,
        "filters": args,
        "truncated": truncated,
        "total": len(deals),
    }


def _board_context(api: Api) -> dict[str, Any]:
    users = pool.submit(lookups.users, api)
    overdue = pool.submit(_overdue_deal_ids, api)
    ctx = _board_columns(api)
    deals: list[dict[str, Any]] = ctx.pop("deals")
    pipeline = ctx["pipeline"]
    clients = _client_name_map(api, (d.get("client_id", "") for d in deals))
    try:
        overdue_ids = overdue.result()
    except ApiError as exc:
        if exc.status == 401:
            raise
        overdue_ids = set()
    # Each card's figures, formatted here once per board with the user's locale (and the same
    # amount formatted once per process): Babel's currency formatting was most of the render time.
    locale, zone = web_session.user_locale(), web_session.user_time_zone()
    for d in deals:
        money = d.get("amount") or {}
        d["amount_text"] = _money_text(str(money.get("amount") or ""), money.get("currency_code") or "", locale)
        d["close_text"] = formatting.day(d.get("expected_close_date") or "", locale, zone)
    people = users.result()
    owners = {}
    for owner_id in {d.get("owner_id", "") for d in deals}:
        name = (people.get(owner_id) or {}).get("display_name", "")
        owners[owner_id] = (name, initials(name))
    ctx.update(
        won_stage=_stage_of_kind(pipeline, "won") if pipeline else None,
        lost_stage=_stage_of_kind(pipeline, "lost") if pipeline else None,
        clients=clients,
        owners=owners,
        overdue=overdue_ids,
        people=_people(api),
    )
    return ctx


@bp.get("/board")
def board() -> str:
    ctx = _board_context(web_session.api())
    return render_template("deals/board.html", **ctx)


@bp.get("/board/totals")
def board_totals() -> Response:
    """The columns' counts and sums as the server reads them now (the board asks after a move):
    the open deals only, without what only the cards need."""
    ctx = _board_columns(web_session.api())
    out = {c["stage"]["id"]: render_template("deals/_column_totals.html", column=c).strip() for c in ctx["columns"]}
    return jsonify(out)


def _conflict_message(api: Api, deal_id: str) -> tuple[str, dict[str, Any] | None]:
    """Who changed the deal and what, read back from the deal as it is now."""
    try:
        deal = api.get(f"/api/v1/deals/{deal_id}")
    except ApiError as exc:
        if exc.status == 404:
            return _("Este negocio ya no existe o ya no puedes verlo."), None
        raise
    stages = lookups.stages(api)
    stage = (stages.get(deal.get("stage_id", "")) or {}).get("name", "")
    last = (deal.get("stage_history") or [{}])[-1]
    who = lookups.user_name(api, last.get("moved_by", "")) or _("alguien")
    if deal.get("status") == "won":
        text = _("%(who)s lo marcó como ganado.", who=who)
    elif deal.get("status") == "lost":
        text = _("%(who)s lo marcó como perdido.", who=who)
    elif _same_change(last.get("move_time"), deal.get("update_time")):
        text = _("%(who)s lo movió a %(stage)s.", who=who, stage=stage)
    else:
        text = _("Alguien cambió sus datos; sigue en %(stage)s.", stage=stage)
    title = deal.get("title", "")
    return _("«%(title)s» cambió mientras lo movías: %(what)s No se movió.", title=title, what=text), deal


def _referring_page() -> str:
    """The page of this site the request came from (the board with its filters), as a path."""
    ref = urlsplit(request.referrer or "")
    if ref.netloc != request.host:
        return ""
    return ref.path + (f"?{ref.query}" if ref.query else "")


def _same_change(move_time: Any, update_time: Any) -> bool:
    """Whether the deal's last change was its last stage move (both times within a second)."""
    try:
        moved = datetime.fromisoformat(str(move_time).replace("Z", "+00:00"))
        updated = datetime.fromisoformat(str(update_time).replace("Z", "+00:00"))
    except ValueError:
        return False
    return abs((updated - moved).total_seconds()) <= 1


def _wants_json() -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _move(api: Api, deal_id: str, to: str, version: str, reason: str) -> dict[str, Any]:
    headers = records.if_match(version)
    if to == "won":
        return dict(api.post(f"/api/v1/deals/{deal_id}:win", {}, headers=headers))
    if to == "lost":
        return dict(api.post(f"/api/v1/deals/{deal_id}:lose", {"reason": reason}, headers=headers))
    return dict(api.post(f"/api/v1/deals/{deal_id}:move", {"stage_id": to}, headers=headers))


def _done_message(deal: dict[str, Any], to: str, api: Api) -> str:
    if to == "won":
        return _("«%(title)s» ganado.", title=deal.get("title", ""))
    if to == "lost":
        return _("«%(title)s» perdido.", title=deal.get("title", ""))
    stage = (lookups.stages(api).get(deal.get("stage_id", "")) or {}).get("name", "")
    return _("«%(title)s» pasó a %(stage)s.", title=deal.get("title", ""), stage=stage)


@bp.route("/<uuid:deal_id>/move", methods=["GET", "POST"])
def move_deal(deal_id: UUID) -> str | Response | tuple[Response, int]:
    """GET (the card's "Mover a…" menu without JavaScript): confirm the move, asking the reason
    when the deal is lost. POST: the move, as a page (redirect back) or, for the board's script,
    as JSON; a conflict answers 409 with the message and where the deal is now."""
    api = web_session.api()
    did = str(deal_id)
    back = safe_next(request.values.get("next") or _referring_page() or url_for("deals.board"))
    if request.method == "GET":
        deal = api.get(f"/api/v1/deals/{did}")
        pipeline = api.get(f"/api/v1/pipelines/{deal['pipeline_id']}")
        choice = request.args.get("to", "")
        stages = pipeline.get("stages") or []
        opened = _open_stages(pipeline)
        target: dict[str, Any] | None = None
        if choice in ("won", "lost"):
            target = _stage_of_kind(pipeline, choice)
        elif choice.isdigit() and int(choice) < len(opened):
            target = opened[int(choice)]
        else:
            target = next((s for s in stages if s["id"] == choice), None)
        if target is None:
            flash(_("Elige la etapa a la que quieres moverlo."), "error")
            return redirect(back)
        to = target["kind"] if target["kind"] in ("won", "lost") else target["id"]
        return render_template("deals/move.html", deal=deal, target=target, to=to, back=back, form=Form())
    to = request.form.get("to", "")
    reason = request.form.get("reason", "").strip()
    version = request.form.get("version", "")
    if to == "lost" and not reason:
        message = _("Escribe por qué se perdió el negocio.")
        if _wants_json():
            return jsonify({"ok": False, "message": message}), 400
        deal = api.get(f"/api/v1/deals/{did}")
        pipeline = api.get(f"/api/v1/pipelines/{deal['pipeline_id']}")
        form = Form()
        form.error("reason", message)
        return render_template(
            "deals/move.html", deal=deal, target=_stage_of_kind(pipeline, "lost"), to=to, back=back, form=form
        )
    try:
        deal = _move(api, did, to, version, reason)
    except ApiError as exc:
        if exc.status == 412:
            message, current = _conflict_message(api, did)
            if _wants_json():
                now = current or {}
                body = {
                    "ok": False,
                    "conflict": True,
                    "message": message,
                    "stage_id": now.get("stage_id", ""),
                    "status": now.get("status", ""),
                    "version": now.get("version", ""),
                }
                return jsonify(body), 409
            flash(message, "error")
            return redirect(back)
        if exc.status not in (400, 404, 409):
            raise
        detail = exc.field_errors.get("reason") or exc.detail
        if _wants_json():
            return jsonify({"ok": False, "message": _("No se movió: %(detail)s", detail=detail)}), exc.status
        flash(_("No se movió: %(detail)s", detail=detail), "error")
        return redirect(back)
    message = _done_message(deal, to, api)
    if _wants_json():
        body = {
            "ok": True,
            "message": message,
            "stage_id": deal.get("stage_id"),
            "status": deal.get("status"),
            "version": deal.get("version"),
        }
        return jsonify(body)
    flash(message, "success")
    return redirect(back)


@bp.get("/")
def list_deals() -> str:
    api = web_session.api()
    args = records.filters(FILTERS)
    token = request.args.get("page_token", "")
    users = pool.submit(lookups.users, api)
    stages = pool.submit(lookups.stages, api)
    pipelines = pool.submit(_pipelines, api)
    page = api.list("/api/v1/deals", page_size=PAGE_SIZE, page_token=token, include_total_size=True, **args)
    clients = _client_name_map(api, (d.get("client_id", "") for d in page.items))
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "users": users.result(),
        "stages": stages.result(),
        "pipelines": pipelines.result(),
        "clients": clients,
        "people": _people(api),
        "statuses": STATUSES,
    }
    return records.fragment_or_page("deals-table", "deals/_table.html", "deals/list.html", **ctx)


NEW_FIELDS = [
    "title",
    "client_id",
    "pipeline_id",
    "amount.amount",
    "amount.currency_code",
    "expected_close_date",
    "owner_id",
]


@bp.route("/new", methods=["GET", "POST"])
def new_deal() -> str | Response:
    api = web_session.api()
    me = web_session.user()
    client_id = request.values.get("client_id", "")
    form = Form.from_record(
        {"client_id": client_id, "owner_id": me.get("id"), "amount": {"currency_code": "COP"}}, NEW_FIELDS
    )
    if request.method == "POST":
        form = Form.posted()
        body: dict[str, Any] = {"title": form.get("title"), "client_id": form.get("client_id")}
        if form.get("pipeline_id"):
            body["pipeline_id"] = form.get("pipeline_id")
        if form.get("amount.amount"):
            body["amount"] = {
                "amount": records.parse_amount(form.get("amount.amount")),
                "currency_code": form.get("amount.currency_code") or "COP",
            }
        if form.get("expected_close_date"):
            body["expected_close_date"] = form.get("expected_close_date")
        if form.get("owner_id"):
            body["owner_id"] = form.get("owner_id")
        try:
            created = api.post("/api/v1/deals", body)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, NEW_FIELDS)
        else:
            flash(_("Negocio «%(title)s» creado.", title=created["title"]), "success")
            return redirect(url_for("deals.show_deal", deal_id=created["id"]))
    client = None
    clients: list[dict[str, Any]] = []
    if form.get("client_id"):
        try:
            client = api.get(f"/api/v1/clients/{form.get('client_id')}")
        except ApiError as exc:
            if exc.status not in (400, 404):
                raise
    if client is None:
        clients = api.list("/api/v1/clients", page_size=200).items
    return render_template(
        "deals/form.html",
        form=form,
        client=client,
        client_options=[(c["id"], c.get("name", "")) for c in clients],
        pipeline_options=[(p["id"], p.get("name", "")) for p in _pipelines(api)],
        currencies=CURRENCIES,
        user_options=lookups.user_options(api) if web_session.is_manager() else [],
    )


def _duration(seconds: Any) -> str:
    try:
        value = int(seconds or 0)
    except (TypeError, ValueError):
        return ""
    locale = babel_locale(web_session.user_locale())
    if value < 60:
        return format_timedelta(timedelta(seconds=value), threshold=1, locale=locale)
    return format_timedelta(timedelta(seconds=value), threshold=1.5, locale=locale)


@bp.app_template_filter("stay")
def _stay_filter(seconds: Any) -> str:
    return _duration(seconds)


def _deal_page_context(api: Api, did: str) -> dict[str, Any]:
    deal_f = pool.submit(api.get, f"/api/v1/deals/{did}")
    activities = pool.submit(api.list, "/api/v1/activities", deal_id=did, page_size=100)
    quotes = pool.submit(api.list, "/api/v1/quotes", deal_id=did, page_size=50)
    products = pool.submit(api.list, "/api/v1/products", page_size=500)
    users = pool.submit(lookups.users, api)
    stages = pool.submit(lookups.stages, api)
    deal = deal_f.result()
    client = pool.submit(api.get, f"/api/v1/clients/{deal['client_id']}")
    contacts = pool.submit(api.list, "/api/v1/contacts", client_id=deal["client_id"], page_size=200)
    pipeline = pool.submit(api.get, f"/api/v1/pipelines/{deal['pipeline_id']}")
    related = records.related({"activities": activities, "quotes": quotes, "products": products, "contacts": contacts})
    try:
        client_record = client.result()
    except ApiError as exc:
        if exc.status == 401:
            raise
        client_record = {"id": deal["client_id"], "name": ""}
    stage_names = stages.result()
    timeline = records.timeline(
        {"time": deal.get("create_time"), "text": _("Negocio creado")},
        [deal],
        related["activities"],
        stage_names,
    )
    # The first entry records the creation (it shows in the timeline as the opening).
    timeline = [e for e in timeline if e["kind"] != "created"]
    product_map = {p["id"]: p for p in related["products"] or []}
    contact_map = {c["id"]: c for c in related["contacts"] or []}
    return {
        "deal": deal,
        "client": client_record,
        "pipeline": pipeline.result(),
        "users": users.result(),
        "stages": stage_names,
        "timeline": timeline,
        "products": product_map,
        "contacts": contact_map,
        "activities": related["activities"],
        "quotes": related["quotes"],
        "activity_kinds": ACTIVITY_KINDS,
        "user_options": lookups.user_options(api),
        "currencies": CURRENCIES,
        "editing": "",
        "form": Form(),
    }


@bp.get("/<uuid:deal_id>")
def show_deal(deal_id: UUID) -> str:
    api = web_session.api()
    return render_template("deals/detail.html", **_deal_page_context(api, str(deal_id)))


def _field_values(deal: dict[str, Any]) -> dict[str, str]:
    money = deal.get("amount") or {}
    return {
        "title": deal.get("title", ""),
        "amount.amount": str(money.get("amount") or ""),
        "amount.currency_code": money.get("currency_code") or "COP",
        "probability": str(deal.get("probability", "")),
        "expected_close_date": deal.get("expected_close_date") or "",
        "owner_id": deal.get("owner_id", ""),
    }


def _field_body(name: str, form: Form) -> dict[str, Any]:
    if name == "amount":
        return {
            "amount": {
                "amount": records.parse_amount(form.get("amount.amount")) or "0",
                "currency_code": form.get("amount.currency_code"),
            }
        }
    if name == "probability":
        text = form.get("probability")
        return {"probability": int(text) if text.isdigit() else text}
    if name == "expected_close_date":
        return {"expected_close_date": form.get("expected_close_date") or None}
    return {name: form.get(name)}


@bp.route("/<uuid:deal_id>/fields/<name>", methods=["GET", "POST"])
def edit_field(deal_id: UUID, name: str) -> str | Response:
    """One field of the deal edited in place: GET the form (htmx swaps it into the row; without
    JavaScript, the whole page with that row open), POST saves it with PATCH and If-Match and
    shows the row again, or the form with the API's error beside the field."""
    if name not in INLINE_FIELDS:
        abort(404)
    api = web_session.api()
    did = str(deal_id)
    fragment = bool(request.headers.get("HX-Request"))
    deal = api.get(f"/api/v1/deals/{did}")
    form = Form(values=_field_values(deal))
    editing = "" if request.args.get("view") else name
    if request.method == "POST":
        form = Form.posted()
        try:
            deal = api.patch(
                f"/api/v1/deals/{did}", _field_body(name, form), headers=records.if_match(form.get("version"))
            )
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            if exc.status == 412:
                form.general.append(
                    _(
                        "Alguien cambió este negocio mientras lo editabas. "
                        "Se muestra el valor actual; no se guardó nada."
                    )
                )
                deal = api.get(f"/api/v1/deals/{did}")
                form.values.update({k: v for k, v in _field_values(deal).items() if k in INLINE_FIELDS[name]})
            else:
                inputs = INLINE_FIELDS[name]
                form.take(exc, [*inputs, name])
                if name in form.errors and inputs[0] != name:
                    form.errors.setdefault(inputs[0], form.errors.pop(name))
        else:
            editing = ""
            if not fragment:
                flash(_("Cambios guardados."), "success")
                return redirect(url_for("deals.show_deal", deal_id=did))
    if fragment:
        res = render_template(
            "deals/_field.html",
            deal=deal,
            name=name,
            editing=editing,
            form=form,
            users=lookups.users(api),
            user_options=lookups.user_options(api),
            currencies=CURRENCIES,
        )
        return Response(res, headers={"X-Deal-Version": str(deal.get("version", ""))})
    ctx = _deal_page_context(api, did)
    ctx.update(editing=editing, form=form)
    return render_template("deals/detail.html", **ctx)


def _patch_and_back(did: str, body: dict[str, Any], done: str) -> Response:
    api = web_session.api()
    try:
        api.patch(f"/api/v1/deals/{did}", body, headers=records.if_match(request.form.get("version", "")))
    except ApiError as exc:
        if exc.status == 412:
            flash(
                _("Alguien cambió este negocio mientras lo veías. No se guardó nada; revisa la versión actual."),
                "error",
            )
        elif exc.status in (400, 409):
            flash(_("No se guardó: %(detail)s", detail="; ".join(exc.field_errors.values()) or exc.detail), "error")
        else:
            raise
    else:
        flash(done, "success")
    return redirect(url_for("deals.show_deal", deal_id=did))


@bp.post("/<uuid:deal_id>/lines")
def change_lines(deal_id: UUID) -> Response:
    """Add a catalogue product (or remove line `remove`): the whole list is sent, as the API takes it."""
    api = web_session.api()
    did = str(deal_id)
    deal = api.get(f"/api/v1/deals/{did}")
    lines = [
        {"product_id": li["product_id"], "quantity": li.get("quantity") or "1"} for li in deal.get("line_items") or []
    ]
    remove = request.form.get("remove", "")
    if remove.isdigit():
        index = int(remove)
        if index < len(lines):
            lines.pop(index)
        return _patch_and_back(did, {"line_items": lines}, _("Línea quitada."))
    quantity = records.parse_amount(request.form.get("quantity", "") or "1")
    lines.append({"product_id": request.form.get("product_id", ""), "quantity": quantity})
    return _patch_and_back(did, {"line_items": lines}, _("Producto agregado."))


@bp.post("/<uuid:deal_id>/contacts")
def change_contacts(deal_id: UUID) -> Response:
    api = web_session.api()
    did = str(deal_id)
    deal = api.get(f"/api/v1/deals/{did}")
    ids = list(deal.get("contact_ids") or [])
    remove = request.form.get("remove", "")
    if remove:
        ids = [i for i in ids if i != remove]
        return _patch_and_back(did, {"contact_ids": ids}, _("Contacto quitado."))
    add = request.form.get("contact_id", "")
    if add and add not in ids:
        ids.append(add)
    return _patch_and_back(did, {"contact_ids": ids}, _("Contacto agregado."))


@bp.post("/<uuid:deal_id>/outcome")
def change_outcome(deal_id: UUID) -> Response:
    """Win, lose (with the reason) or reopen from the deal page."""
    api = web_session.api()
    did = str(deal_id)
    action = request.form.get("action", "")
    headers = records.if_match(request.form.get("version", ""))
    try:
        if action == "win":
            api.post(f"/api/v1/deals/{did}:win", {}, headers=headers)
            flash(_("Negocio ganado."), "success")
        elif action == "lose":
            api.post(f"/api/v1/deals/{did}:lose", {"reason": request.form.get("reason", "").strip()}, headers=headers)
            flash(_("Negocio perdido."), "success")
        elif action == "reopen":
            api.post(f"/api/v1/deals/{did}:reopen", {"stage_id": request.form.get("stage_id", "")}, headers=headers)
            flash(_("Negocio reabierto."), "success")
    except ApiError as exc:
        if exc.status == 412:
            message, _deal = _conflict_message(api, did)
            flash(message.replace(_("No se movió."), _("No se guardó nada.")), "error")
        elif exc.status in (400, 409):
            if "reason" in exc.field_errors or action == "lose":
                flash(_("Escribe por qué se perdió el negocio."), "error")
            else:
                flash(_("No se guardó: %(detail)s", detail=exc.detail), "error")
        else:
            raise
    return redirect(url_for("deals.show_deal", deal_id=did))


@bp.post("/<uuid:deal_id>/activities")
def add_activity(deal_id: UUID) -> Response:
    """Schedule an activity of the deal (a due time), or log one done now (with its outcome)."""
    api = web_session.api()
    did = str(deal_id)
    log = request.form.get("mode") == "log"
    body: dict[str, Any] = {
        "deal_id": did,
        "kind": request.form.get("kind", "task"),
        "subject": request.form.get("subject", "").strip(),
    }
    if log:
        body["status"] = "done"
        body["outcome"] = request.form.get("outcome", "").strip()
    else:
        due = from_local_input(request.form.get("due_time", ""), web_session.user_time_zone())
        if due:
            body["due_time"] = due
    try:
        api.post("/api/v1/activities", body)
    except ApiError as exc:
        if exc.status not in (400, 409):
            raise
        problems = "; ".join(f"{k}: {v}" for k, v in exc.field_errors.items()) or exc.detail
        flash(_("No se guardó la actividad: %(detail)s", detail=problems), "error")
    else:
        flash(_("Actividad registrada.") if log else _("Actividad programada."), "success")
    return redirect(url_for("deals.show_deal", deal_id=did) + "#h-activities")


@bp.post("/<uuid:deal_id>/activities/<uuid:activity_id>/complete")
def complete_activity(deal_id: UUID, activity_id: UUID) -> Response:
    api = web_session.api()
    body = {"outcome": request.form.get("outcome", "").strip()}
    try:
        api.post(
            f"/api/v1/activities/{activity_id}:complete",
            body,
            headers=records.if_match(request.form.get("version", "")),
        )
    except ApiError as exc:
        if exc.status == 412:
            flash(_("Alguien cambió esta actividad mientras la veías. No se guardó nada."), "error")
        elif exc.status in (400, 409):
            flash(_("No se completó: %(detail)s", detail=exc.detail), "error")
        else:
            raise
    else:
        flash(_("Actividad completada."), "success")
    return redirect(url_for("deals.show_deal", deal_id=deal_id) + "#h-activities")


def overdue_now(activity: dict[str, Any]) -> bool:
    due = activity.get("due_time") or ""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return activity.get("status") == "scheduled" and bool(due) and due < now


@bp.app_template_global("deal_initials")
def _initials_global(name: str) -> str:
    return initials(name)


@bp.app_template_global("activity_overdue")
def _overdue_global(activity: dict[str, Any]) -> bool:
    return overdue_now(activity)
