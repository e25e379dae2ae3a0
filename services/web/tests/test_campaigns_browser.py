"""Browser journeys of the campaign pages, in Chromium through the session platform (`web_site`,
conftest.py): a manager creates a telemarketing campaign for a segment seeded through the API,
sees the segment preview count the API gives, and launches it for Ana and Beto; Ana opens her
call list, logs "interested → deal" on one member and "interested → prospect" on another, and the
deal exists for her in the API and on her board; the manager's spend entry shows in the results
with the cost per lead the API computes; a rep cannot see a social-ads campaign's webhook secret
(neither that campaign's page nor the secret of a call list she works), while its manager sees
the addresses to paste. axe-core and screenshots (es, en; desktop and phone) for the list, the
create form, a campaign page and the call list."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from crm_web.formatting import money

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


def _seed_segment(site: Any, tag: str) -> dict[str, Any]:
    """A client tagged `tag` with four reachable contacts and one without a phone (skipped on a
    call list), and a prospect of Ana's (outside a contacts segment)."""
    client = site.call(
        "marta",
        "POST",
        "/api/v1/clients",
        {"name": f"Distribuidora {tag}", "segment_tags": [tag], "force_duplicate": True},
    )
    for i, first in enumerate(("Carolina", "Diego", "Elena", "Fabián")):
        body = {
            "client_id": client["id"],
            "first_name": first,
            "last_name": tag,
            "phones": [f"+57310{uuid.uuid4().int % 10_000_000:07d}"],
            "email": f"{first.lower()}.{i}.{tag}@example.com",
        }
        site.call("marta", "POST", "/api/v1/contacts", body)
    site.call("marta", "POST", "/api/v1/contacts", {"client_id": client["id"], "first_name": "Sin", "last_name": tag})
    site.call(
        "ana",
        "POST",
        "/api/v1/prospects",
        {"company_name": f"Prospecto {tag}", "first_name": "Gabriel", "force_duplicate": True},
    )
    return dict(client)


def _wait(check: Any, what: str, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_telemarketing_campaign_from_creation_to_a_reps_deal_and_its_cost_per_lead(web_site: Any) -> None:
    tag = f"tlm{uuid.uuid4().hex[:6]}"
    _seed_segment(web_site, tag)
    name = f"Llamadas {tag}"

    page = web_site.page("marta", axe=True)
    try:
        page.goto("/campaigns/new")
        expect(page.get_by_role("link", name="Telemercadeo")).to_be_visible()
        page.get_by_role("link", name="Telemercadeo").click()
        page.fill("#f-name", name)
        page.fill("#f-budget-amount", "1.000.000")
        page.select_option("#f-budget-currency_code", "COP")
        page.select_option("#f-target-kind", "contacts")
        page.fill("#f-target-segment_tags", tag)
        web_site.check_and_photograph(page, "campaigns-new-telemarketing")
        page.get_by_role("button", name="Crear campaña").click()
        expect(page.locator(".flash, [role=status]").first).to_be_visible()
        expect(page.locator("h1")).to_contain_text(name)
        campaign_id = page.url.rstrip("/").split("/")[-1]

        # The preview on the page is the API's: how many, and who.
        api_preview = web_site.call("marta", "GET", f"/api/v1/campaigns/{campaign_id}/segment-preview")
        assert api_preview["member_count"] == 5 and api_preview["skipped_count"] == 1
        expect(page.locator("#preview-count")).to_have_text(str(api_preview["member_count"]))
        expect(page.locator(".preview-sample")).to_contain_text("Carolina")
        web_site.check_and_photograph(page, "campaigns-draft")

        page.get_by_role("link", name="Lanzar…").click()
        expect(page.locator("#preview-count")).to_have_text("5")
        page.get_by_label("Ana Rep", exact=False).check()
        page.get_by_label("Beto Rep", exact=False).check()
        page.get_by_role("button", name="Lanzar campaña").click()
        expect(page.locator("main")).to_contain_text("Campaña lanzada: 5 miembros (1 omitidos).")
        members = web_site.call("marta", "GET", f"/api/v1/campaigns/{campaign_id}/members", page_size=50)["items"]
        reps = {m["assigned_rep_id"] for m in members if m["status"] == "pending"}
        assert reps == {web_site.ids["ana"], web_site.ids["beto"]}
        expect(page.locator("#members-table tbody tr")).to_have_count(5)
    finally:
        page.context.close()

    anas = [m for m in members if m["assigned_rep_id"] == web_site.ids["ana"]]
    ana = web_site.page("ana", axe=True)
    try:
        ana.goto("/campaigns/")
        expect(ana.locator("#h-call-lists")).to_be_visible()
        web_site.check_and_photograph(ana, "campaigns-list")
        ana.locator(".call-lists").get_by_role("link", name=name).click()
        expect(ana.locator("h1")).to_have_text("Mi lista de llamadas")
        expect(ana.locator(".call-card")).to_have_count(len(anas))
        web_site.check_and_photograph(ana, "campaigns-call-list")
        english = web_site.page("ana", lang="en", axe=True)
        try:
            english.goto(f"/campaigns/{campaign_id}/calls")
            expect(english.locator("h1")).to_have_text("My call list")
            expect(english.get_by_role("button", name="Interested → deal").first).to_be_visible()
            web_site.check_and_photograph(english, "campaigns-call-list")
        finally:
            english.context.close()

        first, second = anas[0], anas[1]
        card = ana.locator(f"#m-{first['id']}")
        card.get_by_role("button", name="Volver a llamar").click()
        expect(ana.locator("main")).to_contain_text("No se registró la llamada: call_back_time")
        card.locator("input[name=call_back_time]").fill("2026-12-15T10:30")
        card.get_by_role("button", name="Volver a llamar").click()
        expect(card).to_contain_text("volver a llamar el 15 dic 2026, 10:30")
        card.locator("input[name=deal_amount]").fill("2.500.000")
        card.get_by_role("button", name="Interesado → negocio").click()
        expect(ana.locator("main")).to_contain_text("negocio abierto a tu nombre")
        ana.locator(f"#m-{second['id']}").get_by_role("button", name="Interesado → prospecto").click()
        expect(ana.locator("main")).to_contain_text("prospecto creado")

        deals = web_site.call("ana", "GET", "/api/v1/deals", owner_id=web_site.ids["ana"], page_size=500)["items"]
        deal = next(d for d in deals if d.get("source_campaign_id") == campaign_id)
        assert deal["amount"]["amount"].startswith("2500000") and deal["amount"]["currency_code"] == "COP"
        ana.goto("/deals/board")
        expect(ana.locator("main").get_by_role("link", name=deal["title"])).to_be_visible()

        # Ana works the call list without managing the campaign: no secret, no spend, no results.
        ana.goto(f"/campaigns/{campaign_id}")
        secret = web_site.call("marta", "GET", f"/api/v1/campaigns/{campaign_id}")["webhook_secret"]
        assert secret and secret not in ana.content()
        expect(ana.locator("#h-webhooks")).to_have_count(0)
        expect(ana.locator("#spend")).to_have_count(0)
        expect(ana.locator("#members-table tbody tr")).to_have_count(len(anas))
    finally:
        ana.context.close()

    page = web_site.page("marta")
    try:
        page.goto(f"/campaigns/{campaign_id}")
        page.fill("#f-spend_date", "2026-12-01")
        page.fill("#f-amount-amount", "300.000")
        page.fill("#f-description", "Llamadas tercerizadas")
        page.get_by_role("button", name="Registrar gasto").click()
        expect(page.locator("main")).to_contain_text("Gasto registrado.")

        def figures() -> Any:
            r = web_site.call("marta", "GET", f"/api/v1/campaigns/{campaign_id}/results")
            return r if r.get("cost_per_lead") and r.get("deals_opened") == 1 else None

        results = _wait(figures, "the results to count the lead and the deal")
        assert results["cost"]["amount"].startswith("300000") and results["leads"] == 1
        page.reload()
        expect(page.locator("#cost-per-lead")).to_have_text(money(results["cost_per_lead"], "es-CO"))
        expect(page.locator("#results")).to_contain_text("Negocios abiertos")
    finally:
        page.context.close()


def test_only_who_manages_a_social_ads_campaign_sees_its_webhook_secret(web_site: Any) -> None:
    name = f"Google Ads {uuid.uuid4().hex[:6]}"
    campaign = web_site.call("marta", "POST", "/api/v1/campaigns", {"name": name, "type": "social_ads"})
    secret = campaign["webhook_secret"]
    assert secret
    ana = web_site.page("ana")
    try:
        res = ana.goto(f"/campaigns/{campaign['id']}")
        assert res is not None and res.status == 404
        assert secret not in ana.content()
        ana.goto("/campaigns/")
        expect(ana.locator("main")).not_to_contain_text(name)
    finally:
        ana.context.close()
    for lang in ("es", "en"):
        page = web_site.page("marta", lang=lang, axe=True)
        try:
            page.goto(f"/campaigns/{campaign['id']}")
            expect(page.locator(".webhook-list")).to_contain_text(secret)
            expect(page.locator(".webhook-list")).to_contain_text(f"/api/v1/webhooks/google-ads/{campaign['id']}")
            web_site.check_and_photograph(page, "campaigns-social-ads")
        finally:
            page.context.close()


def test_a_trade_fairs_leads_import_with_the_row_report(web_site: Any) -> None:
    """The lead import of a trade fair: the dry run reports the bad row and creates nothing; the
    import creates the good rows as prospects of the campaign."""
    tag = uuid.uuid4().hex[:6]
    campaign = web_site.call("marta", "POST", "/api/v1/campaigns", {"name": f"Feria {tag}", "type": "trade_fair"})
    web_site.call("marta", "POST", f"/api/v1/campaigns/{campaign['id']}:launch", {}, expect=200)
    csv = (
        "nombre,apellido,empresa,correo,telefono\n"
        f"Irene,Feria,Aceros {tag},irene.{tag}@example.com,+573201110001\n"
        f"Julián,Feria,Telas {tag},julian.{tag}@example.com,+573201110002\n"
        f",,,no-es-un-correo-{tag},\n"
    )
    page = web_site.page("marta", axe=True)
    try:
        page.goto(f"/campaigns/{campaign['id']}")
        page.get_by_role("link", name="Importar contactos").click()
        page.set_input_files("#f-file", files=[{"name": "feria.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
        page.get_by_role("button", name="Revisar el archivo").click()
        expect(page.locator("#import-problems tbody tr")).to_have_count(1)
        assert web_site.call("marta", "GET", "/api/v1/prospects", source_campaign_id=campaign["id"])["items"] == []
        web_site.check_and_photograph(page, "campaigns-leads-import")
        page.get_by_role("button", name="Importar 2 contactos").click()
        expect(page.locator("main")).to_contain_text("Importación terminada: 2 prospectos creados.")
    finally:
        page.context.close()
    members = web_site.call("marta", "GET", f"/api/v1/campaigns/{campaign['id']}/members")["items"]
    assert sorted(m["display_name"].split()[0] for m in members) == ["Irene", "Julián"]


def test_pages_in_english(web_site: Any) -> None:
    """The list, the create forms (the mailing one lists its merge fields) and the call list page
    read in English, and pass axe."""
    page = web_site.page("marta", lang="en", axe=True)
    try:
        page.goto("/campaigns/")
        expect(page.locator("h1")).to_have_text("Campaigns")
        web_site.check_and_photograph(page, "campaigns-list")
        page.goto("/campaigns/new?kind=mailing")
        expect(page.locator(".merge-fields")).to_contain_text("{{ first_name }}")
        expect(page.locator(".merge-fields")).to_contain_text("unsubscribe link")
        web_site.check_and_photograph(page, "campaigns-new-mailing")
        page.goto("/campaigns/new?kind=telemarketing")
        web_site.check_and_photograph(page, "campaigns-new-telemarketing")
    finally:
        page.context.close()
