"""Activities (Actividad): the user's agenda grouped overdue / today / upcoming (the API's due
filters, text search, kind and owner, forward paging), a week calendar (seven days in the user's
time zone, previous and next week), a new activity about any record (deal, client, contact or
prospect, named and linked on the form), complete with an outcome and reschedule (both with the
version the page read, so a change made meanwhile is a conflict, not an overwrite), and the user's
activities as an .ics calendar (the reporting service's calendar export of an activities report).
Inicio uses the same complete and reschedule actions and the same row template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from babel.dates import format_date
from flask import Blueprint, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool
from crm_web import session as web_session
from crm_web.api import Api, ApiError, Page
from crm_web.auth import safe_next
from crm_web.formatting import babel_locale, from_local_input, local_input, time_zone
from crm_web.forms import Form

bp = Blueprint("activities", __name__, url_prefix="/activities")

PAGE_SIZE = 50
# A week holds at most this many pages of 500 activities (a busy team's week is far fewer).
WEEK_PAGES = 4
KINDS = [
    ("call", lazy_gettext("Llamada")),
    ("meeting", lazy_gettext("Reunión")),
    ("visit", lazy_gettext("Visita")),
    ("task", lazy_gettext("Tarea")),
    ("email", lazy_gettext("Correo")),
]
# Outcomes offered with one click; the complete page also takes any text.
OUTCOMES = [
    lazy_gettext("Contactado"),
    lazy_gettext("Sin respuesta"),
    lazy_gettext("Pidió cotización"),
    lazy_gettext("Reunión agendada"),
    lazy_gettext("No interesado"),
]
STATUSES = [("done", lazy_gettext("Hechas")), ("cancelled", lazy_gettext("Canceladas"))]
FIELDS = ["kind", "subject", "due_time", "duration_minutes", "notes", "outcome", "status"]


@dataclass(frozen=True)
class Subject:
    """The record an activity is about, as the form shows it."""

    arg: str  # the API's field: deal_id, client_id, contact_id, prospect_id
    id: str
    noun: str
    name: str
    url: str | None


# The records an activity can be about: its field, the API path, the detail page and its argument.
RECORDS: list[tuple[str, str, str, str, Any]] = [
    ("deal_id", "/api/v1/deals", "deals.show_deal", "deal_id", lazy_gettext("Negocio")),
    ("client_id", "/api/v1/clients", "clients.show_client", "client_id", lazy_gettext("Cliente")),
    ("contact_id", "/api/v1/contacts", "contacts.show_contact", "contact_id", lazy_gettext("Contacto")),
    ("prospect_id", "/api/v1/prospects", "prospects.show_prospect", "prospect_id", lazy_gettext("Prospecto")),
]


def now_local() -> datetime:
    return datetime.now(time_zone(web_session.user_time_zone()))


def day_start(day: date) -> datetime:
    """Midnight of a day in the user's time zone, as a UTC instant."""
    return datetime.combine(day, time(0), time_zone(web_session.user_time_zone())).astimezone(UTC)


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_day(value: str) -> date | None:
    """The day of an API instant in the user's time zone."""
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant.astimezone(time_zone(web_session.user_time_zone())).date()


def local_clock(value: str) -> str:
    """HH:MM of an API instant in the user's time zone."""
    return local_input(value, web_session.user_time_zone())[11:]


def today_split(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Upcoming activities (due now or later) as those due today and those due after today."""
    today = now_local().date()
    due_today = [a for a in items if local_day(a.get("due_time", "")) == today]
    later = [a for a in items if local_day(a.get("due_time", "")) != today]
    return due_today, later


def _record_names(api: Api, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each activity is about, by activity id: {noun, name, url} of its deal, client,
    contact or prospect (the first one set), read in parallel, once per record."""
    wanted: dict[tuple[str, str], Any] = {}
    for a in items:
        for arg, path, *_rest in RECORDS:
            if a.get(arg):
                key = (arg, a[arg])
                if key not in wanted:
                    wanted[key] = pool.submit(_safe_get, api, f"{path}/{a[arg]}")
                break
    out: dict[str, dict[str, Any]] = {}
    for a in items:
        for arg, _path, endpoint, id_arg, noun in RECORDS:
            if a.get(arg):
                record = wanted[(arg, a[arg])].result()
                name = _name_of(arg, record) if record else ""
                url = _url(endpoint, **{id_arg: a[arg]}) if record else None
                out[a["id"]] = {"noun": noun, "name": name, "url": url}
                break
    return out


def _safe_get(api: Api, path: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = api.get(path)
    except ApiError as exc:
        if exc.status == 401:
            raise
        return None
    return found


def _name_of(arg: str, record: dict[str, Any]) -> str:
    if arg == "deal_id":
        return str(record.get("title") or "")
    if arg in ("contact_id", "prospect_id"):
        person = " ".join(x for x in (record.get("first_name"), record.get("last_name")) if x)
        company = record.get("company_name") or ""
        return f"{company} · {person}" if company and person else company or person or str(record.get("email") or "")
    return str(record.get("name") or "")


def _url(endpoint: str, **kw: Any) -> str | None:
    from crm_web.shell import url_for_record

    return url_for_record(endpoint, **kw)


def with_records(api: Api, groups: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    every = [a for items in groups.values() for a in items]
    return _record_names(api, every)


@bp.app_template_filter("local_due")
def local_due(value: Any) -> str:
    """An instant as a datetime-local input's value in the user's time zone."""
    return local_input(value, web_session.user_time_zone())


@bp.app_template_filter("weekday")
def weekday(value: date) -> str:
    """A day's name in the user's language ("lunes", "Monday")."""
    return format_date(value, "EEEE", locale=babel_locale(web_session.user_locale()))


@bp.app_template_filter("month_name")
def month_name(value: date) -> str:
    """A month in the user's language ("diciembre de 2026", "December 2026")."""
    return format_date(value, "LLLL y", locale=babel_locale(web_session.user_locale()))


# --- the list -------------------------------------------------------------------------------------


def _owner_filter() -> tuple[str, list[str]]:
    """The owner the list shows: the user unless a manager chose another (or "all": everyone the
    API lets them see). Returns the form value and the API's owner_id values."""
    me = str(web_session.user().get("id") or "")
    chosen = request.args.get("owner_id", "").strip()
    if chosen == "all" and web_session.is_manager():
        return "all", []
    if chosen and web_session.is_manager():
        return chosen, [chosen]
    return me, [me]


@bp.get("/")
def list_activities() -> str:
    api = web_session.api()
    owner_value, owners = _owner_filter()
    q = request.args.get("q", "").strip()
    kind = request.args.get("kind", "").strip()
    status = request.args.get("status", "").strip()
    token = request.args.get("page_token", "")
    base: dict[str, Any] = {"q": q, "kind": kind, "owner_id": owners}
    users = pool.submit(lookups.users, api)
    overdue_page: Page | None = None
    if status in ("done", "cancelled"):
        # Finished work: one list, by due (or done) time, paged.
        page = api.list("/api/v1/activities", status=status, page_size=PAGE_SIZE, page_token=token, **base)
        groups = {"finished": page.items}
    else:
        overdue = None
        if not token:  # the overdue ones head the first page only
            overdue = pool.submit(api.list, "/api/v1/activities", due="overdue", page_size=PAGE_SIZE, **base)
        page = api.list("/api/v1/activities", due="upcoming", page_size=PAGE_SIZE, page_token=token, **base)
        overdue_page = overdue.result() if overdue else None
        due_today, later = today_split(page.items)
        groups = {"overdue": overdue_page.items if overdue_page else [], "today": due_today, "upcoming": later}
    args = {
        k: v
        for k, v in {"q": q, "kind": kind, "status": status, "owner_id": request.args.get("owner_id", "")}.items()
        if v
    }
    ctx = {
        "groups": groups,
        "page": page,
        "overdue_more": bool(overdue_page and overdue_page.next_page_token),
        "records": with_records(api, groups),
        "users": users.result(),
        "user_options": lookups.user_options(api) if web_session.is_manager() else [],
        "filters": {"q": q, "kind": kind, "status": status, "owner_id": owner_value},
        "args": {**args, **({"page_token": token} if token else {})},
        "kinds": KINDS,
        "statuses": STATUSES,
        "outcomes": OUTCOMES,
        "now": rfc3339(datetime.now(UTC)),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "activities-groups":
        return render_template("activities/_groups.html", **ctx)
    return render_template("activities/list.html", **ctx)


# --- the week -------------------------------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@bp.get("/week")
def week() -> str:
    api = web_session.api()
    owner_value, owners = _owner_filter()
    try:
        start = _monday(date.fromisoformat(request.args.get("start", "")))
    except ValueError:
        start = _monday(now_local().date())
    end = start + timedelta(days=7)
    users = pool.submit(lookups.users, api)
    items: list[dict[str, Any]] = []
    token = ""
    for _page in range(WEEK_PAGES):
        page = api.list(
            "/api/v1/activities",
            due_after=rfc3339(day_start(start)),
            due_before=rfc3339(day_start(end)),
            owner_id=owners,
            page_size=500,
            page_token=token,
        )
        items.extend(a for a in page.items if a.get("status") != "cancelled")
        token = page.next_page_token
        if not token:
            break
    days = [start + timedelta(days=i) for i in range(7)]
    by_day: dict[date, list[dict[str, Any]]] = {d: [] for d in days}
    for a in items:
        d = local_day(a.get("due_time", ""))
        if d in by_day:
            by_day[d].append(a)
    for d in days:
        by_day[d].sort(key=lambda a: a.get("due_time", ""))
    owner_arg = request.args.get("owner_id", "")
    return render_template(
        "activities/week.html",
        days=days,
        by_day=by_day,
        today=now_local().date(),
        start=start,
        previous=start - timedelta(days=7),
        next=end,
        truncated=bool(token),
        clock=local_clock,
        records=with_records(api, {"week": items}),
        users=users.result(),
        user_options=lookups.user_options(api) if web_session.is_manager() else [],
        owner_value=owner_value,
        owner_arg=owner_arg,
    )


# --- create ---------------------------------------------------------------------------------------


def _subject_of(api: Api, source: Any) -> Subject | None:
    """The record named in the query string or the form (deal_id=, client_id=...)."""
    for arg, path, endpoint, id_arg, noun in RECORDS:
        value = (source.get(arg) or "").strip()
        if not value:
            continue
        try:
            UUID(value)
        except ValueError:
            return None
        record = api.get(f"{path}/{value}")  # a record the user may not see is a not-found page
        return Subject(arg, value, str(noun), _name_of(arg, record), _url(endpoint, **{id_arg: value}))
    return None


def _default_due() -> str:
    """Tomorrow at 9:00 in the user's zone, as the form's value."""
    tomorrow = now_local().date() + timedelta(days=1)
    return f"{tomorrow.isoformat()}T09:00"


@bp.route("/new", methods=["GET", "POST"])
def new_activity() -> str | Response:
    api = web_session.api()
    source = request.form if request.method == "POST" else request.args
    subject = _subject_of(api, source)
    back = safe_next(source.get("next") or (subject.url if subject and subject.url else url_for(".list_activities")))
    form = Form.from_record({"kind": "call", "due_time": _default_due(), "status": "scheduled"}, FIELDS)
    if request.method == "POST":
        form = Form.posted()
        tz = web_session.user_time_zone()
        body: dict[str, Any] = {
            "kind": form.get("kind"),
            "subject": form.get("subject"),
            "notes": form.get("notes"),
        }
        if subject:
            body[subject.arg] = subject.id
        logged = form.get("status") == "done"
        when = from_local_input(form.get("due_time"), tz) if form.get("due_time") else ""
        if form.get("due_time") and not when:
            form.error("due_time", _("Escribe la fecha y la hora."))
        minutes = form.get("duration_minutes")
        if minutes:
            if minutes.isdigit():
                body["duration_seconds"] = int(minutes) * 60
            else:
                form.error("duration_minutes", _("Escribe los minutos como un número entero."))
        if logged:
            body["status"] = "done"
            body["outcome"] = form.get("outcome")
            if when:
                body["done_time"] = when
        elif when:
            body["due_time"] = when
        if subject is None:
            form.general.append(_("Una actividad debe ser sobre un negocio, cliente, contacto o prospecto."))
        if form.ok:
            try:
                api.post("/api/v1/activities", body)
            except ApiError as exc:
                if exc.status != 400:
                    raise
                form.take(exc, FIELDS)
                if "duration_seconds" in exc.field_errors:
                    form.error("duration_minutes", exc.field_errors["duration_seconds"])
                if "done_time" in exc.field_errors:
                    form.error("due_time", exc.field_errors["done_time"])
            else:
                flash(_("Actividad «%(s)s» guardada.", s=body["subject"]), "success")
                return redirect(back)
    return render_template("activities/form.html", form=form, subject=subject, kinds=KINDS, back=back, records=RECORDS)


# --- complete and reschedule ----------------------------------------------------------------------


def _if_match() -> dict[str, str] | None:
    version = request.form.get("version", "").strip()
    return {"If-Match": f'"{version}"'} if version else None


def _back() -> str:
    return safe_next(request.form.get("next") or request.args.get("next") or url_for(".list_activities"))


def _row_or_redirect(activity: dict[str, Any], message: str) -> str | Response:
    """htmx asked: the activity's row as it is now (with the message); else back to the page."""
    if request.headers.get("HX-Request"):
        api = web_session.api()
        return render_template(
            "activities/_done_row.html",
            a=activity,
            message=message,
            records=with_records(api, {"one": [activity]}),
        )
    flash(message, "success")
    return redirect(_back())


def _conflict(exc: ApiError) -> str | Response:
    """Someone changed or finished the activity since the page was read: say so, nothing saved."""
    message = _("La actividad cambió desde que abriste la página; no se guardó nada. Recarga para verla como está.")
    if exc.status == 400:
        message = _("No se pudo: %(detail)s", detail=exc.detail)
    if request.headers.get("HX-Request"):
        return render_template("activities/_problem_row.html", message=message, back=_back())
    flash(message, "error")
    return redirect(_back())


@bp.route("/<uuid:activity_id>/complete", methods=["GET", "POST"])
def complete_activity(activity_id: UUID) -> str | Response:
    api = web_session.api()
    if request.method == "POST":
        outcome = request.form.get("outcome", "").strip()
        try:
            done = api.post(f"/api/v1/activities/{activity_id}:complete", {"outcome": outcome}, headers=_if_match())
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            if request.headers.get("HX-Request") or exc.status != 400:
                return _conflict(exc)
            form = Form.posted()
            form.take(exc, ["outcome"])
            activity = api.get(f"/api/v1/activities/{activity_id}")
            return render_template("activities/complete.html", a=activity, form=form, outcomes=OUTCOMES, back=_back())
        return _row_or_redirect(done, _("«%(s)s» completada.", s=done.get("subject", "")))
    activity = api.get(f"/api/v1/activities/{activity_id}")
    form = Form(values={"outcome": "", "version": str(activity.get("version", ""))})
    return render_template("activities/complete.html", a=activity, form=form, outcomes=OUTCOMES, back=_back())


@bp.route("/<uuid:activity_id>/reschedule", methods=["GET", "POST"])
def reschedule_activity(activity_id: UUID) -> str | Response:
    api = web_session.api()
    tz = web_session.user_time_zone()
    if request.method == "POST":
        form = Form.posted()
        when = from_local_input(form.get("due_time"), tz)
        if when:
            try:
                moved = api.patch(f"/api/v1/activities/{activity_id}", {"due_time": when}, headers=_if_match())
            except ApiError as exc:
                if exc.status not in (400, 409, 412):
                    raise
                if request.headers.get("HX-Request") or exc.status != 400:
                    return _conflict(exc)
                form.take(exc, ["due_time"])
            else:
                return _row_or_redirect(moved, _("«%(s)s» reprogramada.", s=moved.get("subject", "")))
        else:
            form.error("due_time", _("Escribe la fecha y la hora."))
            if request.headers.get("HX-Request"):
                return render_template("activities/_problem_row.html", message=form.errors["due_time"], back=_back())
        activity = api.get(f"/api/v1/activities/{activity_id}")
        return render_template("activities/reschedule.html", a=activity, form=form, back=_back())
    activity = api.get(f"/api/v1/activities/{activity_id}")
    form = Form(
        values={"due_time": local_input(activity.get("due_time"), tz), "version": str(activity.get("version", ""))}
    )
    return render_template("activities/reschedule.html", a=activity, form=form, back=_back())


# --- calendar file --------------------------------------------------------------------------------


@bp.get("/calendar.ics")
def download_ics() -> Response:
    """The user's scheduled and done activities (not the cancelled ones) as an iCalendar file, in
    their time zone: the API's calendar export of an activities report, streamed through."""
    me = str(web_session.user().get("id") or "")
    body = {
        "module": "activities",
        "filters": [
            {"field": "owner_id", "operator": "equals", "values": [me]},
            {"field": "status", "operator": "in", "values": ["scheduled", "done"]},
        ],
        "format": "ics",
        "time_zone": web_session.user_time_zone(),
        "date_field": "due_time",
    }
    res = web_session.api().request("POST", "/api/v1/reports:export", json=body, headers={"Accept": "*/*"}, stream=True)
    headers = {"Content-Disposition": 'attachment; filename="actividades.ics"'}
    chunks = res.iter_content(64 * 1024)
    return current_app.response_class(stream_with_context(chunks), mimetype="text/calendar", headers=headers)
