"""Products through the gateway against the real quotes service: every user reads the catalogue;
only admins and managers change it (create, update, delete, import), which is tested role by role;
price changes show in the price history; bad input is a 400 naming the field with nothing changed;
a duplicate SKU is a 409; a stale If-Match is a 412."""

from __future__ import annotations

from typing import Any

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


def _product(sku: str, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": sku,
        "name": f"Producto {sku}",
        "kind": "product",
        "unit_price": {"amount": "1500.50", "currency_code": "USD"},
        "tax_rate": "0.19",
    }
    return {**body, **kw}


def _count(stack: Stack) -> int:
    res = stack.http.get("/api/v1/products?include_inactive=true&page_size=500", headers=stack.auth("carla"))
    return len(res.get_json()["items"])


def test_admins_and_managers_change_the_catalogue_and_everyone_reads_it(stack: Stack) -> None:
    made = stack.http.post("/api/v1/products", json=_product("GW-P1"), headers=stack.auth("admin"))
    assert made.status_code == 201, made.get_json()
    product = made.get_json()
    assert made.headers["ETag"] == '"1"' and made.headers["Location"].endswith(f"/api/v1/products/{product['id']}")
    assert product["kind"] == "product" and product["unit_price"] == {"currency_code": "USD", "amount": "1500.50"}
    by_manager = stack.http.post(
        "/api/v1/products", json=_product("GW-P2", kind="service"), headers=stack.auth("marta")
    )
    assert by_manager.status_code == 201

    for who in ("ana", "carla"):
        got = stack.http.get(f"/api/v1/products/{product['id']}", headers=stack.auth(who))
        assert got.status_code == 200 and got.get_json() == product
        listed = stack.http.get("/api/v1/products?q=gw-p&kind=service", headers=stack.auth(who)).get_json()
        assert [p["sku"] for p in listed["items"]] == ["GW-P2"]

    before = _count(stack)
    pid = product["id"]
    refused = [
        stack.http.post("/api/v1/products", json=_product("GW-REP"), headers=stack.auth("ana")),
        stack.http.patch(f"/api/v1/products/{pid}", json={"name": "Mío"}, headers=stack.auth("ana")),
        stack.http.delete(f"/api/v1/products/{pid}", headers=stack.auth("carla")),
        stack.http.post(
            "/api/v1/products:import?default_currency_code=USD",
            data=b"sku,name,price\nREP-1,X,1\n",
            headers={**stack.auth("beto"), "Content-Type": "text/csv"},
        ),
    ]
    for res in refused:
        assert res.status_code == 403 and res.get_json()["code"] == "catalogue_managers_only", res.get_json()
    assert _count(stack) == before
    assert stack.http.get(f"/api/v1/products/{pid}", headers=stack.auth("ana")).get_json() == product


def test_a_price_change_goes_into_the_history(stack: Stack) -> None:
    made = stack.http.post("/api/v1/products", json=_product("GW-H1"), headers=stack.auth("admin")).get_json()
    url = f"/api/v1/products/{made['id']}"
    changed = stack.http.patch(
        url,
        json={"unit_price": {"amount": "1600", "currency_code": "USD"}, "tax_rate": "0.05"},
        headers={**stack.auth("marta"), "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["unit_price"]["amount"] == "1600.00" and changed.headers["ETag"] == '"2"'
    stale = stack.http.patch(url, json={"name": "Viejo"}, headers={**stack.auth("marta"), "If-Match": '"1"'})
    assert stale.status_code == 412
    history = stack.http.get(f"{url}/price-history", headers=stack.auth("ana"))
    assert history.status_code == 200
    entries = history.get_json()["items"]
    assert [(e["unit_price"]["amount"], e["tax_rate"]) for e in entries] == [("1600.00", "0.05"), ("1500.50", "0.19")]
    assert entries[0]["changed_by"] == stack.id("marta") and entries[0]["previous_unit_price"]["amount"] == "1500.50"
    assert entries[1]["previous_unit_price"] is None
    missing = stack.http.get(f"/api/v1/products/{UNKNOWN}/price-history", headers=stack.auth("ana"))
    assert missing.status_code == 404


def test_bad_products_name_the_field_and_change_nothing(stack: Stack) -> None:
    before = _count(stack)
    negative = _product("GW-BAD", unit_price={"amount": "-10", "currency_code": "USD"})
    res = stack.http.post("/api/v1/products", json=negative, headers=stack.auth("admin"))
    assert res.status_code == 400 and [e["field"] for e in res.get_json()["errors"]] == ["unit_price.amount"]
    res = stack.http.post("/api/v1/products", json=_product("GW-BAD", tax_rate="19"), headers=stack.auth("admin"))
    assert res.status_code == 400 and "0.19 is 19 %" in res.get_json()["errors"][0]["message"]
    res = stack.http.post("/api/v1/products", json=_product("GW-BAD", colour="red"), headers=stack.auth("admin"))
    assert res.status_code == 400
    assert _count(stack) == before

    first = stack.http.post("/api/v1/products", json=_product("GW-DUP"), headers=stack.auth("admin")).get_json()
    dup = stack.http.post("/api/v1/products", json=_product("gw-dup"), headers=stack.auth("admin"))
    assert dup.status_code == 409 and dup.get_json()["existing_id"] == first["id"]
    null = stack.http.patch(f"/api/v1/products/{first['id']}", json={"name": None}, headers=stack.auth("admin"))
    assert null.status_code == 400
    assert stack.http.get(f"/api/v1/products/{first['id']}", headers=stack.auth("admin")).get_json() == first


def test_a_catalogue_is_imported_with_a_per_row_report(stack: Stack) -> None:
    csv = "Código;Nombre;Precio;Moneda;IVA\nGW-I1;Cámara;10,5;USD;19 %\nGW-I2;;5;USD;19\n".encode()
    headers = {**stack.auth("marta"), "Content-Type": "text/csv"}
    res = stack.http.post("/api/v1/products:import", data=csv, headers=headers)
    assert res.status_code == 200, res.get_json()
    report = res.get_json()
    assert (report["total_rows"], report["created"], report["failed"]) == (2, 1, 1)
    assert report["problems"] == [{"row": 3, "field": "name", "message": "is required"}]
    again = stack.http.post("/api/v1/products:import", data=csv, headers=headers).get_json()
    assert (again["created"], again["duplicates"]) == (0, 1)
    assert again["duplicate_rows"][0]["existing_id"] == report["created_ids"][0]
    wrong = stack.http.post(
        "/api/v1/products:import", data=csv, headers={**stack.auth("marta"), "Content-Type": "text/plain"}
    )
    assert wrong.status_code == 415


def test_a_product_on_a_quote_is_deactivated_not_deleted(stack: Stack) -> None:
    made = stack.http.post("/api/v1/products", json=_product("GW-D1"), headers=stack.auth("admin")).get_json()
    url = f"/api/v1/products/{made['id']}"
    assert stack.http.delete(url, headers=stack.auth("marta")).status_code == 204
    assert stack.http.get(url, headers=stack.auth("marta")).status_code == 404
