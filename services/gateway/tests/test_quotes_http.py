"""Quotes through the gateway against the real quotes, deals and contacts services: a rep quotes
their own deal, sees and works only their own quotes (a manager their team's, an admin all); bad
input (negative quantity or price, unknown or inactive product, another rep's deal) is a 400 naming
the field with nothing changed; a sent quote is frozen; an expired quote cannot be accepted; the
actions :send, :accept, :reject, :revise; and the PDF, whose text holds the number, the client's
name with its accents, every line and the total."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from pypdf import PdfReader
from sqlalchemy import update

from crm_quotes.adapters.tables import quotes

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _deal(stack: Stack, who: str, client_name: str = "Compañía Ñandú Müller") -> dict[str, Any]:
    client = _post(stack, who, "/api/v1/clients", {"name": client_name, "force_duplicate": True})
    assert client.status_code == 201, client.get_json()
    cid = client.get_json()["id"]
    contact = _post(stack, who, "/api/v1/contacts", {"client_id": cid, "first_name": "José", "last_name": "Peña"})
    assert contact.status_code == 201, contact.get_json()
    deal = _post(
        stack,
        who,
        "/api/v1/deals",
        {
            "title": "Cámaras térmicas",
            "client_id": cid,
            "contact_ids": [contact.get_json()["id"]],
            "amount": {"amount": "0", "currency_code": "USD"},
        },
    )
    assert deal.status_code == 201, deal.get_json()
    return dict(deal.get_json())


def _product(stack: Stack, sku: str, price: str = "100", active: bool = True) -> dict[str, Any]:
    body = {
        "sku": sku,
        "name": f"Cámara {sku}",
        "kind": "product",
        "unit_price": {"amount": price, "currency_code": "USD"},
        "tax_rate": "0.19",
        "active": active,
    }
    res = _post(stack, "admin", "/api/v1/products", body)
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def _quotes_of(stack: Stack, deal_id: str) -> list[dict[str, Any]]:
    res = stack.http.get(f"/api/v1/quotes?deal_id={deal_id}&include_superseded=true", headers=stack.auth("admin"))
    return list(res.get_json()["items"])


def test_a_rep_quotes_their_deal_and_only_the_right_people_see_it(stack: Stack) -> None:
    deal = _deal(stack, "ana")
    a, b = _product(stack, "GQ-A1", "1250.50"), _product(stack, "GQ-B1", "99.99")
    lines = [
        {"product_id": a["id"], "quantity": "2"},
        {"product_id": b["id"], "quantity": "3", "discount_rate": "0.1"},
    ]
    body = {"deal_id": deal["id"], "lines": lines}
    res = _post(stack, "ana", "/api/v1/quotes", body, **{"Idempotency-Key": "q-ana-1"})
    assert res.status_code == 201, res.get_json()
    quote = res.get_json()
    assert res.headers["Location"].endswith(f"/api/v1/quotes/{quote['id']}") and res.headers["ETag"] == '"1"'
    assert quote["number"].startswith("COT-") and quote["status"] == "draft" and quote["owner_id"] == stack.id("ana")
    assert quote["client_id"] == deal["client_id"] and quote["contact_id"] == deal["contact_ids"][0]
    assert [ln["total"]["amount"] for ln in quote["lines"]] == ["2976.19", "321.26"]
    assert quote["total"] == {"currency_code": "USD", "amount": "3297.45"}
    # Rates are fractions both ways (the quotes service keeps percentages: converted at the edge).
    assert [ln["discount_rate"] for ln in quote["lines"]] == ["0", "0.1"] and quote["global_discount_rate"] == "0"
    assert not any("percent" in key for ln in quote["lines"] for key in ln) and "global_discount_percent" not in quote
    again = _post(stack, "ana", "/api/v1/quotes", body, **{"Idempotency-Key": "q-ana-1"})
    assert again.get_json()["id"] == quote["id"] and len(_quotes_of(stack, deal["id"])) == 1

    url = f"/api/v1/quotes/{quote['id']}"
    for who, status in (("ana", 200), ("marta", 200), ("admin", 200), ("beto", 404), ("carla", 404)):
        assert stack.http.get(url, headers=stack.auth(who)).status_code == status, who
    listed = stack.http.get(f"/api/v1/quotes?deal_id={deal['id']}", headers=stack.auth("carla")).get_json()
    assert listed["items"] == []
    # Another rep cannot quote Ana's deal: it is answered as an unknown deal.
    other = _post(stack, "carla", "/api/v1/quotes", body)
    assert other.status_code == 400 and other.get_json()["code"] == "deal_not_found"
    assert other.get_json()["field"] == "deal_id"
    beto = _post(stack, "beto", f"{url}:send", {})
    assert beto.status_code == 404
    assert len(_quotes_of(stack, deal["id"])) == 1


def test_bad_quotes_are_400_naming_the_field_and_nothing_is_written(stack: Stack) -> None:
    deal = _deal(stack, "ana")
    ok = _product(stack, "GQ-OK")
    off = _product(stack, "GQ-OFF", active=False)
    cases = [
        ({"product_id": ok["id"], "quantity": "-1"}, "lines[0].quantity", "validation_failed"),
        ({"product_id": ok["id"], "quantity": "1", "unit_price": {"amount": "-5", "currency_code": "USD"}},
         "lines[0].unit_price.amount", "validation_failed"),
        ({"product_id": UNKNOWN, "quantity": "1"}, "lines[0].product_id", "product_not_found"),
        ({"product_id": off["id"], "quantity": "1"}, "lines[0].product_id", "product_inactive"),
    ]  # fmt: skip
    for line, field, code in cases:
        res = _post(stack, "ana", "/api/v1/quotes", {"deal_id": deal["id"], "lines": [line]})
        problem = res.get_json()
        assert res.status_code == 400, problem
        fields = {e["field"] for e in problem.get("errors", [])} | {problem.get("field")}
        assert field in fields and problem["code"] in (code, "invalid_argument"), problem
    unknown_deal = _post(
        stack, "admin", "/api/v1/quotes", {"deal_id": UNKNOWN, "lines": [cases[0][0] | {"quantity": "1"}]}
    )
    assert unknown_deal.status_code == 400 and unknown_deal.get_json()["code"] == "deal_not_found"
    assert _quotes_of(stack, deal["id"]) == []


def test_the_life_cycle_through_the_actions(stack: Stack) -> None:
    deal = _deal(stack, "ana")
    product = _product(stack, "GQ-L1", "10")
    body = {"deal_id": deal["id"], "lines": [{"product_id": product["id"], "quantity": "5"}]}
    quote = _post(stack, "ana", "/api/v1/quotes", body).get_json()
    url = f"/api/v1/quotes/{quote['id']}"
    patched = stack.http.patch(url, json={"terms": "Pago a 30 días", "global_discount_rate": "0.1"},
                               headers={**stack.auth("ana"), "If-Match": '"1"'})  # fmt: skip
    assert patched.status_code == 200 and patched.get_json()["total"]["amount"] == "53.55"
    assert patched.get_json()["global_discount_rate"] == "0.1"
    percent = stack.http.patch(url, json={"global_discount_rate": "10"}, headers=stack.auth("ana"))
    assert percent.status_code == 400 and percent.get_json()["errors"][0]["field"] == "global_discount_rate"
    sent = _post(stack, "ana", f"{url}:send", {}, **{"If-Match": '"2"'})
    assert sent.status_code == 200 and sent.get_json()["status"] == "sent"
    frozen = stack.http.patch(url, json={"terms": "otra"}, headers=stack.auth("ana"))
    assert frozen.status_code == 400 and frozen.get_json()["code"] == "quote_not_editable"
    assert stack.http.get(url, headers=stack.auth("ana")).get_json() == sent.get_json()

    revised = _post(stack, "marta", f"{url}:revise", {})
    assert revised.status_code == 201, revised.get_json()
    r1 = revised.get_json()
    assert r1["number"] == f"{quote['number']}-R1" and r1["status"] == "draft" and r1["total"]["amount"] == "53.55"
    assert revised.headers["Location"].endswith(f"/api/v1/quotes/{r1['id']}")
    assert stack.http.get(url, headers=stack.auth("ana")).get_json()["status"] == "superseded"
    r1_url = f"/api/v1/quotes/{r1['id']}"
    assert _post(stack, "ana", f"{r1_url}:send", {}).status_code == 200
    rejected = _post(stack, "ana", f"{r1_url}:reject", {"reason": "Precio alto"})
    assert rejected.get_json()["status"] == "rejected" and rejected.get_json()["rejection_reason"] == "Precio alto"
    r2 = _post(stack, "ana", f"{r1_url}:revise", {}).get_json()
    assert r2["number"] == f"{quote['number']}-R2"
    assert _post(stack, "ana", f"/api/v1/quotes/{r2['id']}:send", {}).status_code == 200
    accepted = _post(stack, "marta", f"/api/v1/quotes/{r2['id']}:accept", {})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    statuses = {q["number"]: q["status"] for q in _quotes_of(stack, deal["id"])}
    assert statuses == {quote["number"]: "superseded", r1["number"]: "superseded", r2["number"]: "accepted"}


def test_an_expired_quote_is_not_accepted_and_nothing_changes(stack: Stack) -> None:
    deal = _deal(stack, "ana")
    product = _product(stack, "GQ-E1", "10")
    body = {"deal_id": deal["id"], "lines": [{"product_id": product["id"], "quantity": "1"}],
            "valid_until": (date.today() + timedelta(days=5)).isoformat()}  # fmt: skip
    quote = _post(stack, "ana", "/api/v1/quotes", body).get_json()
    url = f"/api/v1/quotes/{quote['id']}"
    assert _post(stack, "ana", f"{url}:send", {}).status_code == 200
    # Its validity passes: the stored date moves to the past (as time would).
    assert stack.quotes.db is not None
    with stack.quotes.db.uow() as uow:
        uow.session.execute(update(quotes).where(quotes.c.id == quote["id"]).values(valid_until=date(2020, 1, 31)))
        uow.commit()
    before = stack.http.get(url, headers=stack.auth("ana")).get_json()
    assert before["status"] == "expired" and before["expire_time"] == "2020-02-01T05:00:00Z"
    res = _post(stack, "ana", f"{url}:accept", {})
    assert res.status_code == 400 and res.get_json()["code"] == "quote_expired", res.get_json()
    assert "expired" in res.get_json()["detail"]
    assert stack.http.get(url, headers=stack.auth("ana")).get_json() == before
    expired = stack.http.get(f"/api/v1/quotes?deal_id={deal['id']}&status=expired", headers=stack.auth("ana"))
    assert [q["id"] for q in expired.get_json()["items"]] == [quote["id"]]


def test_the_pdf_holds_the_number_the_client_every_line_and_the_total(stack: Stack) -> None:
    deal = _deal(stack, "ana", "Distribuidora Güemes & Añez")
    products = [_product(stack, f"GQ-PDF{i}", price) for i, price in enumerate(["1500", "20.5", "7.25"])]
    lines = [{"product_id": p["id"], "quantity": str(i + 1)} for i, p in enumerate(products)]
    quote = _post(stack, "ana", "/api/v1/quotes", {"deal_id": deal["id"], "lines": lines}).get_json()
    res = stack.http.get(f"/api/v1/quotes/{quote['id']}/pdf", headers=stack.auth("ana"))
    assert res.status_code == 200 and res.mimetype == "application/pdf"
    assert res.headers["Content-Disposition"] == f'inline; filename="{quote["number"]}.pdf"'
    reader = PdfReader(io.BytesIO(res.data))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert f"Cotización {quote['number']}" in text and "Distribuidora Güemes & Añez" in text and "José Peña" in text
    for i, line in enumerate(quote["lines"], start=1):
        assert f"{i} {line['sku']} {line['description']}" in text
    assert "Total USD 1.859,67" in text  # 1500 + 41 + 21.75 = 1562.75, + 296.92 of tax (es: 1.859,67)
    english = stack.http.get(f"/api/v1/quotes/{quote['id']}/pdf?locale=en", headers=stack.auth("ana"))
    assert "Total USD 1,859.67" in " ".join(PdfReader(io.BytesIO(english.data)).pages[0].extract_text().split())
    assert stack.http.get(f"/api/v1/quotes/{quote['id']}/pdf", headers=stack.auth("carla")).status_code == 404
    assert stack.http.get(f"/api/v1/quotes/{quote['id']}/pdf?locale=fr", headers=stack.auth("ana")).status_code == 400


def test_a_preview_answers_the_totals_create_stores_and_writes_nothing(stack: Stack) -> None:
    deal = _deal(stack, "ana")
    a, b, c = _product(stack, "GQ-P1", "1250.50"), _product(stack, "GQ-P2", "99.99"), _product(stack, "GQ-P3", "0.35")
    body = {
        "deal_id": deal["id"],
        "lines": [
            {"product_id": a["id"], "quantity": "2"},
            {"product_id": b["id"], "quantity": "3", "discount_rate": "0.1"},
            {"product_id": c["id"], "quantity": "7", "tax_rate": "0.05"},
        ],
        "global_discount_rate": "0.05",
    }
    res = _post(stack, "ana", "/api/v1/quotes:preview", body)
    assert res.status_code == 200, res.get_json()
    preview = res.get_json()
    assert not preview.get("id") and not preview.get("number") and "ETag" not in res.headers
    assert _quotes_of(stack, deal["id"]) == []
    created = _post(stack, "ana", "/api/v1/quotes", body).get_json()
    for key in ("subtotal", "discount_total", "tax_total", "total", "tax_totals", "currency_code", "contact_id"):
        assert preview[key] == created[key], key
    amounts = ("subtotal", "discount", "tax", "total")
    assert [[ln[k] for k in amounts] for ln in preview["lines"]] == [
        [ln[k] for k in amounts] for ln in created["lines"]
    ]
    # 2501.00 - 125.05 + 451.43; 299.97 - 43.50 + 48.73; 2.45 - 0.12 + 0.12 (each line rounded half-up).
    assert [ln["total"]["amount"] for ln in preview["lines"]] == ["2827.38", "305.20", "2.45"]
    assert preview["total"] == {"currency_code": "USD", "amount": "3135.03"}
    assert len(_quotes_of(stack, deal["id"])) == 1


def test_a_bad_preview_is_a_400_naming_the_field_and_another_reps_deal_is_unknown(stack: Stack) -> None:
    deal = _deal(stack, "ana")
    ok = _product(stack, "GQ-PB")
    cases = [
        ({"product_id": ok["id"], "quantity": "-1"}, "lines[0].quantity"),
        ({"product_id": UNKNOWN, "quantity": "1"}, "lines[0].product_id"),
    ]
    for line, field in cases:
        res = _post(stack, "ana", "/api/v1/quotes:preview", {"deal_id": deal["id"], "lines": [line]})
        problem = res.get_json()
        assert res.status_code == 400, problem
        assert field in {e["field"] for e in problem.get("errors", [])} | {problem.get("field")}, problem
    body = {"deal_id": deal["id"], "lines": [{"product_id": ok["id"], "quantity": "1"}]}
    other = _post(stack, "carla", "/api/v1/quotes:preview", body)
    assert other.status_code == 400 and other.get_json()["code"] == "deal_not_found", other.get_json()
    assert _post(stack, "marta", "/api/v1/quotes:preview", body).status_code == 200
    assert _quotes_of(stack, deal["id"]) == []
