"""Canvas, the business-model whiteboard: the list of canvases, a new one, and the board itself —
the nine blocks in the classic layout with their notes (add, edit, colour, drag within and between
blocks, or the "Mover a…" menu without a mouse), links from a note to a product, a client segment
or a campaign chosen with a search picker, and each link's live figures as the API returns them.
Notes carry their own versions: a stale edit shows the other person's note beside the user's and
lets them keep either. Revisions are shown with what changed since (notes added, removed,
changed) and can be restored; a canvas can be copied, archived and downloaded as the API's PDF.

Every change is one or more calls to /api/v1/canvases as the signed-in user; the API decides who
may change what (403 for anyone else)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.forms import Form

bp = Blueprint("canvas", __name__, url_prefix="/canvas")

# The nine blocks, in the order a canvas is filled in (customers first: Osterwalder's order). It
# is the order of the page (a phone stacks them so); the stylesheet places them in the classic
# layout on a wide screen.
BLOCKS: list[tuple[str, Any, Any]] = [
    ("customer_segments", lazy_gettext("Segmentos de clientes"), lazy_gettext("¿Para quién creamos valor?")),
    ("value_propositions", lazy_gettext("Propuestas de valor"), lazy_gettext("¿Qué problema resolvemos?")),
    ("channels", lazy_gettext("Canales"), lazy_gettext("¿Cómo llegamos a los clientes?")),
    (
        "customer_relationships",
        lazy_gettext("Relación con los clientes"),
        lazy_gettext("¿Qué relación espera cada segmento?"),
    ),
    ("revenue_streams", lazy_gettext("Fuentes de ingresos"), lazy_gettext("¿Por qué valor pagan?")),
    ("key_resources", lazy_gettext("Recursos clave"), lazy_gettext("¿Qué recursos necesitamos?")),
    ("key_activities", lazy_gettext("Actividades clave"), lazy_gettext("¿Qué actividades necesitamos?")),
    ("key_partners", lazy_gettext("Socios clave"), lazy_gettext("¿Quiénes nos ayudan?")),
    ("cost_structure", lazy_gettext("Estructura de costos"), lazy_gettext("¿Cuáles son los costos principales?")),
]
BLOCK_NAMES = {key: title for key, title, _hint in BLOCKS}

# The colours a note may take (the API accepts any #RRGGBB; the page offers these, each drawn by
# a class because the CSP allows no inline style). An unknown colour is drawn as the first.
COLORS: list[tuple[str, Any]] = [
    ("#FFF4A8", lazy_gettext("Amarillo")),
    ("#C8F2C2", lazy_gettext("Verde")),
    ("#CDE4FF", lazy_gettext("Azul")),
    ("#FFD1DC", lazy_gettext("Rosa")),
    ("#FFDDB0", lazy_gettext("Naranja")),
    ("#E2D4FF", lazy_gettext("Lila")),
]
COLOR_CLASS = {hex_.upper(): f"note-c{i}" for i, (hex_, _name) in enumerate(COLORS)}

LINK_KINDS: list[tuple[str, Any]] = [
    ("product", lazy_gettext("Producto")),
    ("client_segment", lazy_gettext("Segmento de clientes")),
    ("campaign", lazy_gettext("Campaña")),
]
LINK_STATES = {
    "archived": lazy_gettext("Archivado"),
    "missing": lazy_gettext("No existe"),
    "restricted": lazy_gettext("Sin acceso"),
}
STATUS = {"draft": lazy_gettext("Borrador"), "active": lazy_gettext("Activo"), "archived": lazy_gettext("Archivado")}
STATUS_TONE = {"draft": "neutral", "active": "success", "archived": "warning"}

# Orders are spaced so that a note dropped between two others usually changes only itself.
ORDER_STEP = 1000
MAX_ORDER = 100_000
PAGE_SIZE = 50


def _canvas_url(canvas_id: str) -> str:
    return f"/api/v1/canvases/{canvas_id}"


def _if_match(version: Any) -> dict[str, str] | None:
    text = str(version or "").strip()
    return {"If-Match": f'"{text}"'} if text.isdigit() else None


def _note_of(canvas: dict[str, Any], note_id: str) -> dict[str, Any]:
    for note in canvas.get("notes") or []:
        if note.get("id") == note_id:
            return note
    raise ApiError(404, "note_not_found", "no such note on this canvas")


def _by_block(notes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {key: [] for key, _t, _h in BLOCKS}
    for note in notes:
        out.setdefault(note.get("block") or "", []).append(note)
    for items in out.values():
        items.sort(key=lambda n: (n.get("order") or 0, n.get("id") or ""))
    return out


def _wants_json() -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _globals() -> dict[str, Any]:
    return {
        "blocks": BLOCKS,
        "block_names": BLOCK_NAMES,
        "colors": COLORS,
        "color_class": COLOR_CLASS,
        "link_kinds": dict(LINK_KINDS),
        "link_states": LINK_STATES,
        "statuses": STATUS,
        "status_tones": STATUS_TONE,
    }


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return _globals()


# --- The list and a new canvas ------------------------------------------------------------------


@bp.get("/")
def list_canvases() -> str:
    api = web_session.api()
    q = request.args.get("q", "").strip()
    archived = request.args.get("include_archived") == "1"
    token = request.args.get("page_token", "")
    users = pool.submit(lookups.users, api)
    page = api.list("/api/v1/canvases", q=q, include_archived=archived, page_size=PAGE_SIZE, page_token=token)
    args = {k: v for k, v in (("q", q), ("include_archived", "1" if archived else ""), ("page_token", token)) if v}
    return render_template("canvas/list.html", page=page, filters=args, args=args, users=users.result())


@bp.route("/new", methods=["GET", "POST"])
def new_canvas() -> str | Response:
    form = Form.from_record({}, ["name", "description"])
    if request.method == "POST":
        form = Form.posted()
        body = {"name": form.get("name"), "description": form.get("description"), "status": "active"}
        try:
            made = web_session.api().post("/api/v1/canvases", body)
        except ApiError as exc:
            if exc.status != 400:
                raise
            form.take(exc, ["name", "description"])
        else:
            flash(_("Canvas «%(name)s» creado.", name=made["name"]), "success")
            return redirect(url_for("canvas.show_canvas", canvas_id=made["id"]))
    return render_template("canvas/new.html", form=form)


# --- The board ----------------------------------------------------------------------------------


def _board_words() -> dict[str, Any]:
    """The words every note repeats, translated once per page (a board holds hundreds of notes;
    translating each word per note was most of the page's time)."""
    return {
        "edit": _("Editar"),
        "link": _("Vincular"),
        "move_to": _("Mover a…"),
        "choose_block": _("Elegir bloque"),
        "delete": _("Eliminar"),
        "drag": _("Arrastrar para mover"),
        "kinds": {key: str(text) for key, text in LINK_KINDS},
        "states": {key: str(text) for key, text in LINK_STATES.items()},
    }


@bp.get("/<uuid:canvas_id>")
def show_canvas(canvas_id: UUID) -> str:
    api = web_session.api()
    users = pool.submit(lookups.users, api)
    canvas = api.get(_canvas_url(str(canvas_id)))
    notes = _by_block(canvas.get("notes") or [])
    next_order = {
        key: min(MAX_ORDER, max([n.get("order") or 0 for n in items], default=0) + ORDER_STEP)
        for key, items in notes.items()
    }
    return render_template(
        "canvas/board.html",
        canvas=canvas,
        notes=notes,
        next_order=next_order,
        users=users.result(),
        editable=canvas.get("status") != "archived",
        words=_board_words(),
        base=url_for("canvas.show_canvas", canvas_id=canvas_id),
    )


@bp.post("/<uuid:canvas_id>/notes")
def add_note(canvas_id: UUID) -> Response:
    block = request.form.get("block", "")
    body: dict[str, Any] = {"block": block, "text": request.form.get("text", "").strip()}
    if request.form.get("color"):
        body["color"] = request.form["color"]
    order = request.form.get("order", "")
    if order.isdigit():
        body["order"] = min(int(order), MAX_ORDER)
    try:
        note = web_session.api().post(f"{_canvas_url(str(canvas_id))}/notes", body)
    except ApiError as exc:
        if exc.status != 400:
            raise
        message = "; ".join(exc.field_errors.values()) or exc.detail
        flash(_("No se añadió la nota: %(reason)s", reason=message), "error")
        return redirect(url_for("canvas.show_canvas", canvas_id=canvas_id, _anchor=f"block-{block}"))
    flash(_("Nota añadida a «%(block)s».", block=BLOCK_NAMES.get(block, block)), "success")
    return redirect(url_for("canvas.show_canvas", canvas_id=canvas_id, _anchor=f"note-{note['id']}"))


def _conflict(
    canvas: dict[str, Any], current: dict[str, Any] | None, mine: dict[str, Any], status: int = 409
) -> tuple[str, int]:
    """The other person's note beside the user's, with "keep theirs" and "keep mine"."""
    return render_template("canvas/conflict.html", canvas=canvas, theirs=current, mine=mine), status


def _current_after_conflict(api: Api, canvas_id: str, note_id: str, exc: ApiError) -> dict[str, Any] | None:
    current = exc.extra.get("current")
    if isinstance(current, dict):
        return current
    try:  # a 412 carries no note: read it
        return _note_of(api.get(_canvas_url(canvas_id)), note_id)
    except ApiError as again:
        if again.status == 404:
            return None
        raise


@bp.route("/<uuid:canvas_id>/notes/<uuid:note_id>/edit", methods=["GET", "POST"])
def edit_note(canvas_id: UUID, note_id: UUID) -> str | Response | tuple[str, int]:
    api = web_session.api()
    cid, nid = str(canvas_id), str(note_id)
    canvas = api.get(_canvas_url(cid))
    note = _note_of(canvas, nid)
    form = Form.from_record(note, ["text", "color", "version"])
    if request.method == "POST":
        form = Form.posted()
        mine = {"text": form.get("text"), "color": form.get("color"), "id": nid}
        body = {k: v for k, v in mine.items() if k != "id" and (v or k == "text")}
        try:
            api.patch(f"{_canvas_url(cid)}/notes/{nid}", body, headers=_if_match(form.get("version")))
        except ApiError as exc:
            if exc.status in (409, 412):
                return _conflict(canvas, _current_after_conflict(api, cid, nid, exc), mine, exc.status)
            if exc.status != 400:
                raise
            form.take(exc, ["text", "color"])
        else:
            flash(_("Nota guardada."), "success")
            return redirect(url_for("canvas.show_canvas", canvas_id=cid, _anchor=f"note-{nid}"))
    return render_template("canvas/note_edit.html", canvas=canvas, note=note, form=form)


def _placement(others: list[dict[str, Any]], position: int) -> tuple[int, dict[str, int]]:
    """The order for a note put at `position` among `others` (sorted, without it), and the notes
    that must be renumbered to make room ({id: new order}; empty when a gap is free)."""
    position = max(0, min(position, len(others)))
    before = others[position - 1].get("order") or 0 if position > 0 else None
    after = others[position].get("order") or 0 if position < len(others) else None
    if after is None:
        start = ORDER_STEP if before is None else before + ORDER_STEP
        if start <= MAX_ORDER:
            return start, {}
    elif before is None:
        if after >= 2:
            return after // 2, {}
    elif after - before >= 2:
        return (before + after) // 2, {}
    step = max(1, min(ORDER_STEP, MAX_ORDER // (len(others) + 2)))
    renumbered: dict[str, int] = {}
    mine = 0
    for i, slot in enumerate([*others[:position], None, *others[position:]]):
        order = (i + 1) * step
        if slot is None:
            mine = order
        elif (slot.get("order") or 0) != order:
            renumbered[slot["id"]] = order
    return mine, renumbered


@bp.get("/<uuid:canvas_id>/notes/<uuid:note_id>/move")
def move_menu(canvas_id: UUID, note_id: UUID) -> str:
    """The "Mover a…" menu of one note: fetched by htmx when the note's menu opens (the board
    does not carry nine options per note), or a page of its own without JavaScript."""
    canvas = web_session.api().get(_canvas_url(str(canvas_id)))
    note = _note_of(canvas, str(note_id))
    if request.headers.get("HX-Request"):
        return render_template("canvas/_move_form.html", canvas=canvas, note=note)
    return render_template("canvas/move.html", canvas=canvas, note=note)


@bp.post("/<uuid:canvas_id>/notes/<uuid:note_id>/move")
def move_note(canvas_id: UUID, note_id: UUID) -> Any:
    """Put a note in a block at a position (the end when none is given): a drag on the board (it
    asks for JSON) or the "Mover a…" menu (a form). Only the moved note changes unless its
    neighbours' orders leave no room, when they are renumbered too (each with its own version)."""
    api = web_session.api()
    cid, nid = str(canvas_id), str(note_id)
    block = request.form.get("block", "")
    canvas = api.get(_canvas_url(cid))
    note = _note_of(canvas, nid)
    if block not in BLOCK_NAMES:
        if _wants_json():
            return jsonify({"message": _("Ese bloque no existe.")}), 400
        flash(_("Ese bloque no existe."), "error")
        return redirect(url_for("canvas.show_canvas", canvas_id=cid))
    others = [n for n in _by_block(canvas.get("notes") or []).get(block, []) if n["id"] != nid]
    raw = request.form.get("position", "")
    order, renumbered = _placement(others, int(raw) if raw.isdigit() else len(others))
    version = request.form.get("version") or str(note.get("version", ""))
    changed: dict[str, dict[str, Any]] = {}
    try:
        moved = api.patch(
            f"{_canvas_url(cid)}/notes/{nid}", {"block": block, "order": order}, headers=_if_match(version)
        )
        changed[nid] = {"version": moved["version"], "order": moved["order"], "block": block}
        versions = {n["id"]: n.get("version") for n in others}
        for other_id, other_order in renumbered.items():
            after = api.patch(
                f"{_canvas_url(cid)}/notes/{other_id}", {"order": other_order}, headers=_if_match(versions[other_id])
            )
            changed[other_id] = {"version": after["version"], "order": after["order"], "block": block}
    except ApiError as exc:
        if exc.status not in (409, 412):
            raise
        if _wants_json():
            message = _("Otra persona cambió esta nota mientras la movías. La página se actualizará.")
            return jsonify({"message": message, "notes": changed}), 409
        mine = {"id": nid, "block": block, "text": note.get("text", ""), "color": note.get("color", "")}
        return _conflict(canvas, _current_after_conflict(api, cid, nid, exc), mine, exc.status)
    message = _("Nota movida a «%(block)s».", block=BLOCK_NAMES[block])
    if _wants_json():
        return jsonify({"message": message, "notes": changed})
    flash(message, "success")
    return redirect(url_for("canvas.show_canvas", canvas_id=cid, _anchor=f"note-{nid}"))


@bp.route("/<uuid:canvas_id>/notes/<uuid:note_id>/delete", methods=["GET", "POST"])
def delete_note(canvas_id: UUID, note_id: UUID) -> str | Response:
    api = web_session.api()
    cid, nid = str(canvas_id), str(note_id)
    if request.method == "GET":
        canvas = api.get(_canvas_url(cid))
        return render_template("canvas/note_delete.html", canvas=canvas, note=_note_of(canvas, nid))
    headers = _if_match(request.form.get("version"))
    try:
        api.request("DELETE", f"{_canvas_url(cid)}/notes/{nid}", headers=headers)
    except ApiError as exc:
        if exc.status not in (409, 412):
            raise
        flash(_("Otra persona cambió esta nota; no se eliminó. Revísala y vuelve a intentarlo."), "warning")
        return redirect(url_for("canvas.show_canvas", canvas_id=cid, _anchor=f"note-{nid}"))
    flash(_("Nota eliminada. Puedes recuperarla desde las revisiones."), "success")
    return redirect(url_for("canvas.show_canvas", canvas_id=cid))


# --- Links: the search picker -------------------------------------------------------------------


def _search(api: Api, kind: str, q: str) -> list[dict[str, Any]]:
    """Candidates for a link, as the API lists them for this user: {target_id, name, detail}."""
    if kind == "product":
        page = api.list("/api/v1/products", q=q, page_size=10)
        return [
            {"target_id": p["id"], "name": p.get("name", ""), "detail": p.get("sku", ""), "price": p.get("unit_price")}
            for p in page.items
        ]
    if kind == "campaign":
        page = api.list("/api/v1/campaigns", q=q, page_size=10)
        return [{"target_id": c["id"], "name": c.get("name", ""), "detail": ""} for c in page.items]
    if kind == "client_segment":
        # Segments are the clients' tags: the ones on the most recent clients that contain the
        # words typed, with how many of those clients carry each; the typed tag itself too.
        page = api.list("/api/v1/clients", page_size=200)
        counts: dict[str, int] = {}
        for client in page.items:
            for tag in client.get("segment_tags") or []:
                if q.lower() in tag.lower():
                    counts[tag] = counts.get(tag, 0) + 1
        found: list[dict[str, Any]] = [
            {"target_id": t, "name": t, "detail": "", "clients": str(n)} for t, n in sorted(counts.items())
        ]
        if q and q not in counts:
            found.insert(0, {"target_id": q, "name": q, "detail": "", "clients": ""})
        return found[:10]
    return []


@bp.get("/<uuid:canvas_id>/notes/<uuid:note_id>/link")
def link_note(canvas_id: UUID, note_id: UUID) -> str:
    """The picker: choose a kind, type to search (htmx swaps the results in; without JavaScript
    the form reloads this page), then "Vincular" one result."""
    api = web_session.api()
    cid, nid = str(canvas_id), str(note_id)
    kind = request.args.get("kind", "product")
    kind = kind if kind in dict(LINK_KINDS) else "product"
    q = request.args.get("q", "").strip()
    results = _search(api, kind, q)
    ctx = {"kind": kind, "q": q, "results": results, "canvas_id": cid, "note_id": nid}
    if request.headers.get("HX-Request"):
        canvas = api.get(_canvas_url(cid))
        return render_template("canvas/_link_results.html", note=_note_of(canvas, nid), **ctx)
    canvas = api.get(_canvas_url(cid))
    return render_template("canvas/link.html", canvas=canvas, note=_note_of(canvas, nid), words=_board_words(), **ctx)


def _links_body(note: dict[str, Any]) -> list[dict[str, str]]:
    return [{"kind": link["kind"], "target_id": link["target_id"]} for link in note.get("links") or []]


def _change_links(canvas_id: str, note_id: str, change: str) -> Response | tuple[str, int]:
    api = web_session.api()
    canvas = api.get(_canvas_url(canvas_id))
    note = _note_of(canvas, note_id)
    kind, target = request.form.get("kind", ""), request.form.get("target_id", "").strip()
    links = [x for x in _links_body(note) if (x["kind"], x["target_id"]) != (kind, target)]
    if change == "add":
        links.append({"kind": kind, "target_id": target})
    try:
        api.patch(
            f"{_canvas_url(canvas_id)}/notes/{note_id}",
            {"links": links},
            headers=_if_match(request.form.get("version") or note.get("version")),
        )
    except ApiError as exc:
        if exc.status in (409, 412):
            mine = {"id": note_id, "text": note.get("text", ""), "color": note.get("color", "")}
            return _conflict(canvas, _current_after_conflict(api, canvas_id, note_id, exc), mine, exc.status)
        if exc.status != 400:
            raise
        flash(_("No se pudo vincular: %(reason)s", reason="; ".join(exc.field_errors.values()) or exc.detail), "error")
        return redirect(url_for("canvas.link_note", canvas_id=canvas_id, note_id=note_id, kind=kind))
    if change == "add":
        flash(_("Nota vinculada."), "success")
    else:
        flash(_("Vínculo quitado."), "success")
    return redirect(url_for("canvas.show_canvas", canvas_id=canvas_id, _anchor=f"note-{note_id}"))


@bp.post("/<uuid:canvas_id>/notes/<uuid:note_id>/link")
def add_link(canvas_id: UUID, note_id: UUID) -> Response | tuple[str, int]:
    return _change_links(str(canvas_id), str(note_id), "add")


@bp.post("/<uuid:canvas_id>/notes/<uuid:note_id>/unlink")
def remove_link(canvas_id: UUID, note_id: UUID) -> Response | tuple[str, int]:
    return _change_links(str(canvas_id), str(note_id), "remove")


# --- Revisions ----------------------------------------------------------------------------------


@bp.get("/<uuid:canvas_id>/revisions")
def list_revisions(canvas_id: UUID) -> str:
    api = web_session.api()
    cid = str(canvas_id)
    token = request.args.get("page_token", "")
    canvas = pool.submit(api.get, _canvas_url(cid))
    users = pool.submit(lookups.users, api)
    page = api.list(f"{_canvas_url(cid)}/revisions", page_size=PAGE_SIZE, page_token=token)
    return render_template(
        "canvas/revisions.html",
        canvas=canvas.result(),
        page=page,
        args={"canvas_id": cid, **({"page_token": token} if token else {})},
        users=users.result(),
    )


def _diff(then: list[dict[str, Any]], now: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Which notes a revision had that the canvas no longer has, which it gained since, and which
    changed (text, block, colour or links), by note id."""
    before = {n["id"]: n for n in then}
    after = {n["id"]: n for n in now}

    def content(n: dict[str, Any]) -> tuple[Any, ...]:
        links = sorted((x.get("kind"), x.get("target_id")) for x in n.get("links") or [])
        return (n.get("text"), n.get("block"), (n.get("color") or "").upper(), links)

    return {
        "removed": [before[i] for i in before if i not in after],
        "added": [after[i] for i in after if i not in before],
        "changed": [(before[i], after[i]) for i in before if i in after and content(before[i]) != content(after[i])],
    }


@bp.get("/<uuid:canvas_id>/revisions/<int:number>")
def show_revision(canvas_id: UUID, number: int) -> str:
    api = web_session.api()
    cid = str(canvas_id)
    current = pool.submit(api.get, _canvas_url(cid))
    users = pool.submit(lookups.users, api)
    revision = api.get(f"{_canvas_url(cid)}/revisions/{number}")
    canvas = current.result()
    diff = _diff(revision["canvas"].get("notes") or [], canvas.get("notes") or [])
    return render_template(
        "canvas/revision.html",
        canvas=canvas,
        revision=revision["revision"],
        then=revision["canvas"],
        diff=diff,
        users=users.result(),
    )


@bp.post("/<uuid:canvas_id>/revisions/<int:number>/restore")
def restore_revision(canvas_id: UUID, number: int) -> Response:
    api = web_session.api()
    cid = str(canvas_id)
    try:
        api.post(f"{_canvas_url(cid)}/revisions/{number}:restore", {}, headers=_if_match(request.form.get("version")))
    except ApiError as exc:
        if exc.status not in (409, 412):
            raise
        flash(_("El canvas cambió mientras mirabas esta revisión: revisa las diferencias otra vez."), "warning")
        return redirect(url_for("canvas.show_revision", canvas_id=cid, number=number))
    flash(_("Revisión %(number)s restaurada.", number=number), "success")
    return redirect(url_for("canvas.show_canvas", canvas_id=cid))


# --- Copy, archive, PDF -------------------------------------------------------------------------


@bp.route("/<uuid:canvas_id>/copy", methods=["GET", "POST"])
def copy_canvas(canvas_id: UUID) -> str | Response:
    api = web_session.api()
    cid = str(canvas_id)
    canvas = api.get(_canvas_url(cid))
    form = Form(values={"name": _("%(name)s (copia)", name=canvas["name"])})
    if request.method == "POST":
        form = Form.posted()
        try:
            made = api.post(f"{_canvas_url(cid)}:copy", {"name": form.get("name")})
        except ApiError as exc:
            if exc.status != 400:
                raise
            form.take(exc, ["name"])
        else:
            flash(_("Copia «%(name)s» creada.", name=made["name"]), "success")
            return redirect(url_for("canvas.show_canvas", canvas_id=made["id"]))
    return render_template("canvas/copy.html", canvas=canvas, form=form)


@bp.route("/<uuid:canvas_id>/archive", methods=["GET", "POST"])
def archive_canvas(canvas_id: UUID) -> str | Response:
    api = web_session.api()
    cid = str(canvas_id)
    canvas = api.get(_canvas_url(cid))
    if request.method == "POST":
        api.post(f"{_canvas_url(cid)}:archive", {})
        flash(_("Canvas «%(name)s» archivado.", name=canvas["name"]), "success")
        return redirect(url_for("canvas.show_canvas", canvas_id=cid))
    return render_template(
        "confirm.html",
        crumbs=[
            (url_for("canvas.list_canvases"), _("Canvas")),
            (url_for("canvas.show_canvas", canvas_id=cid), canvas["name"]),
            (None, _("Archivar")),
        ],
        heading=_("¿Archivar «%(name)s»?", name=canvas["name"]),
        message=_(
            "El canvas queda de solo lectura y deja de aparecer en la lista; sus notas y revisiones se conservan."
        ),
        consequence="",
        action=url_for("canvas.archive_canvas", canvas_id=cid),
        button=_("Archivar canvas"),
        cancel=url_for("canvas.show_canvas", canvas_id=cid),
        danger=False,
    )


@bp.get("/<uuid:canvas_id>/pdf")
def canvas_pdf(canvas_id: UUID) -> Response:
    """The API's PDF, streamed through as the signed-in user."""
    res, chunks = web_session.api().stream(f"{_canvas_url(str(canvas_id))}/pdf")
    disposition = res.headers.get("Content-Disposition", 'inline; filename="canvas.pdf"')
    return current_app.response_class(
        stream_with_context(chunks), mimetype="application/pdf", headers={"Content-Disposition": disposition}
    )
