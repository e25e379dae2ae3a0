"""Browser journeys of Inicio, the activities pages and the pipeline settings (Playwright over
the session platform `web_site`): an overdue activity completed from Inicio is done in the API and
leaves the overdue list; an activity created from a client's link shows in the week view and in
the .ics download; a manager adds a stage and moves it up (the API agrees); a rep gets the
not-found page for the settings. axe-core and screenshots in Spanish and English."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

BOGOTA = ZoneInfo("America/Bogota")  # the users' default time zone
REP = "carla_act"  # this module's own rep (team Norte), so other modules' records do not mix in


def _tag() -> str:
    return uuid.uuid4().hex[:6]


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def site(web_site: Any) -> Iterator[Any]:
    """The session platform with this module's rep, a deal of theirs closing this month, a sent
    quote and a budget for this month."""
    if REP not in web_site.ids:
        web_site.add_user(REP, "Carla Actividades", "rep", web_site.ids["team"])
    today = datetime.now(BOGOTA).date()
    deal = web_site.call(
        REP,
        "POST",
        "/api/v1/deals",
        {
            "title": f"Renovación anual {_tag()}",
            "client_id": web_site.ids["client"],
            "amount": {"amount": "4500000", "currency_code": "COP"},
            "expected_close_date": today.replace(day=max(today.day, 28)).isoformat(),
        },
    )
    quote = web_site.call(
        REP,
        "POST",
        "/api/v1/quotes",
        {
            "deal_id": deal["id"],
            "lines": [{"product_id": web_site.ids["product"], "quantity": "2"}],
            "valid_until": (today + timedelta(days=30)).isoformat(),
        },
    )
    web_site.call(REP, "POST", f"/api/v1/quotes/{quote['id']}:send")
    web_site.call(
        "marta",
        "POST",
        "/api/v1/budgets",
        {
            "user_id": web_site.ids[REP],
            "period_kind": "month",
            "period_start": today.replace(day=1).isoformat(),
            "target": {"amount": "20000000", "currency_code": "COP"},
        },
    )
    web_site.ids["act_deal"] = deal["id"]
    yield web_site


def _activity(site: Any, subject: str, due: datetime, **links: str) -> dict[str, Any]:
    body = {"kind": "call", "subject": subject, "due_time": _rfc3339(due), **links}
    if not links:
        body["client_id"] = site.ids["client"]
    return dict(site.call(REP, "POST", "/api/v1/activities", body))


def test_completing_an_overdue_activity_from_inicio(site: Any) -> None:
    subject = f"Llamar para cobrar {_tag()}"
    overdue = _activity(site, subject, datetime.now(UTC) - timedelta(days=2))
    # Later today in the rep's time zone: halfway to local midnight, at most 30 minutes ahead (Inicio
    # lists today's and overdue work; a fixed +30 min is tomorrow after 23:30 in Bogotá).
    now = datetime.now(BOGOTA)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=BOGOTA)
    later_today = min(timedelta(minutes=30), (midnight - now) / 2) > timedelta(seconds=30)
    later_due = now + min(timedelta(minutes=30), (midnight - now) / 2)
    later = _activity(site, f"Visita de seguimiento {_tag()}", later_due.astimezone(UTC))
    page = site.page(REP, axe=True)
    try:
        page.goto("/")
        row = page.locator(f".activity-group-overdue #act-{overdue['id']}")
        assert subject in row.inner_text()
        if later_today:  # (in the last minute before local midnight there is no "later today")
            assert page.locator(f".activity-group-today #act-{later['id']}").count() == 1
        assert "Renovación anual" in page.locator("#h-deals").locator("xpath=..").inner_text()
        assert "COT-" in page.locator("#h-quotes").locator("xpath=..").inner_text()
        assert page.locator("progress.budget-bar").count() == 1
        site.check_and_photograph(page, "inicio")

        row.locator("select[name=outcome]").select_option("Sin respuesta")
        row.get_by_role("button", name="Completar").click()
        page.locator(f"#act-{overdue['id']}.activity-changed").wait_for()
        done = site.call(REP, "GET", f"/api/v1/activities/{overdue['id']}")
        assert done["status"] == "done" and done["outcome"] == "Sin respuesta"
        page.reload()
        assert page.locator(f"#act-{overdue['id']}").count() == 0
        assert page.locator(".activity-group-overdue").count() == 1
    finally:
        page.context.close()


def test_rescheduling_from_the_list_moves_the_due_time(site: Any) -> None:
    subject = f"Enviar catálogo {_tag()}"
    act = _activity(site, subject, datetime.now(UTC) - timedelta(days=1))
    page = site.page(REP, axe=True)
    try:
        page.goto("/activities/")
        row = page.locator(f".activity-group-overdue #act-{act['id']}")
        row.locator("summary").click()
        target = datetime.now(BOGOTA).replace(second=0, microsecond=0) + timedelta(days=3)
        row.locator("input[type=datetime-local]").fill(target.strftime("%Y-%m-%dT%H:%M"))
        row.get_by_role("button", name="Guardar").click()
        page.locator(f"#act-{act['id']}.activity-changed").wait_for()
        moved = site.call(REP, "GET", f"/api/v1/activities/{act['id']}")
        assert moved["status"] == "scheduled"
        assert datetime.fromisoformat(moved["due_time"].replace("Z", "+00:00")) == target
        page.reload()
        assert page.locator(f".activity-group-upcoming #act-{act['id']}").count() == 1
        site.check_and_photograph(page, "actividades")
    finally:
        page.context.close()


def test_an_activity_created_from_a_client_shows_in_the_week_and_the_calendar_file(site: Any) -> None:
    subject = f"Demostración en planta {_tag()}"
    day = datetime.now(BOGOTA).date() + timedelta(days=2)
    page = site.page(REP, axe=True)
    try:
        page.goto(f"/clients/{site.ids['client']}")
        page.get_by_role("link", name="Nueva actividad").click()
        page.wait_for_load_state()
        assert f"/activities/new?client_id={site.ids['client']}" in page.url
        assert "Ferretería Andina" in page.locator(".activity-about").inner_text()
        page.select_option("#f-kind", "meeting")
        page.fill("#f-subject", subject)
        page.fill("#f-due_time", f"{day.isoformat()}T10:30")
        page.fill("#f-duration_minutes", "60")
        page.get_by_role("button", name="Guardar actividad").click()
        page.wait_for_load_state()
        assert "/clients/" in page.url  # back to the record it is about
        found = site.call(REP, "GET", "/api/v1/activities", client_id=site.ids["client"], q=subject)["items"]
        assert len(found) == 1 and found[0]["duration_seconds"] == 3600
        assert datetime.fromisoformat(found[0]["due_time"].replace("Z", "+00:00")) == datetime(
            day.year, day.month, day.day, 10, 30, tzinfo=BOGOTA
        )

        page.goto(f"/activities/week?start={day.isoformat()}")
        column = page.locator(".week-day", has=page.locator(f"text={subject}"))
        assert column.count() == 1
        assert "10:30" in column.inner_text()
        monday = day - timedelta(days=day.weekday())
        assert _short(day) in column.locator("h2").inner_text()
        assert page.locator(".week-day").count() == 7
        assert (monday - timedelta(days=7)).isoformat() in (page.locator("a[rel=prev]").get_attribute("href") or "")
        site.check_and_photograph(page, "actividades-semana")

        events = _calendar_events(page, subject)
        assert len(events) == 1
        start = events[0].decoded("dtstart")
        assert start == datetime(day.year, day.month, day.day, 10, 30, tzinfo=BOGOTA)
        assert events[0].decoded("dtend") - start == timedelta(hours=1)
    finally:
        page.context.close()


def _short(day: date) -> str:
    months = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"]
    return f"{day.day} {months[day.month - 1]}"


def _calendar_events(page: Any, subject: str) -> list[Any]:
    """The .ics download's events named `subject` (the reporting read model trails the deals
    service by a moment: asked again for a while)."""
    deadline = time.monotonic() + 30
    while True:
        res = page.request.get("/activities/calendar.ics")
        assert res.status == 200, res.text()
        assert res.headers["content-type"].startswith("text/calendar")
        cal = Calendar.from_ical(res.body())
        events = [e for e in cal.walk("VEVENT") if str(e.get("summary")) == subject]
        if events or time.monotonic() > deadline:
            return events
        time.sleep(1)


def test_a_manager_adds_a_stage_and_moves_it_up(site: Any) -> None:
    name = f"Embudo proyectos {_tag()}"
    stage = f"Demostración {_tag()}"
    page = site.page("marta", axe=True)
    try:
        page.goto("/")  # a manager's Inicio leads to the settings (reps have no such link)
        assert page.locator("nav.sidebar").get_by_role("link", name="Embudos de venta").count() == 1
        page.locator("main").get_by_role("link", name="Embudos de venta").click()
        page.wait_for_load_state()
        page.fill("#f-name", name)
        page.get_by_role("button", name="Crear embudo").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().startswith(name)
        pipeline_id = page.url.rstrip("/").split("/")[-1]
        page.locator("#h-add").locator("xpath=..").locator("#f-name").fill(stage)
        page.locator("#h-add").locator("xpath=..").locator("#f-default_probability").fill("35")
        page.get_by_role("button", name="Agregar etapa", exact=True).click()
        page.wait_for_load_state()
        api = site.call("marta", "GET", f"/api/v1/pipelines/{pipeline_id}")
        names = [s["name"] for s in api["stages"] if s["kind"] == "open"]
        assert names[-1] == stage
        assert next(s for s in api["stages"] if s["name"] == stage)["default_probability"] == 35

        page.get_by_role("button", name=f"Subir {stage}").click()
        page.wait_for_load_state()
        api = site.call("marta", "GET", f"/api/v1/pipelines/{pipeline_id}")
        moved = [s["name"] for s in api["stages"] if s["kind"] == "open"]
        assert moved == [*names[:-2], stage, names[-2]]
        assert [s["kind"] for s in api["stages"]][-2:] == ["won", "lost"]
        site.check_and_photograph(page, "embudo")
        page.goto("/pipelines/")
        site.check_and_photograph(page, "embudos")
    finally:
        page.context.close()


def test_a_stale_pipeline_page_saves_nothing(site: Any) -> None:
    made = site.call("marta", "POST", "/api/v1/pipelines", {"name": f"Embudo obsoleto {_tag()}"})
    page = site.page("marta")
    try:
        page.goto(f"/pipelines/{made['id']}")
        site.call("marta", "PATCH", f"/api/v1/pipelines/{made['id']}", {"name": f"Renombrado {_tag()}"})
        page.locator("#h-settings").locator("xpath=..").locator("#f-name").fill("Mi nombre")
        page.get_by_role("button", name="Guardar embudo").click()
        page.wait_for_load_state()
        assert "no se guardó nada" in page.locator(".flashes").inner_text()
        assert site.call("marta", "GET", f"/api/v1/pipelines/{made['id']}")["name"].startswith("Renombrado")
    finally:
        page.context.close()


def test_a_rep_gets_not_found_for_pipeline_settings(site: Any) -> None:
    page = site.page(REP)
    try:
        res = page.goto("/pipelines/")
        assert res is not None and res.status == 404
        assert page.locator("h1").inner_text() == "No se encontró"
        assert "Embudos de venta" not in page.locator("nav.sidebar").inner_text()  # managers' entry only
        res = page.request.post(f"/pipelines/{uuid.uuid4()}/stages", form={"name": "x"})
        assert res.status in (400, 404)  # no CSRF token: refused before anything else either way
    finally:
        page.context.close()


@pytest.mark.parametrize(
    "path,name", [("/", "inicio"), ("/activities/", "actividades"), ("/activities/week", "actividades-semana")]
)
def test_pages_in_english(site: Any, path: str, name: str) -> None:
    page = site.page(REP, lang="en", axe=True)
    try:
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == "en"
        heading = page.locator("h1").inner_text()
        assert heading and not heading.startswith(("Hola", "Actividades", "Semana"))
        site.check_and_photograph(page, name)
    finally:
        page.context.close()


def test_pipeline_settings_in_english(site: Any) -> None:
    page = site.page("marta", lang="en", axe=True)
    try:
        page.goto("/pipelines/")
        assert page.locator("h1").inner_text() == "Sales pipelines"
        site.check_and_photograph(page, "embudos")
        page.locator(".pipeline-list a").first.click()
        page.wait_for_load_state()
        assert page.locator("#h-stages").inner_text() == "Stages"
        site.check_and_photograph(page, "embudo")
    finally:
        page.context.close()
