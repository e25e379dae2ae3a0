"""Browser journeys of the canvas whiteboard (crm_web/canvas.py) in Chromium, against the session
platform of conftest.py (`web_site`: crm up's processes on SQLite): a note dragged from one block
to another lands there in the API and is linked to a product with the search picker; after a
deal for that product is won (through the API), the note's figures change on the page; two
sessions edit the same note and the second sees the other person's text and keeps either; a
restored revision brings the old notes back; copy, archive and the PDF. axe-core and screenshots
(es, en; desktop, phone) for the list and the board."""

from __future__ import annotations

import time
import uuid
from typing import Any

from playwright.sync_api import Page, expect

# The session fixture's WebSite (conftest.py; not importable under --import-mode=importlib).
WebSite = Any

FIGURES_WAIT_SECONDS = 45


def _uid() -> str:
    return uuid.uuid4().hex[:6]


def _canvas(site: WebSite, who: str, name: str, notes: list[dict[str, Any]]) -> dict[str, Any]:
    made = site.call(who, "POST", "/api/v1/canvases", {"name": name, "status": "active", "notes": notes})
    return dict(made)


def _notes(site: WebSite, who: str, canvas_id: str) -> dict[str, dict[str, Any]]:
    canvas = site.call(who, "GET", f"/api/v1/canvases/{canvas_id}")
    return {n["text"]: n for n in canvas["notes"]}


def _drag(page: Page, source: Any, target: Any) -> None:
    """A mouse drag in small steps (SortableJS's fallback mode follows mouse events)."""
    s, t = source.bounding_box(), target.bounding_box()
    assert s and t
    x, y = s["x"] + s["width"] / 2, s["y"] + s["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    page.mouse.move(t["x"] + t["width"] / 2, t["y"] + t["height"] - 6, steps=25)
    page.mouse.move(t["x"] + t["width"] / 2, t["y"] + t["height"] - 4, steps=3)
    page.mouse.up()


def test_a_note_dragged_to_another_block_and_linked_to_a_product_shows_the_won_deal(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    product = site.call(
        "marta",
        "POST",
        "/api/v1/products",
        {
            "sku": f"CNV-{uid}",
            "name": f"Asesoría canvas {uid}",
            "kind": "service",
            "unit_price": {"amount": "2000000", "currency_code": "COP"},
            "tax_rate": "0.19",
        },
    )
    canvas = _canvas(
        site,
        "marta",
        f"Modelo {uid}",
        [
            {"block": "key_partners", "text": f"Arrastrable {uid}", "order": 1000},
            {"block": "value_propositions", "text": f"Propuesta fija {uid}", "order": 1000},
        ],
    )
    note = _notes(site, "marta", canvas["id"])[f"Arrastrable {uid}"]
    page = site.page("marta", axe=True)
    page.goto(f"/canvas/{canvas['id']}")
    source = page.locator(f"#note-{note['id']} [data-drag-handle]")
    target = page.locator("ol[data-block=value_propositions]")
    _drag(page, source, target)
    expect(page.locator("#canvas-status")).to_contain_text("Nota movida a «Propuestas de valor»")
    expect(target.locator(f"#note-{note['id']}")).to_be_visible()
    moved = _notes(site, "marta", canvas["id"])[f"Arrastrable {uid}"]
    assert moved["block"] == "value_propositions" and moved["version"] == note["version"] + 1
    # The page's copy of the version followed the drag: a second move (the keyboard's menu) is not stale.
    assert page.locator(f"#note-{note['id']}").get_attribute("data-version") == str(moved["version"])
    page.locator(f"#note-{note['id']} .note-move summary").click()
    page.select_option(f"#mv-{note['id']}", "revenue_streams")
    page.locator(f"#note-{note['id']} .note-move button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Fuentes de ingresos")
    assert _notes(site, "marta", canvas["id"])[f"Arrastrable {uid}"]["block"] == "revenue_streams"

    # Link it to the product with the search picker (htmx swaps the results in as one types).
    page.locator(f"#note-{note['id']} a", has_text="Vincular").click()
    page.select_option("#link-kind", "product")
    page.fill("#link-q", f"canvas {uid}")
    result = page.locator("#link-results li", has_text=f"Asesoría canvas {uid}")
    expect(page.locator("#link-results li")).to_have_count(1)  # the search narrowed the list
    expect(result).to_be_visible()
    site.check_and_photograph(page, "canvas-link-picker")
    result.locator("button", has_text="Vincular").click()
    expect(page.locator(".flash-success")).to_contain_text("Nota vinculada")
    link = page.locator(f"#note-{note['id']} .note-link[data-target-id='{product['id']}']")
    expect(link).to_contain_text(f"Asesoría canvas {uid}")
    expect(link.locator("[data-won]")).to_have_attribute("data-won", "0")
    linked = _notes(site, "marta", canvas["id"])[f"Arrastrable {uid}"]["links"]
    assert [(x["kind"], x["target_id"]) for x in linked] == [("product", product["id"])]

    # A rep of Marta's team wins a deal for the product: the note's figures follow (bounded poll).
    deal = site.call(
        "ana",
        "POST",
        "/api/v1/deals",
        {
            "title": f"Negocio canvas {uid}",
            "client_id": site.ids["client"],
            "line_items": [{"product_id": product["id"], "quantity": "1"}],
            "amount": {"amount": "2000000", "currency_code": "COP"},
        },
    )
    site.call("ana", "POST", f"/api/v1/deals/{deal['id']}:win", {})
    deadline = time.monotonic() + FIGURES_WAIT_SECONDS
    while True:
        page.reload()
        if link.locator("[data-won]").get_attribute("data-won") == "1" or time.monotonic() > deadline:
            break
        time.sleep(1)
    expect(link.locator("[data-won]")).to_have_attribute("data-won", "1")
    expect(link.locator("[data-won-amount]")).to_contain_text("2.000.000")
    page.context.close()


def test_two_sessions_edit_one_note_and_the_second_keeps_theirs_or_mine(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    canvas = _canvas(site, "marta", f"Conflicto {uid}", [{"block": "channels", "text": f"Original {uid}"}])
    note = _notes(site, "marta", canvas["id"])[f"Original {uid}"]
    edit = f"/canvas/{canvas['id']}/notes/{note['id']}/edit"
    marta, admin = site.page("marta"), site.page("admin", axe=True)
    marta.goto(edit)
    admin.goto(edit)
    marta.fill("#f-text", f"De Marta {uid}")
    marta.locator("main button[type=submit]", has_text="Guardar nota").click()
    expect(marta.locator(".flash-success")).to_contain_text("Nota guardada")
    admin.fill("#f-text", f"Del admin {uid}")
    admin.locator("main button[type=submit]", has_text="Guardar nota").click()
    expect(admin.locator("h1")).to_have_text("Otra persona cambió esta nota")
    expect(admin.locator("[data-side=theirs] .note-text")).to_have_text(f"De Marta {uid}")
    expect(admin.locator("[data-side=mine] .note-text")).to_have_text(f"Del admin {uid}")
    site.check_and_photograph(admin, "canvas-conflict")
    admin.locator("a", has_text="Conservar la suya").click()
    expect(admin.locator(f"#note-{note['id']} .note-text")).to_have_text(f"De Marta {uid}")
    assert f"De Marta {uid}" in _notes(site, "admin", canvas["id"])

    # Again, and this time the admin keeps theirs: it lands over Marta's version, knowingly.
    admin.goto(edit)
    marta.goto(edit)
    marta.fill("#f-text", f"Marta otra vez {uid}")
    marta.locator("main button[type=submit]", has_text="Guardar nota").click()
    expect(marta.locator(".flash-success")).to_be_visible()
    admin.fill("#f-text", f"El admin insiste {uid}")
    admin.locator("main button[type=submit]", has_text="Guardar nota").click()
    expect(admin.locator("[data-side=theirs] .note-text")).to_have_text(f"Marta otra vez {uid}")
    admin.locator("button", has_text="Conservar la mía").click()
    expect(admin.locator(f"#note-{note['id']} .note-text")).to_have_text(f"El admin insiste {uid}")
    assert set(_notes(site, "marta", canvas["id"])) == {f"El admin insiste {uid}"}
    marta.context.close()
    admin.context.close()


def test_restoring_an_earlier_revision_brings_the_old_notes_back(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    canvas = _canvas(site, "marta", f"Historia {uid}", [{"block": "key_resources", "text": f"Vieja {uid}"}])
    old = _notes(site, "marta", canvas["id"])[f"Vieja {uid}"]
    first = canvas["version"]
    page = site.page("marta", axe=True)
    page.goto(f"/canvas/{canvas['id']}")
    page.locator("#block-channels .add-note summary").click()
    page.fill("#add-channels", f"Nueva {uid}")
    page.locator("#block-channels .add-note button[type=submit]").click()
    expect(page.locator("ol[data-block=channels] .note-text")).to_have_text([f"Nueva {uid}"])
    page.locator(f"#note-{old['id']} a.note-delete").click()
    expect(page.locator("main .note-text")).to_have_text(f"Vieja {uid}")
    page.locator("main button[type=submit]", has_text="Eliminar nota").click()
    expect(page.locator(f"#note-{old['id']}")).to_have_count(0)
    assert set(_notes(site, "marta", canvas["id"])) == {f"Nueva {uid}"}

    page.locator("a", has_text="Revisiones").first.click()
    page.locator("a", has_text=f"Revisión {first}").first.click()
    expect(page.locator(".diff-removed .diff-text")).to_have_text([f"Vieja {uid}"])
    expect(page.locator(".diff-added .diff-text")).to_have_text([f"Nueva {uid}"])
    site.check_and_photograph(page, "canvas-revision")
    page.locator("button", has_text="Restaurar esta revisión").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Revisión {first} restaurada")
    expect(page.locator(f"#note-{old['id']} .note-text")).to_have_text(f"Vieja {uid}")
    expect(page.locator(".note-text", has_text=f"Nueva {uid}")).to_have_count(0)
    assert set(_notes(site, "marta", canvas["id"])) == {f"Vieja {uid}"}
    page.context.close()


def test_copy_archive_and_the_pdf(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    canvas = _canvas(site, "marta", f"Original {uid}", [{"block": "cost_structure", "text": f"Nómina {uid}"}])
    page = site.page("marta")
    page.goto(f"/canvas/{canvas['id']}")
    pdf = page.request.get(f"/canvas/{canvas['id']}/pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    page.locator(".page-actions a", has_text="Copiar").click()
    page.fill("#f-name", f"Copia {uid}")
    page.locator("main button[type=submit]", has_text="Copiar canvas").click()
    expect(page.locator("h1")).to_contain_text(f"Copia {uid}")
    expect(page.locator("ol[data-block=cost_structure] .note-text")).to_have_text([f"Nómina {uid}"])
    copies = site.call("marta", "GET", "/api/v1/canvases", q=f"Copia {uid}")["items"]
    assert len(copies) == 1 and copies[0]["status"] == "draft"

    page.goto(f"/canvas/{canvas['id']}")
    page.locator(".page-actions a", has_text="Archivar").click()
    page.locator("main button[type=submit]", has_text="Archivar canvas").click()
    expect(page.locator(".panel-info")).to_contain_text("archivado")
    expect(page.locator("[data-drag-handle]")).to_have_count(0)
    assert site.call("marta", "GET", f"/api/v1/canvases/{canvas['id']}")["status"] == "archived"
    page.goto("/canvas/")
    expect(page.locator("td a", has_text=f"Original {uid}")).to_have_count(0)
    page.check("#flt-archived")
    page.locator("main button[type=submit]", has_text="Filtrar").click()
    expect(page.locator("td a", has_text=f"Original {uid}")).to_have_count(1)
    page.context.close()


def test_list_and_board_pass_axe_in_both_languages_with_screenshots(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    notes: list[dict[str, Any]] = [
        {"block": "customer_segments", "text": "Ferreterías medianas de Antioquia", "color": "#CDE4FF"},
        {"block": "value_propositions", "text": "Inventario al día sin planillas", "color": "#FFF4A8"},
        {"block": "value_propositions", "text": "Licencia anual con soporte", "color": "#C8F2C2"},
        {"block": "channels", "text": "Visitas de los vendedores", "color": "#FFDDB0"},
        {"block": "customer_relationships", "text": "Asesor dedicado", "color": "#FFD1DC"},
        {"block": "revenue_streams", "text": "Suscripción anual", "color": "#E2D4FF"},
        {"block": "key_resources", "text": "Equipo de implementación"},
        {"block": "key_activities", "text": "Capacitación en sitio"},
        {"block": "key_partners", "text": "Distribuidores regionales"},
        {"block": "cost_structure", "text": "Nómina comercial"},
    ]
    notes[2]["links"] = [{"kind": "product", "target_id": site.ids["product"]}]
    canvas = _canvas(site, "marta", f"Ferreterías {uid}", notes)
    for lang in ("es", "en"):
        page = site.page("marta", lang=lang, axe=True)
        page.goto("/canvas/")
        expect(page.locator("td a", has_text=f"Ferreterías {uid}")).to_be_visible()
        site.check_and_photograph(page, "canvas-list")
        page.goto(f"/canvas/{canvas['id']}")
        expect(page.locator(".block")).to_have_count(9)
        heading = "Propuestas de valor" if lang == "es" else "Value propositions"
        expect(page.locator("#h-value_propositions")).to_contain_text(heading)
        expect(page.locator(".note-link").first).to_contain_text("Licencia CRM anual")
        site.check_and_photograph(page, "canvas-board")
        # On a phone the blocks stack in filling order: customer segments first, costs last.
        page.set_viewport_size({"width": 390, "height": 844})
        tops = page.eval_on_selector_all(".canvas-board > .block", "els => els.map(e => e.getBoundingClientRect().top)")
        assert tops == sorted(tops) and len(set(tops)) == 9
        page.context.close()


def test_a_note_linked_to_a_client_segment_shows_how_many_clients_carry_it(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    tag = f"ferreterias-{uid}"
    for i in range(2):
        site.call(
            "ana", "POST", "/api/v1/clients", {"name": f"Cliente {uid} {i}", "kind": "company", "segment_tags": [tag]}
        )
    canvas = _canvas(site, "marta", f"Segmentos {uid}", [{"block": "customer_segments", "text": f"Ferreterías {uid}"}])
    note = _notes(site, "marta", canvas["id"])[f"Ferreterías {uid}"]
    page = site.page("marta")
    page.goto(f"/canvas/{canvas['id']}/notes/{note['id']}/link")
    page.select_option("#link-kind", "client_segment")
    page.fill("#link-q", uid)
    result = page.locator("#link-results li", has_text=tag)
    expect(result).to_contain_text("2 clientes")
    result.locator("button", has_text="Vincular").click()
    link = page.locator(f"#note-{note['id']} .note-link[data-link-kind=client_segment]")
    expect(link).to_contain_text(tag)
    expect(link.locator("[data-figures]")).to_contain_text("2 clientes")
    # The link can be removed again from the picker page.
    page.goto(f"/canvas/{canvas['id']}/notes/{note['id']}/link")
    page.locator("button", has_text="Quitar").click()
    expect(page.locator(".flash-success")).to_contain_text("Vínculo quitado")
    assert _notes(site, "marta", canvas["id"])[f"Ferreterías {uid}"]["links"] == []
    page.context.close()


def test_a_dropped_note_takes_a_free_order_between_its_neighbours_or_they_are_renumbered() -> None:
    from crm_web.canvas import MAX_ORDER, _placement

    def notes(*orders: int) -> list[dict[str, Any]]:
        return [{"id": f"n{i}", "order": o} for i, o in enumerate(orders)]

    assert _placement([], 0) == (1000, {})
    assert _placement(notes(1000, 2000), 2) == (3000, {})
    assert _placement(notes(1000, 2000), 1) == (1500, {})
    assert _placement(notes(1000, 2000), 0) == (500, {})
    assert _placement(notes(1000, 2000), 99) == (3000, {})  # past the end is the end
    # Notes made through the API all start at order 0: no room, so the block is renumbered.
    assert _placement(notes(0, 0), 1) == (2000, {"n0": 1000, "n1": 3000})
    assert _placement(notes(5, 6), 1) == (2000, {"n0": 1000, "n1": 3000})
    # Near the ceiling the step shrinks so every order stays within the API's limit.
    order, renumbered = _placement(notes(*([MAX_ORDER] * 150)), 150)
    assert order <= MAX_ORDER and max(renumbered.values()) <= MAX_ORDER and len(renumbered) == 150


def test_a_drag_over_a_note_someone_changed_meanwhile_saves_nothing_and_says_so(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    canvas = _canvas(site, "marta", f"Arrastre {uid}", [{"block": "key_partners", "text": f"Socio {uid}"}])
    note = _notes(site, "marta", canvas["id"])[f"Socio {uid}"]
    page = site.page("marta")
    page.goto(f"/canvas/{canvas['id']}")
    # The admin edits the note after Marta's page was drawn: her copy of its version is stale.
    url = f"/api/v1/canvases/{canvas['id']}/notes/{note['id']}"
    site.call("admin", "PATCH", url, {"text": f"Socio cambiado {uid}"})
    _drag(page, page.locator(f"#note-{note['id']} [data-drag-handle]"), page.locator("ol[data-block=channels]"))
    expect(page.locator("#canvas-status")).to_contain_text("Otra persona cambió esta nota")
    # The page reloads by itself and shows the note where it is, with the other person's text.
    expect(page.locator(f"ol[data-block=key_partners] #note-{note['id']} .note-text")).to_have_text(
        f"Socio cambiado {uid}", timeout=15_000
    )
    after = _notes(site, "marta", canvas["id"])[f"Socio cambiado {uid}"]
    assert after["block"] == "key_partners" and after["version"] == note["version"] + 1
    page.context.close()


def test_a_rep_who_may_not_change_someone_elses_canvas_is_told_and_nothing_changes(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    canvas = _canvas(site, "marta", f"Ajeno {uid}", [{"block": "channels", "text": f"Canal {uid}"}])
    note = _notes(site, "marta", canvas["id"])[f"Canal {uid}"]
    page = site.page("beto")
    page.goto(f"/canvas/{canvas['id']}")  # every user may read every canvas
    expect(page.locator(f"#note-{note['id']} .note-text")).to_have_text(f"Canal {uid}")
    page.locator(f"#note-{note['id']} a", has_text="Editar").click()
    page.fill("#f-text", f"Cambio de Beto {uid}")
    page.locator("main button[type=submit]", has_text="Guardar nota").click()
    expect(page.locator("h1")).to_have_text("No tienes permiso")
    assert set(_notes(site, "marta", canvas["id"])) == {f"Canal {uid}"}
    page.context.close()


def test_a_channel_note_linked_to_a_campaign_shows_its_leads_and_cost(web_site: WebSite) -> None:
    site, uid = web_site, _uid()
    campaign = site.call(
        "marta",
        "POST",
        "/api/v1/campaigns",
        {
            "name": f"Feria Ferretera {uid}",
            "type": "trade_fair",
            "budget": {"amount": "500000", "currency_code": "COP"},
        },
    )
    canvas = _canvas(site, "marta", f"Canales {uid}", [{"block": "channels", "text": f"Ferias {uid}"}])
    note = _notes(site, "marta", canvas["id"])[f"Ferias {uid}"]
    page = site.page("marta", lang="en")
    page.goto(f"/canvas/{canvas['id']}/notes/{note['id']}/link")
    page.select_option("#link-kind", "campaign")
    page.fill("#link-q", f"Ferretera {uid}")
    result = page.locator("#link-results li", has_text=f"Feria Ferretera {uid}")
    expect(page.locator("#link-results li")).to_have_count(1)
    result.locator("button", has_text="Link").click()
    link = page.locator(f"#note-{note['id']} .note-link[data-target-id='{campaign['id']}']")
    expect(link).to_contain_text(f"Campaign: Feria Ferretera {uid}")
    expect(link.locator("[data-figures=campaign]")).to_contain_text("0 leads")
    page.context.close()
