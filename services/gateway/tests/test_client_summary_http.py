"""GET /api/v1/clients/{client_id}/summary: a client with the first page of its contacts, deals,
quotes and activities in one call, each exactly what that kind's own list answers the same caller
(so the same visibility), a 404 like the client's own route, and a related service that does not
answer leaving its list null while the client still comes back."""

from __future__ import annotations

from typing import Any

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"
LISTS = {
    "contacts": "/api/v1/contacts",
    "deals": "/api/v1/deals",
    "quotes": "/api/v1/quotes",
    "activities": "/api/v1/activities",
}


def _post(stack: Stack, who: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    res = stack.http.post(url, json=body, headers=stack.auth(who))
    assert res.status_code == 201, res.get_json()["detail"]
    return dict(res.get_json())


def _client_with_records(stack: Stack, name: str) -> str:
    """A client of Ana's with 3 contacts, a deal of Ana's and one of Carla's (outside Ana's team),
    a quote on Ana's deal and 3 activities (2 of Ana's, 1 of Carla's)."""
    cid = str(_post(stack, "ana", "/api/v1/clients", {"name": name, "force_duplicate": True})["id"])
    for first in ("Lucía", "Raúl", "Sofía"):
        _post(stack, "ana", "/api/v1/contacts", {"client_id": cid, "first_name": first})
    ana_deal = _post(
        stack,
        "ana",
        "/api/v1/deals",
        {
            "client_id": cid,
            "title": f"{name}: renovación",
            "amount": {"amount": "2000", "currency_code": "USD"},
        },
    )
    _post(stack, "carla", "/api/v1/deals", {"client_id": cid, "title": f"{name}: ampliación"})
    product = _post(
        stack,
        "admin",
        "/api/v1/products",
        {
            "sku": f"SUM-{cid[-8:]}",
            "name": "Licencia anual",
            "kind": "service",
            "unit_price": {"amount": "1000", "currency_code": "USD"},
            "tax_rate": "0.19",
        },
    )
    _post(
        stack,
        "ana",
        "/api/v1/quotes",
        {"deal_id": ana_deal["id"], "lines": [{"product_id": product["id"], "quantity": "2"}]},
    )
    for who, subject in (("ana", "Llamada inicial"), ("ana", "Visita"), ("carla", "Correo de Carla")):
        _post(
            stack, who, "/api/v1/activities", {"kind": "call", "subject": subject, "client_id": cid, "status": "done"}
        )
    return cid


def _summary(stack: Stack, who: str, cid: str, **params: Any) -> Any:
    return stack.http.get(f"/api/v1/clients/{cid}/summary", query_string=params, headers=stack.auth(who))


def test_each_related_list_is_what_its_own_list_answers_the_same_caller(stack: Stack) -> None:
    cid = _client_with_records(stack, "Resumen Uno SAS")
    for who in ("ana", "marta", "carla", "admin"):
        res = _summary(stack, who, cid)
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        own = stack.http.get(f"/api/v1/clients/{cid}", headers=stack.auth(who))
        assert body["client"] == own.get_json() and res.headers["ETag"] == own.headers["ETag"]
        assert body["unavailable"] == []
        for kind, url in LISTS.items():
            listed = stack.http.get(url, query_string={"client_id": cid, "page_size": 20}, headers=stack.auth(who))
            assert listed.status_code == 200
            assert body[kind] == listed.get_json(), (who, kind)
    # What that means here: Ana sees her deal and her activities, not Carla's; the admin sees all.
    ana = _summary(stack, "ana", cid).get_json()
    admin = _summary(stack, "admin", cid).get_json()
    assert [d["title"] for d in ana["deals"]["items"]] == ["Resumen Uno SAS: renovación"]
    assert len(admin["deals"]["items"]) == 2
    assert sorted(a["subject"] for a in ana["activities"]["items"]) == ["Llamada inicial", "Visita"]
    assert len(admin["activities"]["items"]) == 3 and len(ana["contacts"]["items"]) == 3
    assert len(ana["quotes"]["items"]) == 1


def test_page_size_takes_the_first_of_each_and_says_there_are_more(stack: Stack) -> None:
    cid = _client_with_records(stack, "Resumen Dos SAS")
    body = _summary(stack, "admin", cid, page_size=2).get_json()
    assert [len(body[k]["items"]) for k in LISTS] == [2, 2, 1, 2]
    assert body["contacts"]["next_page_token"] and not body["quotes"]["next_page_token"]
    rest = stack.http.get(
        "/api/v1/contacts",
        query_string={"client_id": cid, "page_size": 2, "page_token": body["contacts"]["next_page_token"]},
        headers=stack.auth("admin"),
    ).get_json()
    names = [c["first_name"] for c in body["contacts"]["items"] + rest["items"]]
    assert sorted(names) == ["Lucía", "Raúl", "Sofía"]
    for bad in (0, 101, "x"):
        res = _summary(stack, "admin", cid, page_size=bad)
        assert res.status_code == 400 and res.get_json()["code"] == "invalid_query", bad
    res = _summary(stack, "admin", cid, expand="deals")
    assert res.status_code == 400 and res.get_json()["code"] == "invalid_query"


def test_an_unknown_client_is_a_404_like_its_own_route(stack: Stack) -> None:
    for cid in (UNKNOWN, "no-es-un-id"):
        own = stack.http.get(f"/api/v1/clients/{cid}", headers=stack.auth("ana"))
        res = _summary(stack, "ana", cid)
        assert res.status_code == own.status_code, (cid, res.get_json())
        assert res.get_json()["code"] == own.get_json()["code"]
    assert stack.http.get(f"/api/v1/clients/{UNKNOWN}/summary").status_code == 401


def test_a_related_service_down_leaves_its_list_null_and_the_client_shown(stack: Stack) -> None:
    """Last in this module: the quotes service stays stopped."""
    cid = _client_with_records(stack, "Resumen Tres SAS")
    stack.quotes.stop(grace=0)
    res = _summary(stack, "ana", cid)
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["client"]["name"] == "Resumen Tres SAS"
    assert body["quotes"] is None and body["unavailable"] == ["quotes"]
    assert len(body["contacts"]["items"]) == 3 and len(body["deals"]["items"]) == 1
