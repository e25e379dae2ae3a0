"""Canvases through the gateway against the real canvas, quotes and deals services: create with
notes, read, list, update with If-Match, archive, copy, delete; notes with their own versions (a
stale one is a 409 carrying the current note); an unknown block is a 400 naming it, a link to a
missing product a 400 naming it; revisions and restore; the PDF and the JSON export/import; who may
change a canvas (its owner, their manager, an admin) while everyone reads it."""

from __future__ import annotations

from typing import Any

from .conftest import Stack

MISSING_ID = "0192d6e0-0000-7000-8000-00000000dead"


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _canvas(stack: Stack, who: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Modelo Norte")
    res = _post(stack, who, "/api/v1/canvases", body)
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def test_canvas_routes_create_read_update_archive_copy_delete(stack: Stack) -> None:
    created = {"name": "Modelo café", "notes": [{"block": "key_partners", "text": "Tostadores"}]}
    res = _post(stack, "ana", "/api/v1/canvases", created, **{"Idempotency-Key": "canvas-1"})
    assert res.status_code == 201, res.get_json()
    c = res.get_json()
    assert res.headers["ETag"] == '"1"' and res.headers["Location"].endswith(f"/api/v1/canvases/{c['id']}")
    assert c["owner_id"] == stack.id("ana") and c["status"] == "draft"
    assert [(n["block"], n["text"]) for n in c["notes"]] == [("key_partners", "Tostadores")]
    again = _post(stack, "ana", "/api/v1/canvases", created, **{"Idempotency-Key": "canvas-1"})
    assert again.get_json()["id"] == c["id"]
    other = _post(stack, "ana", "/api/v1/canvases", {"name": "otra"}, **{"Idempotency-Key": "canvas-1"})
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"

    url = f"/api/v1/canvases/{c['id']}"
    # Every user reads every canvas; only its owner, their manager or an admin changes it.
    assert stack.http.get(url, headers=stack.auth("carla")).status_code == 200
    listed = stack.http.get("/api/v1/canvases?q=café", headers=stack.auth("carla")).get_json()
    assert c["id"] in [x["id"] for x in listed["items"]]
    denied = stack.http.patch(url, json={"name": "mío"}, headers=stack.auth("carla"))
    assert denied.status_code == 403
    stale = stack.http.patch(url, json={"name": "x"}, headers={**stack.auth("ana"), "If-Match": '"7"'})
    assert stale.status_code == 412
    patched = stack.http.patch(
        url, json={"name": "Modelo café 2027", "status": "active"}, headers={**stack.auth("marta"), "If-Match": '"1"'}
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["status"] == "active" and patched.headers["ETag"] == '"2"'

    copy = _post(stack, "carla", f"{url}:copy", {})
    assert copy.status_code == 201 and copy.get_json()["owner_id"] == stack.id("carla")
    assert copy.get_json()["name"] == "Modelo café 2027 (copy)" and len(copy.get_json()["notes"]) == 1

    archived = _post(stack, "ana", f"{url}:archive", {})
    assert archived.status_code == 200 and archived.get_json()["status"] == "archived"
    refused = _post(stack, "ana", f"{url}/notes", {"block": "channels", "text": "Web"})
    assert refused.status_code == 400 and refused.get_json()["code"] == "canvas_archived"

    copy_url = f"/api/v1/canvases/{copy.get_json()['id']}"
    assert stack.http.delete(copy_url, headers=stack.auth("ana")).status_code == 403
    assert stack.http.delete(copy_url, headers=stack.auth("carla")).status_code == 204
    assert stack.http.get(copy_url, headers=stack.auth("carla")).status_code == 404


def test_unknown_block_and_missing_product_are_400_naming_them(stack: Stack) -> None:
    bad = _post(stack, "ana", "/api/v1/canvases", {"name": "X", "notes": [{"block": "socios_raros", "text": "a"}]})
    body = bad.get_json()
    assert bad.status_code == 400 and body["code"] == "unknown_block" and "socios_raros" in body["detail"]
    assert body["errors"][0]["field"] == "notes[0].block"
    c = _canvas(stack, "ana")
    link = {"kind": "product", "target_id": MISSING_ID}
    res = _post(
        stack, "ana", f"/api/v1/canvases/{c['id']}/notes", {"block": "value_propositions", "text": "a", "links": [link]}
    )
    assert res.status_code == 400 and MISSING_ID in res.get_json()["detail"]
    assert stack.http.get(f"/api/v1/canvases/{c['id']}", headers=stack.auth("ana")).get_json()["notes"] == []


def test_notes_versions_conflicts_revisions_restore_and_exports(stack: Stack) -> None:
    c = _canvas(stack, "ana")
    url = f"/api/v1/canvases/{c['id']}"
    a = _post(stack, "ana", f"{url}/notes", {"block": "channels", "text": "Tienda web"})
    b = _post(stack, "marta", f"{url}/notes", {"block": "key_resources", "text": "Bodega"})
    assert a.status_code == 201 and a.headers["ETag"] == '"1"'
    note_a, note_b = a.get_json(), b.get_json()
    # Ana and Marta both edit from version 1 of different notes: both land.
    ra = stack.http.patch(
        f"{url}/notes/{note_a['id']}",
        json={"text": "Tienda web y app"},
        headers={**stack.auth("ana"), "If-Match": '"1"'},
    )
    rb = stack.http.patch(
        f"{url}/notes/{note_b['id']}",
        json={"text": "Bodega central", "expected_version": 1},
        headers=stack.auth("marta"),
    )
    assert ra.status_code == 200 and rb.status_code == 200 and ra.headers["ETag"] == '"2"'
    # Marta edits Ana's note from the version she read: 409 with the current note.
    stale = stack.http.patch(
        f"{url}/notes/{note_a['id']}", json={"text": "pisado"}, headers={**stack.auth("marta"), "If-Match": '"1"'}
    )
    problem = stale.get_json()
    assert stale.status_code == 409 and problem["code"] == "note_version_mismatch"
    assert problem["current"]["text"] == "Tienda web y app" and problem["current"]["version"] == 2
    gone = stack.http.delete(f"{url}/notes/{note_b['id']}", headers={**stack.auth("ana"), "If-Match": '"1"'})
    assert gone.status_code == 409 and gone.get_json()["current"]["text"] == "Bodega central"
    assert (
        stack.http.delete(f"{url}/notes/{note_b['id']}", headers={**stack.auth("ana"), "If-Match": '"2"'}).status_code
        == 204
    )

    revisions = stack.http.get(f"{url}/revisions", headers=stack.auth("carla")).get_json()["items"]
    assert [r["revision_number"] for r in revisions] == [6, 5, 4, 3, 2, 1]
    three = stack.http.get(f"{url}/revisions/3", headers=stack.auth("carla")).get_json()
    assert sorted(n["text"] for n in three["canvas"]["notes"]) == ["Bodega", "Tienda web"]
    restored = _post(stack, "ana", f"{url}/revisions/3:restore", {}, **{"If-Match": '"6"'})
    assert restored.status_code == 200, restored.get_json()
    assert sorted(n["text"] for n in restored.get_json()["notes"]) == ["Bodega", "Tienda web"]
    assert restored.headers["ETag"] == '"7"'

    pdf = stack.http.get(f"{url}/pdf", headers=stack.auth("carla"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    exported = stack.http.get(f"{url}/export", headers=stack.auth("carla"))
    assert exported.status_code == 200 and len(exported.get_json()["notes"]) == 2
    imported = _post(stack, "carla", "/api/v1/canvases:import", {"document": exported.get_json(), "name": "Importado"})
    assert imported.status_code == 201, imported.get_json()
    made = imported.get_json()["canvas"]
    assert made["owner_id"] == stack.id("carla") and sorted(n["text"] for n in made["notes"]) == [
        "Bodega",
        "Tienda web",
    ]
