"""Browser journeys of the quote pages, in Chromium through the session platform (`web_site`,
conftest.py): a rep builds a quote of three catalogue products with a line discount and a global
discount in the editor, the live totals coming from `POST /api/v1/quotes:preview` as they type (a
bad quantity shows its error beside its line, and the totals come back once corrected); the total
on the page equals the saved quote's total (API) equals the total printed in its PDF (pypdf); sent
and accepted from the detail page, the deal takes the quote's amount and, its pipeline saying
"win on quote accepted", is won. A sent quote is revised into a new draft version and a rejection
keeps its reason. axe-core and screenshots (es, en; desktop and phone) for the editor, the list
and the detail page."""

from __future__ import annotations

import io
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_decimal
from pypdf import PdfReader

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


def _tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def _products(site: Any, tag: str) -> list[dict[str, Any]]:
    specs = [
        (f"QA{tag}-RTR", f"Router industrial {tag}", "1250000", "0.19"),
        (f"QA{tag}-SW", f"Switch gestionable {tag}", "350000", "0.19"),
        (f"QA{tag}-INS", f"Instalación en sitio {tag}", "99990", "0"),
    ]
    out = []
    for sku, name, price, rate in specs:
        body = {
            "sku": sku,
            "name": name,
            "kind": "product",
            "unit_price": {"amount": price, "currency_code": "COP"},
            "tax_rate": rate,
            "unit_of_measure": "unidad",
        }
        out.append(site.call("marta", "POST", "/api/v1/products", body))
    return out


def _deal(site: Any, tag: str, *, win_on_accept: bool) -> dict[str, Any]:
    """An open deal of Ana's with the seeded client and contact, in a pipeline of its own whose
    "win on quote accepted" is as asked."""
    pipeline = site.call(
        "marta",
        "POST",
        "/api/v1/pipelines",
        {"name": f"Ventas {tag}", "win_on_quote_accepted": win_on_accept},
    )
    assert pipeline["win_on_quote_accepted"] is win_on_accept
    body = {
        "title": f"Red de planta {tag}",
        "client_id": site.ids["client"],
        "contact_ids": [site.ids["contact"]],
        "pipeline_id": pipeline["id"],
        "amount": {"amount": "0", "currency_code": "COP"},
    }
    return dict(site.call("ana", "POST", "/api/v1/deals", body))


def _add_product(page: Any, text: str) -> None:
    count = page.locator("tr.quote-line").count()
    page.fill("#product-q", text)
    results = page.locator("#product-results li")
    expect(results).to_have_count(1)
    expect(results).to_contain_text(text)  # the answer to this search, not the one before
    result = results.locator("button[name=add_product]")
    result.click()
    expect(page.locator("tr.quote-line")).to_have_count(count + 1)


def _pdf_text(page: Any, quote_id: str, language: str) -> str:
    res = page.request.get(f"/quotes/{quote_id}/pdf?language={language}")
    assert res.status == 200 and res.headers["content-type"] == "application/pdf"
    assert "frame-ancestors 'self'" in res.headers["content-security-policy"]
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(res.body())).pages)


def test_a_quote_of_three_lines_totals_alike_on_the_page_in_the_api_and_in_its_pdf_and_acceptance_wins_the_deal(
    web_site: Any,
) -> None:
    tag = _tag()
    _products(web_site, tag)
    deal = _deal(web_site, tag, win_on_accept=True)
    page = web_site.page("ana", axe=True)
    try:
        page.goto(f"/quotes/new?deal_id={deal['id']}")
        expect(page.locator("h1")).to_have_text("Nueva cotización")
        expect(page.locator(".subtitle")).to_contain_text(deal["title"])
        for sku in ("RTR", "SW", "INS"):
            _add_product(page, f"QA{tag}-{sku}")
        # The totals come from the quotes service as soon as there are lines.
        expect(page.locator("#quote-total")).to_be_visible()

        page.fill("#f-lines-0-quantity", "2")
        page.fill("#f-lines-1-quantity", "3")
        page.fill("#f-lines-1-discount_rate", "10")
        page.fill("#f-global_discount_rate", "5")
        # By the rule (per line, half-up to the peso): 2 500 000 - 125 000 + 451 250;
        # 1 050 000 - 152 250 + 170 572.5 -> 170 573; 99 990 - 4 999.5 -> 5 000 + 0.
        expected = Decimal("2826250") + Decimal("1068323") + Decimal("94990")
        expect(page.locator("#quote-total")).to_have_attribute("data-amount", str(expected))
        expect(page.locator("#line-total-1")).to_contain_text("1.068.323")

        # A bad quantity: the error beside its line, no totals; corrected, the totals return.
        page.fill("#f-lines-2-quantity", "-1")
        expect(page.locator("#line-2-quantity-error")).to_contain_text("Escribe una cantidad mayor que 0")
        expect(page.locator("#f-lines-2-quantity")).to_have_attribute("aria-describedby", "line-2-quantity-error")
        expect(page.locator("#quote-total")).to_have_count(0)
        expect(page.locator("#line-0-quantity-error")).to_be_empty()
        page.fill("#f-lines-2-quantity", "1")
        expect(page.locator("#line-2-quantity-error")).to_be_empty()
        expect(page.locator("#quote-total")).to_have_attribute("data-amount", str(expected))
        shown = page.locator("#quote-total").inner_text()
        web_site.check_and_photograph(page, "quote-editor")

        page.click("button[name=action][value=save]")
        expect(page.locator(".flash-success")).to_contain_text("guardada como borrador")
        quote_id = re.search(r"/quotes/([0-9a-f-]{36})$", page.url).group(1)  # type: ignore[union-attr]
        saved = web_site.call("ana", "GET", f"/api/v1/quotes/{quote_id}")
        assert saved["status"] == "draft" and len(saved["lines"]) == 3
        assert Decimal(saved["total"]["amount"]) == expected
        assert saved["global_discount_rate"] == "0.05" and saved["lines"][1]["discount_rate"] == "0.1"
        expect(page.locator("#detail-total")).to_have_text(shown)

        # The PDF prints the same total ("Total COP" then the amount as Spanish writes it).
        text = _pdf_text(page, quote_id, "es")
        assert saved["number"] in text
        assert re.search(r"Total COP\s*" + re.escape(format_decimal(expected, "#,##0", locale="es")), text), text
        assert "Total COP" in _pdf_text(page, quote_id, "en")
        expect(page.locator("iframe.quote-pdf-frame")).to_have_attribute("src", re.compile(rf"/quotes/{quote_id}/pdf"))
        web_site.check_and_photograph(page, "quote-detail-draft")

        page.click("button:has-text('Marcar como enviada')")
        expect(page.locator(".flash-success")).to_contain_text("enviada")
        expect(page.locator("h1 .badge")).to_have_text("Enviada")
        page.click("button:has-text('Aceptada por el cliente')")
        expect(page.locator(".flash-success")).to_contain_text("aceptada")
        expect(page.locator("h1 .badge")).to_have_text("Aceptada")
        assert web_site.call("ana", "GET", f"/api/v1/quotes/{quote_id}")["status"] == "accepted"

        # The deals service reacts to the acceptance (an event): the deal takes the total and is won.
        won = None
        for _ in range(60):
            won = web_site.call("ana", "GET", f"/api/v1/deals/{deal['id']}")
            if won["status"] == "won" and Decimal(won["amount"]["amount"]) == expected:
                break
            page.wait_for_timeout(250)
        assert won is not None and won["status"] == "won", won
        assert Decimal(won["amount"]["amount"]) == expected and won["amount"]["currency_code"] == "COP"
        page.reload()
        expect(page.locator(".record-main .details")).to_contain_text("Ganado")
        web_site.check_and_photograph(page, "quote-detail")

        page.goto(f"/quotes/?deal_id={deal['id']}")
        row = page.locator("#quotes-table tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(saved["number"])
        expect(row).to_contain_text("Aceptada")
        expect(row).to_contain_text(shown)
        web_site.check_and_photograph(page, "quotes-list")
    finally:
        page.context.close()


def test_a_deal_whose_pipeline_does_not_win_on_acceptance_stays_open_with_the_quotes_amount(web_site: Any) -> None:
    tag = _tag()
    product = _products(web_site, tag)[2]
    deal = _deal(web_site, tag, win_on_accept=False)
    body = {"deal_id": deal["id"], "lines": [{"product_id": product["id"], "quantity": "4"}]}
    quote = web_site.call("ana", "POST", "/api/v1/quotes", body)
    page = web_site.page("ana")
    try:
        page.goto(f"/quotes/{quote['id']}")
        page.click("button:has-text('Marcar como enviada')")
        page.click("button:has-text('Aceptada por el cliente')")
        expect(page.locator("h1 .badge")).to_have_text("Aceptada")
        now = None
        for _ in range(60):
            now = web_site.call("ana", "GET", f"/api/v1/deals/{deal['id']}")
            if now["amount"]["amount"] == quote["total"]["amount"]:
                break
            page.wait_for_timeout(250)
        assert now is not None and Decimal(now["amount"]["amount"]) == Decimal(quote["total"]["amount"])
        assert now["status"] == "open"
    finally:
        page.context.close()


def test_a_sent_quote_is_revised_into_a_new_draft_and_a_rejection_keeps_its_reason(web_site: Any) -> None:
    tag = _tag()
    products = _products(web_site, tag)
    deal = _deal(web_site, tag, win_on_accept=False)
    body = {"deal_id": deal["id"], "lines": [{"product_id": products[0]["id"], "quantity": "1"}]}
    quote = web_site.call("ana", "POST", "/api/v1/quotes", body)
    quote = web_site.call("ana", "POST", f"/api/v1/quotes/{quote['id']}:send", {})
    page = web_site.page("ana", lang="en", axe=True)
    try:
        page.goto(f"/quotes/{quote['id']}")
        expect(page.locator("h1 .badge")).to_have_text("Sent")
        page.click("button:has-text('Make a new version')")
        expect(page.locator("h1")).to_contain_text(f"{quote['number']}-R1")
        expect(page.locator("tr.quote-line")).to_have_count(1)
        expect(page.locator("#quote-total")).to_have_attribute("data-amount", quote["total"]["amount"])
        _add_product(page, f"QA{tag}-SW")
        page.fill("#f-lines-1-quantity", "2")
        expect(page.locator("#line-total-1")).to_contain_text("833,000")
        web_site.check_and_photograph(page, "quote-editor")
        page.click("button[name=action][value=send]")
        expect(page.locator(".flash-success")).to_contain_text("sent")
        revision = web_site.call("ana", "GET", f"/api/v1/quotes?root_number={quote['number']}")["items"]
        assert [(q["number"], q["status"]) for q in revision] == [(f"{quote['number']}-R1", "sent")]
        old = web_site.call("ana", "GET", f"/api/v1/quotes/{quote['id']}")
        assert old["status"] == "superseded" and old["superseded_by_quote_id"] == revision[0]["id"]
        assert Decimal(revision[0]["total"]["amount"]) == Decimal("1487500") + Decimal("833000")
        expect(page.locator(".quote-pdf-languages a[aria-current=true]")).to_have_text("English")
        web_site.check_and_photograph(page, "quote-detail")

        page.locator(".reject-box summary").click()
        page.fill("#f-reason", "Prefieren otro proveedor")
        page.click("button:has-text('Record the rejection')")
        expect(page.locator("h1 .badge")).to_have_text("Rejected")
        expect(page.locator(".record-main .details")).to_contain_text("Prefieren otro proveedor")
        rejected = web_site.call("ana", "GET", f"/api/v1/quotes/{revision[0]['id']}")
        assert rejected["status"] == "rejected" and rejected["rejection_reason"] == "Prefieren otro proveedor"

        page.goto("/quotes/?status=rejected")
        expect(page.locator("#quotes-table")).to_contain_text(revision[0]["number"])
        expect(page.locator("#quotes-table")).not_to_contain_text("Accepted")
        web_site.check_and_photograph(page, "quotes-list")
    finally:
        page.context.close()


def test_another_rep_cannot_open_or_quote_anas_deal(web_site: Any) -> None:
    tag = _tag()
    product = _products(web_site, tag)[0]
    deal = _deal(web_site, tag, win_on_accept=False)
    quote = web_site.call(
        "ana",
        "POST",
        "/api/v1/quotes",
        {"deal_id": deal["id"], "lines": [{"product_id": product["id"], "quantity": "1"}]},
    )
    web_site.add_user(f"carla{tag.lower()}", "Carla Otra", "rep")
    page = web_site.page(f"carla{tag.lower()}")
    try:
        res = page.goto(f"/quotes/{quote['id']}")
        assert res is not None and res.status == 404
        page.goto("/quotes/")
        expect(page.locator("#quotes-table")).not_to_contain_text(quote["number"])
        res = page.goto(f"/quotes/new?deal_id={deal['id']}")
        assert res is not None and res.status == 404
    finally:
        page.context.close()
