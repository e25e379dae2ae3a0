"""Browser journeys of the Informes pages (crm_web/reports.py) against the session platform
(`web_site`): a manager builds a report on deals grouped by owner and month with the sum of the
amount — row by row with htmx, from the API's catalogue — runs it and reads the exact sums the
API computes, saves it shared, opens it from the list, runs it and downloads its workbook, which
openpyxl opens with the owners' names and sums; the builder works as a plain form without
JavaScript; a rep does not see another rep's private report (not in the list, a not-found page by
its address). axe-core and screenshots (es, en; desktop, phone) for the list, the builder with a
result and a saved report."""

from __future__ import annotations

import io
import time
import uuid
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from crm_web.formatting import money

from .conftest import PASSWORD, WebSite

# Ana: two COP deals and one USD deal; Beto: one COP deal (sums per owner and currency).
DEALS = (
    ("ana", "1500000", "COP"),
    ("ana", "250000", "COP"),
    ("ana", "1200.50", "USD"),
    ("beto", "99000", "COP"),
)


@pytest.fixture(scope="module")
def token(web_site: WebSite) -> str:
    """A word in the titles of this module's deals only (other modules share the platform)."""
    tag = f"RPT{uuid.uuid4().hex[:8]}"
    for i, (who, amount, currency) in enumerate(DEALS):
        web_site.call(
            who,
            "POST",
            "/api/v1/deals",
            {
                "title": f"{tag} negocio {i}",
                "client_id": web_site.ids["client"],
                "amount": {"amount": amount, "currency_code": currency},
                "expected_close_date": f"2026-12-{10 + i:02d}",
            },
        )
    return tag


def _definition(tag: str) -> dict[str, Any]:
    return {
        "module": "deals",
        "filters": [{"field": "title", "operator": "contains", "values": [tag]}],
        "groupings": [{"field": "owner_id"}, {"field": "create_time", "date_bucket": "month"}],
        "aggregates": [{"function": "sum", "field": "amount"}],
    }


def _expected(web_site: WebSite) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = {}
    for who, amount, currency in DEALS:
        key = (web_site.ids[who], currency)
        sums[key] = sums.get(key, Decimal(0)) + Decimal(amount)
    return sums


def _api_sums(web_site: WebSite, tag: str) -> dict[tuple[str, str], Decimal]:
    """The API's run as Marta, once the reporting read model holds every deal (bounded wait)."""
    expected = _expected(web_site)
    found: dict[tuple[str, str], Decimal] = {}
    for _ in range(60):
        body = web_site.call("marta", "POST", "/api/v1/reports:run", _definition(tag))
        keys = [c["key"] for c in body["columns"]]
        assert keys == ["owner_id", "month(create_time)", "currency_code", "sum(amount)"]
        found = {(r[0], r[2]): Decimal(r[3]["amount"]) for r in body["rows"]}
        if found == expected:
            return found
        time.sleep(0.5)
    raise AssertionError(f"the reporting read model never held the test's deals: {found} != {expected}")


def _row_texts(page: Any) -> list[list[str]]:
    rows = page.locator(".report-table tbody tr")
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def _expected_rows(web_site: WebSite, sums: dict[tuple[str, str], Decimal]) -> set[tuple[str, str, str]]:
    names = {web_site.ids["ana"]: "Ana Rep", web_site.ids["beto"]: "Beto Rep"}
    return {(names[owner], currency, money(str(total), "es-CO", currency)) for (owner, currency), total in sums.items()}


def _changed(page: Any, action: Any) -> None:
    """Do something that makes htmx redraw the builder, and wait until it has."""
    with page.expect_response(lambda r: "/reports/" in r.url and r.request.method == "POST"):
        action()
    page.wait_for_load_state()
    # htmx marks the target while it swaps and settles; done when no element carries the marks.
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def test_a_manager_builds_runs_saves_shares_and_downloads_a_report(web_site: WebSite, token: str) -> None:
    sums = _api_sums(web_site, token)
    page = web_site.page("marta", axe=True)
    page.goto("/reports/new")
    # The module's fields come from the catalogue, labelled in Spanish.
    assert page.locator("#rpt-module-select option[value=deals]").inner_text() == "Negocios"

    _changed(page, lambda: page.click("button[value=add-filter]"))
    _changed(page, lambda: page.select_option("#flt-field-0", "title"))
    _changed(page, lambda: page.select_option("#flt-op-0", "contains"))
    page.fill("#flt-value-0", token)
    _changed(page, lambda: page.click("button[value=add-group]"))
    _changed(page, lambda: page.select_option("#grp-field-0", "owner_id"))
    _changed(page, lambda: page.click("button[value=add-group]"))
    _changed(page, lambda: page.select_option("#grp-field-1", "create_time"))
    page.select_option("#grp-bucket-1", "month")
    _changed(page, lambda: page.click("button[value=add-agg]"))
    page.select_option("#agg-fn-0", "sum")
    page.select_option("#agg-field-0", "amount")
    assert page.input_value("#flt-value-0") == token  # kept through every redraw
    page.click("button[value=run]")
    page.wait_for_load_state()

    headings = [t.strip() for t in page.locator(".report-table thead th").all_text_contents()]
    assert headings == ["Responsable", "Creado (mes)", "Moneda", "Suma de monto"]
    rows = _row_texts(page)
    assert {(r[0], r[2], r[3]) for r in rows} == _expected_rows(web_site, sums)
    month = {r[1] for r in rows}
    assert len(month) == 1 and month.pop().endswith(time.strftime("%Y"))
    assert page.get_by_text("3 filas").count() == 1
    # Chart.js draws from the page's JSON block, one panel per currency (COP: Ana and Beto; USD: Ana).
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('report-chart-1'))")
    drawn = page.evaluate(
        """() => [0, 1].map(i => Chart.getChart(document.getElementById('report-chart-' + i)).data.datasets
                 .map(d => d.label + '=' + d.data.join('|')))"""
    )
    assert drawn == [["Ana Rep=1750000", "Beto Rep=99000"], ["Ana Rep=1200.5"]]
    assert page.locator(".report-chart-currency").all_inner_texts() == ["En COP", "En USD"]
    web_site.check_and_photograph(page, "reports-builder")

    name = f"Ventas por responsable {token}"
    page.fill("#rpt-name", name)
    page.check("#rpt-shared")
    page.click("button[value=save]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == name
    assert page.locator(".flash").first.inner_text().strip().endswith(f"«{name}» guardado.")

    # The list: Marta's own, with the shared badge; then it opens and runs again.
    page.goto("/reports/")
    mine = page.locator("section[aria-labelledby=mine-title]")
    assert mine.get_by_role("link", name=name).count() == 1
    web_site.check_and_photograph(page, "reports-list")
    mine.get_by_role("link", name=name).click()
    page.wait_for_load_state()
    assert {(r[0], r[2], r[3]) for r in _row_texts(page)} == _expected_rows(web_site, sums)
    web_site.check_and_photograph(page, "reports-saved")

    with page.expect_download() as info:
        page.get_by_role("link", name="Descargar Excel (.xlsx)").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        book = openpyxl.load_workbook(io.BytesIO(f.read()))
    sheet = book.worksheets[0]
    cells = [row for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == ("Responsable", "Creado (mes)", "Moneda", "Suma de monto")
    names = {web_site.ids["ana"]: "Ana Rep", web_site.ids["beto"]: "Beto Rep"}
    in_book = {(r[0], r[2], Decimal(str(r[3]))) for r in cells[1:] if r[0] in ("Ana Rep", "Beto Rep")}
    assert in_book == {(names[o], c, total) for (o, c), total in sums.items()}
    page.context.close()

    # A rep of the team sees the shared report under the others', with its owner's name, and runs
    # it over the deals they may see: only their own.
    ana = web_site.page("ana")
    ana.goto("/reports/")
    others = ana.locator("section[aria-labelledby=others-title]")
    row = others.locator("tr", has=ana.get_by_role("link", name=name))
    assert "Marta Gerente" in row.inner_text()
    assert "Compartido" in row.inner_text()
    row.get_by_role("link", name=name).click()
    ana.wait_for_load_state()
    assert {r[0] for r in _row_texts(ana)} == {"Ana Rep"}
    # Not hers to change: no edit or delete offered (the API would refuse them too).
    assert ana.get_by_role("link", name="Editar").count() == 0
    assert ana.get_by_role("link", name="Eliminar").count() == 0
    ana.context.close()


def test_pages_in_english_show_the_catalogue_labels_and_money_per_currency(web_site: WebSite, token: str) -> None:
    sums = _api_sums(web_site, token)
    name = f"Report EN {token}"
    web_site.call("marta", "POST", "/api/v1/reports", {**_definition(token), "name": name, "shared": True})
    # The language switch keeps English in Marta's profile: put Spanish back whatever happens.
    try:
        page = web_site.page("marta", lang="en", axe=True)
        link = (
            f"/reports/new?module=deals&f.title={token}&op.title=contains"
            "&group=owner_id&group=create_time&bucket=month&agg=sum:amount"
        )
        page.goto(link)  # a prefilled link (as the dashboard's) opens the builder already run
        headings = [t.strip() for t in page.locator(".report-table thead th").all_text_contents()]
        assert headings == ["Owner", "Created (month)", "Currency", "Sum of amount"]
        rows = {(r[0], r[2], r[3]) for r in _row_texts(page)}
        names = {web_site.ids["ana"]: "Ana Rep", web_site.ids["beto"]: "Beto Rep"}
        assert rows == {(names[o], c, money(str(t), "en-US", c)) for (o, c), t in sums.items()}
        web_site.check_and_photograph(page, "reports-builder")
        page.goto("/reports/")
        assert page.locator("h1").inner_text() == "Reports"
        web_site.check_and_photograph(page, "reports-list")
        page.locator("section[aria-labelledby=mine-title]").get_by_role("link", name=name).click()
        page.wait_for_load_state()
        assert page.get_by_role("link", name="Download Excel (.xlsx)").count() == 1
        assert "Sum of amount" in page.locator(".report-definition").inner_text()
        web_site.check_and_photograph(page, "reports-saved")
        page.context.close()
    finally:
        web_site.call("admin", "PATCH", f"/api/v1/users/{web_site.ids['marta']}", {"locale": "es-CO"})


def test_the_builder_works_as_a_plain_form_without_javascript(web_site: WebSite, token: str) -> None:
    sums = _api_sums(web_site, token)
    context = web_site.browser.new_context(base_url=web_site.web, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/signin")
    page.fill("#f-email", web_site.emails["marta"])
    page.fill("#f-password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto("/reports/new")
    page.click("button[value=add-filter]")  # each button posts the form; the page comes back with the row
    page.select_option("#flt-field-0", "title")
    page.select_option("#flt-op-0", "contains")
    page.fill("#flt-value-0", token)
    page.click("button[value=add-group]")
    assert page.input_value("#flt-value-0") == token
    page.select_option("#grp-field-0", "owner_id")
    page.click("button[value=add-agg]")
    page.select_option("#agg-fn-0", "sum")
    page.select_option("#agg-field-0", "amount")
    # A filter the API refuses: its error is shown beside that row and in the summary, nothing run.
    page.click("button[value=add-filter]")
    page.select_option("#flt-field-1", "probability")
    page.select_option("#flt-op-1", "between")
    page.fill("#flt-value-1", "10")
    page.click("button[value=run]")
    assert page.locator(".error-summary").count() == 1
    assert page.locator("#row-filter-1 .error-message").count() == 1
    assert page.locator("#row-filter-0 .error-message").count() == 0
    assert page.locator(".report-table").count() == 0
    page.click("button[value='remove-filter:1']")
    page.click("button[value=run]")
    rows = {(r[0], r[1], r[2]) for r in _row_texts(page)}
    assert rows == _expected_rows(web_site, sums)
    context.close()


def test_a_rep_does_not_see_another_reps_private_report(web_site: WebSite, token: str) -> None:
    private = web_site.call(
        "ana",
        "POST",
        "/api/v1/reports",
        {**_definition(token), "name": f"Privado de Ana {token}", "shared": False},
    )
    beto = web_site.page("beto")
    beto.goto("/reports/")
    assert beto.get_by_text(f"Privado de Ana {token}").count() == 0
    res = beto.goto(f"/reports/{private['id']}")
    assert res is not None and res.status == 404
    beto.context.close()
    ana = web_site.page("ana")
    ana.goto("/reports/")
    mine = ana.locator("section[aria-labelledby=mine-title]")
    assert mine.get_by_role("link", name=f"Privado de Ana {token}").count() == 1
    assert "Privado" in mine.locator("tr", has_text=f"Privado de Ana {token}").inner_text()

    # Ana renames it in the builder (saved with the version she read), then deletes it.
    mine.get_by_role("link", name=f"Privado de Ana {token}").click()
    ana.get_by_role("link", name="Editar").click()
    assert ana.input_value("#rpt-name") == f"Privado de Ana {token}"
    assert ana.input_value("#flt-value-0") == token
    ana.fill("#rpt-name", f"Mis ventas {token}")
    ana.click("button[value=save]")
    ana.wait_for_load_state()
    assert ana.locator("h1").inner_text() == f"Mis ventas {token}"
    assert web_site.call("ana", "GET", f"/api/v1/reports/{private['id']}")["version"] == private["version"] + 1
    ana.get_by_role("link", name="Eliminar").click()
    ana.click("main button[type=submit].button-danger")
    ana.wait_for_load_state()
    assert ana.locator(".flash").first.inner_text().strip().endswith(f"«Mis ventas {token}» eliminado.")
    web_site.call("ana", "GET", f"/api/v1/reports/{private['id']}", expect=404)
    ana.context.close()


def test_a_listing_report_shows_records_and_downloads_as_a_calendar(web_site: WebSite, token: str) -> None:
    _api_sums(web_site, token)
    name = f"Cierres {token}"
    report = web_site.call(
        "marta",
        "POST",
        "/api/v1/reports",
        {
            "module": "deals",
            "name": name,
            "filters": [{"field": "title", "operator": "contains", "values": [token]}],
            "columns": ["title", "owner_id", "amount", "expected_close_date"],
            "order_by": "expected_close_date",
        },
    )
    page = web_site.page("marta")
    page.goto(f"/reports/{report['id']}")
    rows = _row_texts(page)
    assert [r[0] for r in rows] == [f"{token} negocio {i}" for i in range(4)]
    assert rows[0][1:] == ["Ana Rep", money("1500000", "es-CO", "COP"), "10 dic 2026"]
    with page.expect_download() as info:
        page.get_by_role("link", name="Descargar calendario (.ics)").click()
    with open(info.value.path(), "rb") as f:
        calendar = f.read().decode()
    assert calendar.startswith("BEGIN:VCALENDAR")
    assert calendar.count("BEGIN:VEVENT") == 4
    assert f"{token} negocio 3" in calendar
    page.context.close()


def test_a_prefilled_link_becomes_the_definition_it_names() -> None:
    """The query other pages (the dashboard) link with: filters, groupings with their bucket, and
    calculations; a grouped link without a calculation counts."""
    from werkzeug.datastructures import MultiDict

    from crm_web.reports import Draft

    catalogue = {
        "deals": {
            "by_key": {
                "owner_id": {"date_buckets": ["none"]},
                "create_time": {"date_buckets": ["none", "day", "week", "month", "quarter", "year"]},
            }
        }
    }
    args = MultiDict(
        [
            ("module", "deals"),
            ("f.status", "won"),
            ("f.owner_id", "a"),
            ("f.owner_id", "b"),
            ("f.expected_close_date", "2026-01-01..2026-03-31"),
            ("f.probability", "50"),
            ("op.probability", "greater_or_equal"),
            ("group", "owner_id"),
            ("group", "create_time"),
            ("bucket", "quarter"),
        ]
    )
    definition = Draft.from_link(args, catalogue).definition()
    assert definition["filters"] == [
        {"field": "status", "operator": "equals", "values": ["won"]},
        {"field": "owner_id", "operator": "in", "values": ["a", "b"]},
        {"field": "expected_close_date", "operator": "between", "values": ["2026-01-01", "2026-03-31"]},
        {"field": "probability", "operator": "greater_or_equal", "values": ["50"]},
    ]
    assert definition["groupings"] == [
        {"field": "owner_id", "date_bucket": "none"},
        {"field": "create_time", "date_bucket": "quarter"},
    ]
    assert definition["aggregates"] == [{"function": "count", "field": ""}]
    summed = Draft.from_link(MultiDict([("module", "deals"), ("group", "owner_id"), ("agg", "sum:amount")]), catalogue)
    assert summed.definition()["aggregates"] == [{"function": "sum", "field": "amount"}]
