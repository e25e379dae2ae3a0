"""The gateway's answers to hostile or careless input, through the real stack: an Idempotency-Key
reused with another body is refused (422) while the same body still replays; JSON nested past the
depth limit is a 400 on authenticated and public routes alike; a NUL character anywhere in request
text (body, query, path, an import file's cell) is a 400 naming where it was, and nothing is
written; money only in currencies a business invoices in, read by one schema on every route and
refused by the services too; and the security headers on every kind of answer. On SQLite and on
PostgreSQL (when CRM_TEST_POSTGRES_URL is set), where a NUL used to be a psycopg.DataError."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from crm.common.v1 import types_pb2
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_gateway.api import MAX_JSON_DEPTH, json_depth
from crm_platform.grpc_client import stub

from .conftest import Stack, stack_on_both_databases

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


# The stack on SQLite, then on PostgreSQL (conftest).
stack = stack_on_both_databases


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _clients_named(stack: Stack, text: str) -> list[dict[str, Any]]:
    res = stack.http.get("/api/v1/clients", query_string={"q": text, "page_size": 100}, headers=stack.auth("admin"))
    assert res.status_code == 200, res.get_json()
    return list(res.get_json()["items"])


def _problem(res: Any, status: int, code: str) -> dict[str, Any]:
    assert res.status_code == status, (res.status_code, res.get_data(as_text=True)[:500])
    assert res.mimetype == "application/problem+json"
    body = dict(res.get_json())
    assert body["code"] == code, body
    return body


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- 6. Idempotency-Key reused with another body -------------------------------------------------


def test_an_idempotency_key_with_the_same_body_replays_and_with_another_is_refused(stack: Stack) -> None:
    key = {"Idempotency-Key": "alta-cliente-0001"}
    first = _post(stack, "ana", "/api/v1/clients", {"name": "Idempotente Uno SAS", "industry": "Retail"}, **key)
    assert first.status_code == 201, first.get_json()
    # The same request again (key order changed: the same JSON) answers as the first time.
    again = _post(stack, "ana", "/api/v1/clients", {"industry": "Retail", "name": "Idempotente Uno SAS"}, **key)
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    other = _post(stack, "ana", "/api/v1/clients", {"name": "Idempotente Dos SAS"}, **key)
    body = _problem(other, 422, "idempotency_key_reused")
    assert "Idempotency-Key" in body["detail"]
    assert _clients_named(stack, "Idempotente Dos") == []
    assert len(_clients_named(stack, "Idempotente Uno")) == 1
    # Another user's same key is theirs alone; a new key makes a new record.
    mine = _post(stack, "beto", "/api/v1/clients", {"name": "Idempotente Dos SAS"}, **key)
    assert mine.status_code == 201
    fresh = _post(stack, "ana", "/api/v1/clients", {"name": "Idempotente Tres SAS"}, **{"Idempotency-Key": "otra"})
    assert fresh.status_code == 201


def test_a_reused_key_is_refused_by_every_service_path(stack: Stack) -> None:
    """Products (quotes service, run_once) and users (identity, its own remembered() call)."""
    key = {"Idempotency-Key": "catalogo-7"}
    product = {
        "sku": "IDEM-1",
        "name": "Producto idempotente",
        "kind": "product",
        "unit_price": {"amount": "10", "currency_code": "USD"},
        "tax_rate": "0.19",
    }
    assert _post(stack, "admin", "/api/v1/products", product, **key).status_code == 201
    assert _post(stack, "admin", "/api/v1/products", product, **key).status_code == 201
    changed = {**product, "unit_price": {"amount": "11", "currency_code": "USD"}}
    _problem(_post(stack, "admin", "/api/v1/products", changed, **key), 422, "idempotency_key_reused")
    user = {"email": "idem@example.com", "display_name": "Idem", "role": "rep", "password": "una clave larga 123"}
    assert _post(stack, "admin", "/api/v1/users", user, **key).status_code == 201
    other = {**user, "email": "idem2@example.com"}
    _problem(_post(stack, "admin", "/api/v1/users", other, **key), 422, "idempotency_key_reused")


def test_the_document_describes_the_reused_key_answer(stack: Stack) -> None:
    doc = stack.http.get("/api/v1/openapi.json").get_json()
    create = doc["paths"]["/api/v1/clients"]["post"]
    assert "422" in create["responses"]
    header = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert "idempotency_key_reused" in header["description"]


# --- 7b. Deeply nested JSON ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("admin", "/api/v1/clients"),
        (None, "/api/v1/auth/login"),
        (None, f"/api/v1/webhooks/google-ads/{UNKNOWN}"),
    ],
)
def test_json_nested_too_deep_is_a_clear_400(stack: Stack, who: str | None, url: str) -> None:
    # Deep enough for the JSON parser to run out of stack (a 500 before), small enough for the
    # tests' 16 KB body limit.
    body = '{"name": ' + _nested(5000) + "}"
    headers = {"Content-Type": "application/json", **(stack.auth(who) if who else {})}
    res = stack.http.post(url, data=body, headers=headers)
    problem = _problem(res, 400, "json_too_deep")
    assert str(MAX_JSON_DEPTH) in problem["detail"]


def test_the_depth_limit_counts_nesting_not_brackets_in_strings(stack: Stack) -> None:
    assert json_depth(b'{"a": [[{"b": "[[[[{{{{"}]]}') == 4
    assert json_depth(b'{"a": "\\"[[[["}') == 1
    # Brackets inside a string are text: the client is made with them.
    name = "Corchetes " + _nested(40)
    res = _post(stack, "admin", "/api/v1/clients", {"name": name, "force_duplicate": True})
    assert res.status_code == 201, res.get_json()
    # Nesting within the limit reaches validation, which names the field.
    deep_ok = '{"name": ' + _nested(MAX_JSON_DEPTH - 1) + "}"
    res = stack.http.post(
        "/api/v1/clients", data=deep_ok, headers={**stack.auth("admin"), "Content-Type": "application/json"}
    )
    assert _problem(res, 400, "validation_failed")["errors"][0]["field"] == "name"


# --- 7c. NUL characters --------------------------------------------------------------------------


def test_a_nul_in_a_body_string_is_a_400_naming_the_field_and_nothing_is_written(stack: Stack) -> None:
    res = _post(stack, "admin", "/api/v1/clients", {"name": "Nulo\u0000SAS"})
    problem = _problem(res, 400, "validation_failed")
    assert problem["errors"] == [
        {"field": "name", "message": "must not contain a NUL character (\\u0000)", "code": "nul_character"}
    ]
    nested = _post(stack, "admin", "/api/v1/clients", {"name": "Nulo SAS", "address": {"city": "Cali\u0000"}})
    assert _problem(nested, 400, "validation_failed")["errors"][0]["field"] == "address.city"
    in_list = _post(stack, "admin", "/api/v1/clients", {"name": "Nulo SAS", "segment_tags": ["ok", "\u0000"]})
    assert _problem(in_list, 400, "validation_failed")["errors"][0]["field"] == "segment_tags[1]"
    public = stack.http.post("/api/v1/auth/login", json={"email": "admin@example.com\u0000", "password": "x"})
    assert _problem(public, 400, "validation_failed")["errors"][0]["field"] == "email"
    assert _clients_named(stack, "Nulo") == []


def test_a_nul_in_a_query_or_path_is_a_400_naming_it(stack: Stack) -> None:
    _post(stack, "admin", "/api/v1/clients", {"name": "Buscable SAS", "force_duplicate": True})
    # On SQLite a search for NUL matched every row; on PostgreSQL it was a 500.
    res = stack.http.get("/api/v1/clients?q=%00", headers=stack.auth("admin"))
    assert _problem(res, 400, "invalid_query")["errors"][0]["field"] == "q"
    res = stack.http.get("/api/v1/products?q=caf%00e", headers=stack.auth("admin"))
    assert _problem(res, 400, "invalid_query")["errors"][0]["field"] == "q"
    res = stack.http.get(f"/api/v1/clients/{UNKNOWN}%00", headers=stack.auth("admin"))
    assert _problem(res, 400, "invalid_path")["errors"][0]["field"] == "client_id"


def test_an_import_row_with_a_nul_is_refused_naming_the_column(stack: Stack) -> None:
    csv = "sku,nombre,precio,iva\nNUL-1,Bueno,10,0\nNUL-2,Ma\x00lo,10,0\nNUL-3,Otro,10,0\n"
    res = stack.http.post(
        "/api/v1/products:import?default_currency_code=USD",
        data=csv.encode(),
        headers={**stack.auth("admin"), "Content-Type": "text/csv"},
    )
    assert res.status_code == 200, res.get_json()
    report = res.get_json()
    assert (report["created"], report["failed"]) == (2, 1), report["problems"]
    assert report["problems"] == [
        {"row": 3, "field": "name", "message": "must not contain a NUL character (\\u0000): the row is not imported"}
    ]
    clients = "nombre,correo\nNul Import SAS,a@nul.example\nNul\x00Malo SAS,b@nul.example\n"
    res = stack.http.post(
        "/api/v1/clients:import",
        data=clients.encode(),
        headers={**stack.auth("admin"), "Content-Type": "text/csv"},
    )
    assert res.status_code == 200, res.get_json()
    report = res.get_json()
    assert (report["created"], report["failed"]) == (1, 1)
    assert [(p["row"], p["field"]) for p in report["problems"]] == [(3, "name")]
    assert [c["name"] for c in _clients_named(stack, "Nul")] == ["Nul Import SAS"]


# --- 8. Money in made-up currencies --------------------------------------------------------------


def _product(sku: str, currency: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Producto {sku}",
        "kind": "product",
        "unit_price": {"amount": "100", "currency_code": currency},
        "tax_rate": "0",
    }


@pytest.mark.parametrize("currency", ["XTS", "XAU", "XXX", "XDR", "DEM", "ZZZ"])
def test_products_in_currencies_nobody_invoices_in_are_refused(stack: Stack, currency: str) -> None:
    res = _post(stack, "admin", "/api/v1/products", _product(f"CUR-{currency}", currency))
    problem = _problem(res, 400, "validation_failed")
    assert problem["errors"][0]["field"] == "unit_price.currency_code"
    assert f"'{currency}' is not the ISO 4217 code of a currency in use" in problem["errors"][0]["message"]


def test_a_deal_budget_campaign_and_conversion_in_xxx_are_refused(stack: Stack) -> None:
    client = _post(stack, "ana", "/api/v1/clients", {"name": "Moneda Rara SAS", "force_duplicate": True})
    assert client.status_code == 201
    xxx = {"amount": "100", "currency_code": "XXX"}
    deal = _post(stack, "ana", "/api/v1/deals", {"client_id": client.get_json()["id"], "title": "X", "amount": xxx})
    assert _problem(deal, 400, "validation_failed")["errors"][0]["field"] == "amount.currency_code"
    budget = _post(
        stack,
        "marta",
        "/api/v1/budgets",
        {"user_id": stack.id("ana"), "period_kind": "month", "period_start": "2027-01-01", "target": xxx},
    )
    assert _problem(budget, 400, "validation_failed")["errors"][0]["field"] == "target.currency_code"
    campaign = _post(stack, "marta", "/api/v1/campaigns", {"name": "Rara", "type": "mailing", "budget": xxx})
    assert _problem(campaign, 400, "validation_failed")["errors"][0]["field"] == "budget.currency_code"
    quote = _post(stack, "ana", "/api/v1/quotes", {"deal_id": UNKNOWN, "currency_code": "XTS"})
    assert "currency_code" in {e["field"] for e in _problem(quote, 400, "validation_failed")["errors"]}


def test_currency_codes_are_read_in_any_case_on_every_route(stack: Stack) -> None:
    """One rule: "cop" is COP for products and deals alike (deals refused it before)."""
    made = _post(stack, "admin", "/api/v1/products", _product("CUR-LOWER", "cop"))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["unit_price"]["currency_code"] == "COP"
    client = _post(stack, "ana", "/api/v1/clients", {"name": "Pesos SAS", "force_duplicate": True}).get_json()
    deal = _post(
        stack,
        "ana",
        "/api/v1/deals",
        {"client_id": client["id"], "title": "En pesos", "amount": {"amount": "1000", "currency_code": "cop"}},
    )
    assert deal.status_code == 201, deal.get_json()
    assert deal.get_json()["amount"]["currency_code"] == "COP"
    # Real currencies whose codes start with X are money.
    assert _post(stack, "admin", "/api/v1/products", _product("CUR-XOF", "XOF")).status_code == 201


def test_the_services_refuse_such_currencies_too(stack: Stack) -> None:
    quotes = stub(quotes_pb2_grpc.QuotesServiceStub, "quotes")
    product = quotes_pb2.Product(
        sku="GRPC-XTS",
        name="Directo",
        kind=quotes_pb2.PRODUCT_KIND_PRODUCT,
        unit_price=types_pb2.Money(amount="5", currency_code="XTS"),
        tax_rate="0",
    )
    with pytest.raises(grpc.RpcError) as caught:
        quotes.CreateProduct(quotes_pb2.CreateProductRequest(product=product))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unit_price.currency_code" in (caught.value.details() or "")


def test_the_document_states_the_currency_rule_once(stack: Stack) -> None:
    doc = stack.http.get("/api/v1/openapi.json").get_json()
    money = doc["components"]["schemas"]["MoneyIn"]["properties"]["currency_code"]
    assert "any case" in money["description"] and "COP" in money["description"]
    assert "XXX)" in money["description"] and "XOF" in money["description"]
    # Every currency a request takes (answers' codes have no pattern) follows that one rule.
    taken = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if name.endswith("currency_code") and "pattern" in prop:
                    taken.append(prop)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert len(taken) >= 3
    assert all(money["description"] in prop["description"] for prop in taken), taken


# --- 9. Headers ----------------------------------------------------------------------------------


def test_every_answer_says_nosniff_and_authenticated_ones_no_store(stack: Stack) -> None:
    anonymous = {
        "health": stack.http.get("/healthz"),
        "document": stack.http.get("/api/v1/openapi.json"),
        "docs": stack.http.get("/api/docs/"),
        "metrics": stack.http.get("/metrics"),
        "not found": stack.http.get("/api/v1/nothing-here"),
        "unauthenticated": stack.http.get("/api/v1/clients"),
        "bad login": stack.login("admin@example.com", "wrong password"),
    }
    for what, res in anonymous.items():
        assert res.headers.get("X-Content-Type-Options") == "nosniff", what
    assert "no-store" in anonymous["bad login"].headers.get("Cache-Control", "")
    assert "no-store" in anonymous["unauthenticated"].headers.get("Cache-Control", "")
    authenticated = {
        "list": stack.http.get("/api/v1/clients", headers=stack.auth("ana")),
        "me": stack.http.get("/api/v1/auth/me", headers=stack.auth("ana")),
        "error": stack.http.get(f"/api/v1/clients/{UNKNOWN}", headers=stack.auth("ana")),
        "bad body": _post(stack, "ana", "/api/v1/clients", {"nombre": "x"}),
    }
    for what, res in authenticated.items():
        assert res.headers.get("X-Content-Type-Options") == "nosniff", what
        assert res.headers.get("Cache-Control") == "no-store", what
    assert stack.login("admin@example.com").headers.get("Cache-Control") == "no-store"
