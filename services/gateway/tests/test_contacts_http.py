"""Clients, contacts and prospects through the gateway against the real contacts service: every
operation and its errors, conversion exactly once even when racing, import with a per-row report
(again: nothing added), CSV export, filters and counts."""

from __future__ import annotations

import csv
import io
import threading
from typing import Any

from openpyxl import Workbook

from crm_gateway.owned import XLSX

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


def _post(stack: Stack, who: str, url: str, body: dict[str, Any]) -> Any:
    return stack.http.post(url, json=body, headers=stack.auth(who))


def test_contacts_of_a_client_with_their_errors(stack: Stack) -> None:
    client = _post(
        stack,
        "ana",
        "/api/v1/clients",
        {"name": "Contactos SAS", "tax_id": {"country_code": "CO", "value": "900.123.456-8"}},
    )
    assert client.status_code == 201, client.get_json()
    cid = client.get_json()["id"]
    first = _post(
        stack,
        "ana",
        "/api/v1/contacts",
        {
            "client_id": cid,
            "first_name": "Lucía",
            "last_name": "Gómez",
            "email": "Lucia@Contactos.example",
            "phones": ["+57 310 555 0101"],
            "decision_role": "decision_maker",
            "primary": True,
        },
    )
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["email"] == "lucia@contactos.example" and body["phones"] == ["+573105550101"]
    assert body["decision_role"] == "decision_maker" and body["primary"] is True and body["owner_id"] == stack.id("ana")
    second = _post(stack, "ana", "/api/v1/contacts", {"client_id": cid, "first_name": "Raúl", "primary": True})
    assert second.status_code == 201
    listed = stack.http.get(f"/api/v1/clients/{cid}/contacts?include_total_size=true", headers=stack.auth("carla"))
    assert listed.status_code == 200 and listed.get_json()["total_size"] == 2
    primaries = [c["first_name"] for c in listed.get_json()["items"] if c["primary"]]
    assert primaries == ["Raúl"]  # one primary contact per client

    dup = _post(
        stack, "ana", "/api/v1/contacts", {"client_id": cid, "first_name": "Otra", "email": "lucia@contactos.example"}
    )
    assert dup.status_code == 409 and dup.get_json()["existing_id"] == body["id"]
    for bad, field in (
        ({"client_id": cid, "first_name": "X", "email": "no-es-correo"}, "email"),
        ({"client_id": cid, "first_name": "X", "phones": ["12"]}, "phones[0]"),
        ({"client_id": UNKNOWN, "first_name": "X"}, "client_id"),
        ({"client_id": cid}, "first_name"),
    ):
        res = _post(stack, "ana", "/api/v1/contacts", bad)
        assert res.status_code == 400, (bad, res.get_json())
        assert any(field in e["field"] for e in res.get_json()["errors"]), (bad, res.get_json())
    assert stack.http.get(f"/api/v1/contacts/{UNKNOWN}", headers=stack.auth("ana")).status_code == 404
    assert stack.http.get(f"/api/v1/clients/{UNKNOWN}/contacts", headers=stack.auth("ana")).status_code == 404

    patched = stack.http.patch(
        f"/api/v1/contacts/{body['id']}", json={"job_title": "Gerente"}, headers=stack.auth("ana")
    )
    assert patched.status_code == 200 and patched.get_json()["job_title"] == "Gerente"
    assert (
        stack.http.patch(
            f"/api/v1/contacts/{body['id']}", json={"job_title": "x"}, headers=stack.auth("carla")
        ).status_code
        == 403
    )
    archived = stack.http.post(f"/api/v1/contacts/{body['id']}:archive", headers=stack.auth("ana"))
    assert archived.status_code == 200 and archived.get_json()["archived"] is True
    visible = stack.http.get(f"/api/v1/clients/{cid}/contacts", headers=stack.auth("ana")).get_json()["items"]
    assert [c["first_name"] for c in visible] == ["Raúl"]
    # A client with contacts cannot be deleted; once they are gone it can.
    in_use = stack.http.delete(f"/api/v1/clients/{cid}", headers=stack.auth("ana"))
    assert in_use.status_code == 400 and in_use.get_json()["code"] == "client_in_use"
    for contact_id in (body["id"], second.get_json()["id"]):
        assert stack.http.delete(f"/api/v1/contacts/{contact_id}", headers=stack.auth("ana")).status_code == 204
    assert stack.http.delete(f"/api/v1/clients/{cid}", headers=stack.auth("ana")).status_code == 204


def test_convert_creates_the_client_and_contact_once_even_when_racing(stack: Stack) -> None:
    prospect = _post(
        stack,
        "beto",
        "/api/v1/prospects",
        {
            "company_name": "Conversión Ltda",
            "first_name": "Sofía",
            "last_name": "Ruiz",
            "email": "sofia@conversion.example",
            "phones": ["+52 55 1234 5678"],
            "source": "referral",
        },
    ).get_json()
    url = f"/api/v1/prospects/{prospect['id']}:convert"
    body = {
        "open_deal": True,
        "deal_title": "Primer pedido",
        "deal_amount": {"amount": "1500000", "currency_code": "COP"},
    }
    answers: list[Any] = []
    barrier = threading.Barrier(6)

    def convert() -> None:
        client = stack.app.test_client()
        barrier.wait()
        answers.append(client.post(url, json=body, headers=stack.auth("beto")))

    threads = [threading.Thread(target=convert) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 6, [a.get_json() for a in answers]
    results = [a.get_json() for a in answers]
    assert len({r["client"]["id"] for r in results}) == 1 and len({r["contact"]["id"] for r in results}) == 1
    first = results[0]
    assert first["prospect"]["status"] == "converted" and first["client"]["name"] == "Conversión Ltda"
    assert first["client"]["owner_id"] == stack.id("beto") and first["contact"]["first_name"] == "Sofía"
    found = stack.http.get("/api/v1/clients?q=Conversión&include_total_size=true", headers=stack.auth("beto"))
    assert found.get_json()["total_size"] == 1
    # Another rep cannot convert it (404: not theirs to see).
    assert stack.http.post(url, json={}, headers=stack.auth("carla")).status_code == 404
    bad = _post(stack, "beto", "/api/v1/prospects", {"company_name": "Malo SA"}).get_json()
    wrong = stack.http.post(
        f"/api/v1/prospects/{bad['id']}:convert",
        json={"open_deal": True, "deal_amount": {"amount": "10", "currency_code": "XXQ"}},
        headers=stack.auth("beto"),
    )
    assert wrong.status_code == 400


CSV_TEXT = (
    "Nombre;Correo;Teléfono;Ciudad;País;NIT\n"
    "Ferretería Norte;ventas@ferrenorte.example;+57 300 111 2233;Medellín;CO;900.555.001-4\n"
    "Sin correo bueno;no-es-correo;;Cali;CO;\n"
    ";vacio@nombre.example;;Bogotá;CO;\n"
    "Panadería Sur;pedidos@pansur.example;+57 300 444 5566;Cali;CO;\n"
    "Repetida;ventas@ferrenorte.example;;Cali;CO;\n"
)


def _import(stack: Stack, who: str, url: str, data: bytes, mimetype: str) -> Any:
    return stack.http.post(url, data=data, content_type=mimetype, headers=stack.auth(who))


def test_import_reports_every_row_and_importing_again_adds_nothing(stack: Stack) -> None:
    dry = _import(stack, "ana", "/api/v1/clients:import?dry_run=true", CSV_TEXT.encode(), "text/csv")
    assert dry.status_code == 200, dry.get_json()
    # A dry run counts the rows it would create, gives them no ids, and writes nothing.
    assert dry.get_json()["dry_run"] and dry.get_json()["created"] == 2 and dry.get_json()["created_ids"] == []
    first = _import(stack, "ana", "/api/v1/clients:import", CSV_TEXT.encode(), "text/csv")
    assert first.status_code == 200, first.get_json()
    report = first.get_json()
    assert (report["total_rows"], report["created"], report["duplicates"], report["failed"]) == (5, 2, 1, 2)
    problems = {(p["row"], p["field"]) for p in report["problems"]}
    assert (3, "email") in problems and (4, "name") in problems
    assert [d["row"] for d in report["duplicate_rows"]] == [6]
    for client_id in report["created_ids"]:
        got = stack.http.get(f"/api/v1/clients/{client_id}", headers=stack.auth("ana")).get_json()
        assert got["owner_id"] == stack.id("ana")
    again = _import(stack, "ana", "/api/v1/clients:import", CSV_TEXT.encode(), "text/csv").get_json()
    assert again["created"] == 0 and again["duplicates"] == 3 and again["failed"] == 2

    book = Workbook()
    sheet = book.active
    sheet.append(["Empresa", "Nombre", "Apellido", "Correo", "Teléfono", "País"])
    sheet.append(["Feria SA", "Mario", "Paz", "mario@feria.example", 3001234567, "CO"])  # a phone typed as a number
    sheet.append(["Otra Feria", "Eva", "Luna", "eva@@feria", None, "CO"])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = _import(stack, "beto", "/api/v1/prospects:import?default_source=trade_fair", buffer.getvalue(), XLSX)
    assert xlsx.status_code == 200, xlsx.get_json()
    result = xlsx.get_json()
    assert result["created"] == 1 and result["failed"] >= 1, result["problems"]
    made = stack.http.get(f"/api/v1/prospects/{result['created_ids'][0]}", headers=stack.auth("beto")).get_json()
    assert made["source"] == "trade_fair" and made["owner_id"] == stack.id("beto")

    # A rep cannot import records for someone else.
    other = _import(
        stack, "ana", f"/api/v1/clients:import?default_owner_id={stack.id('carla')}", CSV_TEXT.encode(), "text/csv"
    )
    assert other.status_code == 403
    wrong_type = _import(stack, "ana", "/api/v1/clients:import", b"{}", "application/json")
    assert wrong_type.status_code == 415
    garbage = _import(stack, "ana", "/api/v1/clients:import", b"\x00\x01\x02", XLSX)
    assert garbage.status_code == 400 and garbage.get_json()["errors"][0]["field"] == "content"


def test_export_is_the_filtered_list_as_csv(stack: Stack) -> None:
    for name, city in (("Exporta Uno", "Pasto"), ("Exporta Dos", "Pasto"), ("=Fórmula", "Neiva")):
        assert _post(stack, "carla", "/api/v1/clients", {"name": name, "address": {"city": city}}).status_code == 201
    res = stack.http.get("/api/v1/clients:export?city=Pasto", headers=stack.auth("ana"))
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert "attachment" in res.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert sorted(r["name"] for r in rows) == ["Exporta Dos", "Exporta Uno"]
    assert {r["address.city"] for r in rows} == {"Pasto"}
    formula = stack.http.get("/api/v1/clients:export?city=Neiva", headers=stack.auth("ana")).get_data(as_text=True)
    assert "'=Fórmula" in formula  # a spreadsheet will not run it


def test_filters_and_counts(stack: Stack) -> None:
    made = []
    for i, (industry, kind) in enumerate((("Agro", "company"), ("Agro", "person"), ("Textil", "company"))):
        res = _post(stack, "marta", "/api/v1/clients", {"name": f"Filtro {i}", "industry": industry, "kind": kind})
        made.append(res.get_json())
    page = stack.http.get(
        "/api/v1/clients?industry=Agro&kind=company&q=filtro&include_total_size=true", headers=stack.auth("marta")
    ).get_json()
    assert [c["id"] for c in page["items"]] == [made[0]["id"]] and page["total_size"] == 1
    after = made[1]["create_time"]
    later = stack.http.get(
        "/api/v1/clients", query_string={"q": "filtro", "created_after": after}, headers=stack.auth("marta")
    ).get_json()
    assert [c["id"] for c in later["items"]] == [made[1]["id"], made[2]["id"]]
    bad = stack.http.get("/api/v1/clients?created_after=yesterday", headers=stack.auth("marta"))
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "created_after"


def test_prospect_and_client_errors_through_the_gateway(stack: Stack) -> None:
    made = _post(stack, "ana", "/api/v1/prospects", {"company_name": "Errores SA", "email": "err@errores.example"})
    assert made.status_code == 201
    prospect = made.get_json()
    url = f"/api/v1/prospects/{prospect['id']}"
    dup = _post(stack, "ana", "/api/v1/prospects", {"company_name": "Otra", "email": "ERR@errores.example"})
    assert dup.status_code == 409 and dup.get_json()["existing_id"] == prospect["id"]
    # The status machine: no jump from new to converted, no disqualifying without a reason.
    jump = stack.http.patch(url, json={"status": "converted"}, headers=stack.auth("ana"))
    assert jump.status_code == 400 and jump.get_json()["code"] == "invalid_status_transition"
    no_reason = stack.http.patch(url, json={"status": "disqualified"}, headers=stack.auth("ana"))
    assert no_reason.status_code == 400
    assert stack.http.get(url, headers=stack.auth("ana")).get_json()["status"] == "new"
    moved = stack.http.patch(url, json={"status": "contacted"}, headers=stack.auth("ana"))
    assert moved.status_code == 200 and moved.get_json()["status"] == "contacted"
    archived = stack.http.post(f"{url}:archive", headers=stack.auth("ana"))
    assert archived.status_code == 200 and archived.get_json()["archived"] is True
    listed = stack.http.get("/api/v1/prospects?q=errores", headers=stack.auth("ana")).get_json()["items"]
    assert listed == []
    assert (
        stack.http.patch(f"/api/v1/prospects/{UNKNOWN}", json={"job_title": "x"}, headers=stack.auth("ana")).status_code
        == 404
    )
    assert (
        stack.http.patch(f"/api/v1/clients/{UNKNOWN}", json={"industry": "x"}, headers=stack.auth("ana")).status_code
        == 404
    )
    bad_tax = _post(
        stack, "ana", "/api/v1/clients", {"name": "Tax SA", "tax_id": {"country_code": "ZZ", "value": "900123456-8"}}
    )
    assert bad_tax.status_code == 400 and any("tax_id" in e["field"] for e in bad_tax.get_json()["errors"])
    read_only = stack.http.patch(url, json={"status": "qualified", "id": UNKNOWN}, headers=stack.auth("ana"))
    assert read_only.status_code == 400
