"""Indicadores and Presupuestos in a browser (the session platform of conftest.py): a manager sets
Ana's budget for this month in the grid, Ana wins a deal through the API, and the dashboard's
attainment bar and the figure beside it change to the exact value the API computes (won amount /
target); a rep sees only their own figures; axe-core and screenshots of both pages."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_web.formatting import percent

pytestmark = pytest.mark.slow

TARGET = Decimal("12000000")
WON = Decimal("3000000")
# The seeded users' password (conftest.py, which is not importable under --import-mode=importlib).
PASSWORD = "una clave larga 123"


def _this_month() -> str:
    # The company's time zone (the reporting service's default), where periods are counted.
    return datetime.now(UTC).astimezone(ZoneInfo("America/Bogota")).date().replace(day=1).isoformat()


def _ana_attainment(site: Any, month: str) -> dict[str, Any]:
    figures = site.call("marta", "GET", "/api/v1/indicators", scope="user", id=site.ids["ana"], start=month)
    cop = [a for a in figures["budget_attainments"] if a["target"]["currency_code"] == "COP"]
    return cop[0] if cop else {}


def _wait_for(check: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_a_budget_set_in_the_grid_and_a_won_deal_move_the_attainment_bar_to_the_exact_value(web_site: Any) -> None:
    site, month = web_site, _this_month()
    page = site.page("marta")
    page.goto("/budgets/?currency=COP")
    cell = page.locator(f'tr[data-row="Ana Rep"] td[data-period="{month}"]')
    # A bad figure is refused by the API, and the error shows beside the cell; nothing is saved.
    cell.locator("input[name=amount]").fill("12.000.000,5")
    cell.locator("button[type=submit]").click()
    cell = page.locator(f'tr[data-row="Ana Rep"] td[data-period="{month}"]')
    cell.locator(".error-message").wait_for()
    assert not site.call("marta", "GET", "/api/v1/budgets", user_id=site.ids["ana"], period_start_from=month)["items"]
    cell.locator("input[name=amount]").fill(str(TARGET))
    cell.locator("button[type=submit]").click()
    page.locator(f'tr[data-row="Ana Rep"] td[data-period="{month}"] .bud-saved').wait_for()
    saved = site.call("marta", "GET", "/api/v1/budgets", user_id=site.ids["ana"], period_start_from=month)["items"]
    assert [(b["period_kind"], b["period_start"], Decimal(b["target"]["amount"])) for b in saved] == [
        ("month", month, TARGET)
    ]
    # The cell shows the attainment beside the target, as the API computes it.
    before = _wait_for(lambda: _ana_attainment(site, month))
    shown = page.locator(f'tr[data-row="Ana Rep"] td[data-period="{month}"] .bud-attainment')
    assert shown.get_attribute("data-attainment") == before["attainment"]

    page.goto(f"/indicators/?who=team:{site.ids['team']}&period=month&start={month}")
    row = page.locator('#attainment tr[data-person="Ana Rep"]')
    assert row.locator(".ind-figure").inner_text() == percent(before["attainment"], "es-CO")
    assert Decimal(row.locator("meter").get_attribute("value") or "") == Decimal(before["attainment"])
    page.locator("canvas[data-chart='attainment-COP']").wait_for()

    # Ana wins a deal through the API.
    deal = site.call(
        "ana",
        "POST",
        "/api/v1/deals",
        {
            "title": f"Negocio indicadores {uuid.uuid4().hex[:6]}",
            "client_id": site.ids["client"],
            "amount": {"amount": str(WON), "currency_code": "COP"},
        },
    )
    site.call("ana", "POST", f"/api/v1/deals/{deal['id']}:win", {})
    achieved_before = Decimal(before["achieved"]["amount"])
    after = _wait_for(
        lambda: (a := _ana_attainment(site, month)) and Decimal(a["achieved"]["amount"]) != achieved_before and a
    )
    assert Decimal(after["achieved"]["amount"]) == achieved_before + WON
    expected = (achieved_before + WON) / TARGET
    assert Decimal(after["attainment"]) == expected.quantize(Decimal("0.0001"))

    page.reload()
    row = page.locator('#attainment tr[data-person="Ana Rep"]')
    assert row.locator(".ind-figure").inner_text() == percent(after["attainment"], "es-CO")
    assert Decimal(row.locator("meter").get_attribute("value") or "") == expected.quantize(Decimal("0.0001"))
    assert row.locator("meter").get_attribute("value") != before["attainment"]
    # Beto has no target and no sale: his row says so rather than being left out.
    beto = page.locator('#attainment tr[data-person="Beto Rep"]')
    assert beto.locator(".ind-figure").inner_text() == "sin meta"

    # The chart links to the report of its records: the won deals of the period, by owner.
    href = page.locator("#attainment .ind-head a").get_attribute("href") or ""
    assert href.startswith("/reports/new?module=deals") and "f.status=won" in href and "group=owner_id" in href
    res = page.goto(href)
    assert res is not None and res.status == 200
    assert "Ana Rep" in page.locator("main").inner_text()
    page.context.close()


def test_a_rep_sees_only_their_own_figures(web_site: Any) -> None:
    site = web_site
    page = site.page("beto")
    page.goto("/indicators/")
    assert page.locator("h1").inner_text() == "Indicadores"
    text = page.locator("main").inner_text()
    assert "Beto Rep" in text
    html = page.content()  # the charts' data block included
    for other in ("Ana Rep", "Marta Gerente", "Norte", site.ids["ana"], site.ids["marta"]):
        assert other not in html, other
    assert page.locator("#ind-who").count() == 0  # nobody else to choose
    # Another person's figures are not found, as the API answers.
    res = page.goto(f"/indicators/?who=user:{site.ids['ana']}")
    assert res is not None and res.status == 404
    page.goto("/budgets/")
    text = page.locator("main").inner_text()
    assert "Beto Rep" in text and "Ana Rep" not in text
    assert page.locator("#budgets-grid input[name=amount]").count() == 0  # reps set no targets
    page.context.close()


@pytest.mark.parametrize("lang", ["es", "en"])
def test_dashboard_and_budgets_pass_axe_and_are_photographed(web_site: Any, lang: str) -> None:
    site = web_site
    page = site.page("marta", lang=lang, axe=True)
    page.goto(f"/indicators/?who=team:{site.ids['team']}")
    page.locator("canvas[data-chart]").first.wait_for()
    site.check_and_photograph(page, "indicators-team")
    page.goto("/budgets/")
    site.check_and_photograph(page, "budgets-grid")
    page.context.close()
    admin = site.page("admin", lang=lang, axe=True)
    admin.goto("/indicators/")
    assert admin.locator("#ind-who option:checked").inner_text() in ("Toda la empresa", "The whole company")
    site.check_and_photograph(admin, "indicators-company")
    admin.context.close()


def test_a_manager_sets_a_team_target_by_quarter_and_cannot_set_their_own(web_site: Any) -> None:
    site = web_site
    quarter = _this_month()[:5] + f"{3 * ((int(_this_month()[5:7]) - 1) // 3) + 1:02d}-01"
    page = site.page("marta")
    page.goto("/budgets/?period=quarter&currency=USD")
    # Her own row is shown without an input: her targets are the admin's to set.
    assert page.locator('tr[data-row="Marta Gerente"]').count() == 1
    assert page.locator('tr[data-row="Marta Gerente"] input[name=amount]').count() == 0
    assert page.locator('tr[data-row="Ana Rep"] input[name=amount]').count() == 4  # four quarters
    page.goto("/budgets/?period=quarter&currency=USD&rows=teams")
    cell = page.locator(f'tr[data-row="Norte"] td[data-period="{quarter}"]')
    cell.locator("input[name=amount]").fill("45000.50")
    cell.locator("input[name=amount]").press("Enter")
    page.locator(f'tr[data-row="Norte"] td[data-period="{quarter}"] .bud-saved').wait_for()
    items = site.call("marta", "GET", "/api/v1/budgets", team_id=site.ids["team"], period_kind="quarter")["items"]
    own = [b for b in items if not b.get("user_id") and b["period_start"] == quarter]
    assert [(Decimal(b["target"]["amount"]), b["target"]["currency_code"]) for b in own] == [
        (Decimal("45000.50"), "USD")
    ]
    # Emptying the cell removes the target.
    cell = page.locator(f'tr[data-row="Norte"] td[data-period="{quarter}"]')
    cell.locator("input[name=amount]").fill("")
    cell.locator("button[type=submit]").click()
    page.wait_for_function(
        'q => !document.querySelector(`tr[data-row="Norte"] td[data-period="${q}"] input[name=budget_id]`).value',
        arg=quarter,
    )
    items = site.call("marta", "GET", "/api/v1/budgets", team_id=site.ids["team"], period_kind="quarter")["items"]
    assert not [b for b in items if not b.get("user_id") and b["period_start"] == quarter]
    page.context.close()


def test_without_javascript_a_refused_target_comes_back_with_its_error_beside_the_cell(web_site: Any) -> None:
    site, month = web_site, _this_month()
    context = site.browser.new_context(base_url=site.web, java_script_enabled=False)
    page = context.new_page()
    page.goto("/signin")
    page.fill("#f-email", site.emails["marta"])
    page.fill("#f-password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto("/budgets/?currency=PEN")
    cell = page.locator(f'tr[data-row="Beto Rep"] td[data-period="{month}"]')
    cell.locator("input[name=amount]").fill("-5")
    cell.locator("button[type=submit]").click()
    # The whole grid comes back (a plain form post), the typed value and the API's words in the cell.
    cell = page.locator(f'tr[data-row="Beto Rep"] td[data-period="{month}"]')
    assert cell.locator("input[name=amount]").input_value() == "-5"
    assert cell.locator(".error-message").inner_text().strip()
    assert cell.locator("input[name=amount]").get_attribute("aria-invalid") == "true"
    assert not site.call("marta", "GET", "/api/v1/budgets", user_id=site.ids["beto"], period_start_from=month)["items"]
    cell.locator("input[name=amount]").fill("700")
    cell.locator("button[type=submit]").click()
    assert page.locator(".flash-success").count() == 1
    saved = site.call("marta", "GET", "/api/v1/budgets", user_id=site.ids["beto"], period_start_from=month)["items"]
    assert [(Decimal(b["target"]["amount"]), b["target"]["currency_code"]) for b in saved] == [(Decimal("700"), "PEN")]
    context.close()


def test_an_admin_reads_each_teams_attainment_from_the_one_breakdown_call(web_site: Any) -> None:
    """The company's dashboard and the budgets grid by teams show each team's attainment as the
    team's own indicators give it (both pages ask the API once for every team)."""
    site, month = web_site, _this_month()
    team = site.ids["team"]
    name = site.call("admin", "GET", f"/api/v1/teams/{team}")["name"]
    budget = {"team_id": team, "period_kind": "month", "period_start": month}
    site.call("admin", "POST", "/api/v1/budgets", budget | {"target": {"amount": "1000", "currency_code": "MXN"}})
    deal = site.call(
        "ana",
        "POST",
        "/api/v1/deals",
        {
            "title": f"Negocio por equipos {uuid.uuid4().hex[:6]}",
            "client_id": site.ids["client"],
            "amount": {"amount": "250", "currency_code": "MXN"},
        },
    )
    site.call("ana", "POST", f"/api/v1/deals/{deal['id']}:win", {})

    def team_mxn() -> dict[str, Any]:
        figures = site.call("admin", "GET", "/api/v1/indicators", scope="team", id=team, period="month", start=month)
        mxn = [a for a in figures["budget_attainments"] if a["target"]["currency_code"] == "MXN"]
        return mxn[0] if mxn and mxn[0]["achieved"]["amount"] != "0.00" else {}

    expected = _wait_for(team_mxn)
    assert expected["attainment"] == "0.2500"

    page = site.page("admin")
    page.goto(f"/indicators/?who=company&period=month&start={month}")
    tables = page.locator("#attainment .table-wrap", has=page.locator("caption", has_text="MXN"))
    row = tables.locator(f'tr[data-person="{name}"]')
    assert row.locator(".ind-figure").get_attribute("data-attainment") == expected["attainment"]
    assert row.locator(".ind-figure").inner_text() == percent(expected["attainment"], "es-CO")

    page.goto("/budgets/?rows=teams&currency=MXN")
    cell = page.locator(f'tr[data-row="{name}"] td[data-period="{month}"] .bud-attainment')
    assert cell.get_attribute("data-attainment") == expected["attainment"]
    page.context.close()
