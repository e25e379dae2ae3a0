"""The client's detail page (one call to the API's client summary): the record with its contacts,
deals, quotes and activities as the signed-in user may see them, the timeline, an unknown client as
a not-found page; axe-core and screenshots in Spanish and English."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REP = "dora_detail"  # this module's own reps (team Norte), so other modules' records do not mix in
OTHER = "elias_detail"


@pytest.fixture(scope="module")
def site(web_site: Any) -> Iterator[Any]:
    """A client of Dora's with two contacts, a deal of Dora's with a quote, a deal of Elías's (same
    team: Dora may not see it, their manager Marta may), and a call Dora logged."""
    for who, name in ((REP, "Dora Detalle"), (OTHER, "Elías Detalle")):
        if who not in web_site.ids:
            web_site.add_user(who, name, "rep", web_site.ids["team"])
    tag = uuid.uuid4().hex[:6]
    client = web_site.call(REP, "POST", "/api/v1/clients", {"name": f"Textiles Ñandú {tag}", "force_duplicate": True})
    cid = client["id"]
    for first, last in (("Inés", "Murillo"), ("Óscar", "Pérez")):
        web_site.call(REP, "POST", "/api/v1/contacts", {"client_id": cid, "first_name": first, "last_name": last})
    money = {"amount": "3200000", "currency_code": "COP"}
    deal = web_site.call(REP, "POST", "/api/v1/deals", {"title": f"Uniformes {tag}", "client_id": cid, "amount": money})
    web_site.call(OTHER, "POST", "/api/v1/deals", {"title": f"Cortinas {tag}", "client_id": cid, "amount": money})
    quote = web_site.call(
        REP,
        "POST",
        "/api/v1/quotes",
        {"deal_id": deal["id"], "lines": [{"product_id": web_site.ids["product"], "quantity": "1"}]},
    )
    web_site.call(
        REP,
        "POST",
        "/api/v1/activities",
        {"kind": "call", "subject": f"Llamada de presentación {tag}", "client_id": cid, "status": "done"},
    )
    web_site.ids.update(detail_client=cid, detail_tag=tag, detail_quote=quote["number"])
    yield web_site


def _section(page: Any, heading_id: str) -> str:
    return str(page.locator(f"section[aria-labelledby={heading_id}]").inner_text())


def test_a_rep_sees_the_client_with_what_she_may_see_of_it(site: Any) -> None:
    tag = site.ids["detail_tag"]
    page = site.page(REP, axe=True)
    try:
        page.goto(f"/clients/{site.ids['detail_client']}")
        assert page.locator("h1").inner_text().startswith(f"Textiles Ñandú {tag}")
        contacts = _section(page, "h-contacts")
        assert "Inés Murillo" in contacts and "Óscar Pérez" in contacts
        deals = _section(page, "h-deals")
        assert f"Uniformes {tag}" in deals and f"Cortinas {tag}" not in deals  # Elías's deal is not hers
        assert site.ids["detail_quote"] in _section(page, "h-quotes")
        timeline = _section(page, "h-timeline")
        assert f"Llamada de presentación {tag}" in timeline and "Cliente creado" in timeline
        assert f"Negocio «Uniformes {tag}» abierto" in timeline
        assert "No disponible" not in page.content()
        site.check_and_photograph(page, "cliente-detalle")
    finally:
        page.context.close()


def test_their_manager_sees_both_reps_deals_in_english(site: Any) -> None:
    tag = site.ids["detail_tag"]
    page = site.page("marta", lang="en", axe=True)
    try:
        page.goto(f"/clients/{site.ids['detail_client']}")
        deals = _section(page, "h-deals")
        assert f"Uniformes {tag}" in deals and f"Cortinas {tag}" in deals
        assert page.locator("#h-contacts").inner_text().startswith("Contacts")
        assert "Client created" in _section(page, "h-timeline")
        site.check_and_photograph(page, "cliente-detalle")
    finally:
        page.context.close()


def test_an_unknown_client_is_a_not_found_page(site: Any) -> None:
    page = site.page(REP)
    try:
        res = page.goto("/clients/0192d6e0-0000-7000-8000-000000000000")
        assert res is not None and res.status == 404
        assert "Textiles" not in page.content()
    finally:
        page.context.close()
