"""Quotes (Cotización): the list with the API's filters and paging, the quote editor (products
picked from the catalogue, quantities, per-line and global discounts, tax per line, with live
totals computed by the quotes service through `POST /api/v1/quotes:preview` as the user types:
the page never does the arithmetic), the detail page with the PDF shown in it (es/en), and the
life-cycle actions the API offers: save as draft, send, accept, reject with a reason, revise.

The editor's inputs are named by the API's field paths (`lines[0].quantity`, `valid_until`), so
the API's validation errors land beside the field or line they name. Rates are typed as
percentages and sent as the API's fractions (records.percent_to_fraction). Adding or removing a
line re-renders the lines on the server (htmx, or a plain form post without JavaScript)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool, records
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.forms import Form

bp = Blueprint("quotes", __name__, url_prefix="/quotes")

PAGE_SIZE = 50
# The list's filters: exactly the API's query parameters of GET /api/v1/quotes.
FILTERS = ["q", "status", "deal_id", "client_id", "owner_id", "include_superseded"]
STATUSES = [
    ("draft", lazy_gettext("Borrador")),
    ("sent", lazy_gettext("Enviada")),
    ("accepted", lazy_gettext("Aceptada")),
    ("rejected", lazy_gettext("Rechazada")),
    ("expired", lazy_gettext("Expirada")),
    ("superseded", lazy_gettext("Reemplazada")),
]
# The quote's own fields on the editor (besides its lines).
HEADER = ["deal_id", "contact_id", "valid_until", "global_discount_rate", "terms", "notes"]
LINE_FIELDS = ("product_id", "quantity", "discount_rate", "tax_rate")
# What a line carries only to be shown again (the product as picked), never sent to the API.
LINE_SHOWN = ("name", "sku", "price", "unit")
PRODUCT_RESULTS = 8
_LINE_KEY = re.compile(r"^lines\[(\d+)\]\.([a-z_]+)$")
_ERROR_LINE = re.compile(r"^lines\[(\d+)\](?:\.(.+))?$")
LANGUAGES = ("es", "en")


@dataclass
class Editor:
    """The editor's state as posted: the header's values, the lines in order, and what the API
    said of them (errors per line and field, or the preview's figures)."""

    form: Form
    lines: list[dict[str, str]] = field(default_factory=list)
    line_errors: dict[int, dict[str, str]] = field(default_factory=dict)
    preview: dict[str, Any] | None = None

    def error(self, index: int, name: str) -> str:
        return self.line_errors.get(index, {}).get(name, "")

    def line_figures(self, index: int) -> dict[str, Any]:
        lines = (self.preview or {}).get("lines") or []
        return lines[index] if index < len(lines) else {}


def _editor_from_form() -> Editor:
    """The editor as posted, its lines renumbered 0..n-1 in the order they were shown."""
    form = Form.posted()
    by_index: dict[int, dict[str, str]] = {}
    for key, value in form.values.items():
        m = _LINE_KEY.match(key)
        if m:
            by_index.setdefault(int(m.group(1)), {})[m.group(2)] = value
    lines = [by_index[i] for i in sorted(by_index) if by_index[i].get("product_id")]
    form.values = {k: v for k, v in form.values.items() if not _LINE_KEY.match(k)}
    return Editor(form=form, lines=lines)


def _editor_from_quote(quote: dict[str, Any]) -> Editor:
    values = {
        "deal_id": quote.get("deal_id", ""),
        "contact_id": quote.get("contact_id", ""),
        "valid_until": quote.get("valid_until") or "",
        "global_discount_rate": records.fraction_to_percent(quote.get("global_discount_rate") or "0"),
        "terms": quote.get("terms", ""),
        "notes": quote.get("notes", ""),
    }
    lines = [
        {
            "product_id": ln.get("product_id", ""),
            "quantity": ln.get("quantity", ""),
            "discount_rate": records.fraction_to_percent(ln.get("discount_rate") or "0"),
            "tax_rate": records.fraction_to_percent(ln.get("tax_rate") or ""),
            "name": ln.get("description", ""),
            "sku": ln.get("sku", ""),
            "price": (ln.get("unit_price") or {}).get("amount", ""),
            "unit": ln.get("unit_of_measure", ""),
        }
        for ln in quote.get("lines") or []
    ]
    return Editor(form=Form(values=values), lines=lines, preview=quote)


def _body(editor: Editor) -> dict[str, Any]:
    """The API's create body (also the preview's) from the editor's values."""
    v = editor.form.values
    body: dict[str, Any] = {
        "deal_id": v.get("deal_id", ""),
        "contact_id": v.get("contact_id", ""),
        "global_discount_rate": records.percent_to_fraction(v.get("global_discount_rate", "")) or "0",
        "terms": v.get("terms", ""),
        "notes": v.get("notes", ""),
        "lines": [
            {
                "product_id": ln.get("product_id", ""),
                "quantity": records.parse_amount(ln.get("quantity", "")),
                "discount_rate": records.percent_to_fraction(ln.get("discount_rate", "")) or "0",
                "tax_rate": records.percent_to_fraction(ln.get("tax_rate", "")),
            }
            for ln in editor.lines
        ],
    }
    if v.get("valid_until"):
        body["valid_until"] = v["valid_until"]
    return body


# What a field must hold, in the page's words, in place of the API's format message (a pattern).
FORMAT_MESSAGES = {
    "quantity": lazy_gettext("Escribe una cantidad mayor que 0, con hasta 6 decimales."),
    "discount_rate": lazy_gettext("Escribe un porcentaje de 0 a 100."),
    "tax_rate": lazy_gettext("Escribe un porcentaje de 0 a 100, o déjalo vacío para usar el del producto."),
    "global_discount_rate": lazy_gettext("Escribe un porcentaje de 0 a 100."),
    "valid_until": lazy_gettext("Escribe una fecha válida."),
}


def _plain(name: str, message: str) -> str:
    """The API's message, unless it only describes a format (then what the field must hold)."""
    if message.startswith(("String should match pattern", "Input should be a valid date")):
        return str(FORMAT_MESSAGES.get(name, message))
    return message


def _take(editor: Editor, exc: ApiError) -> None:
    """The API's errors beside what they name: a line's field, a header field, or the summary."""
    editor.form.problem = exc
    named = dict(exc.field_errors)
    if not named and exc.extra.get("field"):
        named[str(exc.extra["field"])] = exc.detail
    for name, message in named.items():
        m = _ERROR_LINE.match(name)
        if m and int(m.group(1)) < len(editor.lines):
            part = (m.group(2) or "product_id").split(".")[0]
            part = part if part in LINE_FIELDS else "product_id"
            editor.line_errors.setdefault(int(m.group(1)), {}).setdefault(part, _plain(part, message))
        elif name in HEADER:
            editor.form.error(name, _plain(name, message))
        elif name == "global_discount_percent":
            editor.form.error("global_discount_rate", message)
        else:
            editor.form.general.append(f"{name}: {message}" if name else message)
    if not named:
        editor.form.general.append(exc.detail)


def _preview(api: Api, editor: Editor) -> None:
    """The quotes service's figures for the editor as it stands, or its errors beside their fields."""
    if not editor.lines or not editor.form.get("deal_id"):
        return
    try:
        editor.preview = api.post("/api/v1/quotes:preview", _body(editor))
    except ApiError as exc:
        if exc.status not in (400, 409, 422):
            raise
        _take(editor, exc)


def _apply_line_changes(api: Api, editor: Editor) -> None:
    """A product added (`add_product`) or a line removed (`remove_line`) by the button pressed."""
    remove = request.form.get("remove_line", "")
    if remove.isdigit() and int(remove) < len(editor.lines):
        del editor.lines[int(remove)]
    product_id = request.form.get("add_product", "")
    if product_id:
        try:
            product = api.get(f"/api/v1/products/{UUID(product_id)}")
        except (ValueError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status not in (400, 404):
                raise
            editor.form.general.append(_("Ese producto ya no existe."))
            return
        editor.lines.append(
            {
                "product_id": product["id"],
                "quantity": "1",
                "discount_rate": "0",
                "tax_rate": records.fraction_to_percent(product.get("tax_rate") or ""),
                "name": product.get("name", ""),
                "sku": product.get("sku", ""),
                "price": (product.get("unit_price") or {}).get("amount", ""),
                "unit": product.get("unit_of_measure", ""),
            }
        )


def _deal_context(api: Api, deal_id: str) -> dict[str, Any]:
    """The deal a quote is for, its client and the contacts a quote may name (the deal's)."""
    deal = api.get(f"/api/v1/deals/{UUID(deal_id)}")
    client = pool.submit(api.get, f"/api/v1/clients/{deal['client_id']}")
    contacts = []
    wanted = set(deal.get("contact_ids") or [])
    if wanted:
        page = api.list("/api/v1/contacts", client_id=deal["client_id"], page_size=200)
        contacts = [c for c in page.items if c["id"] in wanted]
    try:
        client_record = client.result()
    except ApiError as exc:
        if exc.status == 401:
            raise
        client_record = None
    return {
        "deal": deal,
        "client": client_record,
        "contact_options": [(c["id"], records.person_name(c)) for c in contacts],
    }


def _render_editor(editor: Editor, quote: dict[str, Any] | None, api: Api) -> str:
    deal_id = editor.form.get("deal_id")
    ctx = _deal_context(api, deal_id)
    return render_template(
        "quotes/editor.html",
        editor=editor,
        form=editor.form,
        quote=quote,
        product_q=request.form.get("product_q", ""),
        products=_search_products(api, request.form.get("product_q", "")) if request.method == "POST" else None,
        **ctx,
    )


def _search_products(api: Api, text: str) -> list[dict[str, Any]]:
    return api.list("/api/v1/products", q=text.strip(), page_size=PRODUCT_RESULTS).items


def _save(api: Api, editor: Editor, quote: dict[str, Any] | None) -> dict[str, Any] | None:
    """Creates the draft (or changes it), then sends it when asked; None when the API refused
    (its errors are on the editor)."""
    body = _body(editor)
    try:
        if quote is None:
            saved: dict[str, Any] = api.post("/api/v1/quotes", body)
        else:
            body.pop("deal_id")
            if not body.get("contact_id"):
                body.pop("contact_id")
            saved = api.patch(
                f"/api/v1/quotes/{quote['id']}", body, headers=records.if_match(request.form.get("version", ""))
            )
    except ApiError as exc:
        if exc.status not in (400, 409, 412, 422):
            raise
        _take(editor, exc)
        return None
    if request.form.get("action") == "send":
        try:
            saved = api.post(f"/api/v1/quotes/{saved['id']}:send", headers=records.if_match(str(saved["version"])))
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            flash(_("La cotización se guardó como borrador, pero no se pudo enviar: %(d)s", d=exc.detail), "error")
    return saved


def _editor_view(quote: dict[str, Any] | None) -> str | Response:
    api = web_session.api()
    if request.method == "GET":
        if quote is not None:
            editor = _editor_from_quote(quote)
        else:
            editor = Editor(form=Form(values={"deal_id": request.args.get("deal_id", ""), "global_discount_rate": "0"}))
        return _render_editor(editor, quote, api)
    editor = _editor_from_form()
    if quote is not None:
        editor.form.values["deal_id"] = quote["deal_id"]
    action = request.form.get("action", "")
    if request.form.get("add_product") or request.form.get("remove_line") or action in ("search", ""):
        _apply_line_changes(api, editor)
        _preview(api, editor)
        return _render_editor(editor, quote, api)
    if not editor.lines:
        editor.form.general.append(_("Añade al menos un producto a la cotización."))
        return _render_editor(editor, quote, api)
    saved = _save(api, editor, quote)
    if saved is None:
        return _render_editor(editor, quote, api)
    if action != "send" or saved.get("status") == "sent":
        flash(
            _("Cotización %(n)s enviada.", n=saved["number"])
            if saved.get("status") == "sent"
            else _("Cotización %(n)s guardada como borrador.", n=saved["number"]),
            "success",
        )
    return redirect(url_for("quotes.show_quote", quote_id=saved["id"]))


def _choose_deal(api: Api) -> str:
    """The first step of a new quote without a deal: pick one of the caller's open deals."""
    text = request.args.get("deal_q", "").strip()
    deals = api.list("/api/v1/deals", status="open", q=text, page_size=100).items
    return render_template("quotes/choose_deal.html", deals=deals, deal_q=text)


@bp.route("/new", methods=["GET", "POST"])
def new_quote() -> str | Response:
    deal_id = request.values.get("deal_id", "")
    try:
        UUID(deal_id)
    except ValueError:
        return _choose_deal(web_session.api())
    return _editor_view(None)


@bp.route("/<uuid:quote_id>/edit", methods=["GET", "POST"])
def edit_quote(quote_id: UUID) -> str | Response:
    quote = web_session.api().get(f"/api/v1/quotes/{quote_id}")
    if quote.get("status") != "draft":
        flash(_("Solo se cambia un borrador. Revisa la cotización para hacer una nueva versión."), "warning")
        return redirect(url_for("quotes.show_quote", quote_id=quote_id))
    return _editor_view(quote)


@bp.post("/editor/lines")
def editor_lines() -> str:
    """htmx: the lines after a product was added or a line removed, with the totals (out of band)."""
    api = web_session.api()
    editor = _editor_from_form()
    _apply_line_changes(api, editor)
    _preview(api, editor)
    return render_template("quotes/_lines_response.html", editor=editor, form=editor.form)


@bp.post("/editor/preview")
def preview_totals() -> str:
    """htmx, as the user types: the totals the quotes service computes for the editor's values,
    each line's total and errors beside it (out of band)."""
    api = web_session.api()
    editor = _editor_from_form()
    _preview(api, editor)
    return render_template("quotes/_preview_response.html", editor=editor, form=editor.form)


@bp.get("/editor/products")
def search_products() -> str:
    """htmx: catalogue products matching the text, each with a button that adds it as a line."""
    text = request.args.get("product_q", "")
    return render_template("quotes/_products.html", products=_search_products(web_session.api(), text), product_q=text)


def _names(api: Api, quotes: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The titles of the quotes' deals and the names of their clients, asked once each, at once."""
    deal_ids = {q["deal_id"] for q in quotes if q.get("deal_id")}
    client_ids = {q["client_id"] for q in quotes if q.get("client_id")}
    deals = {i: pool.submit(api.get, f"/api/v1/deals/{i}") for i in deal_ids}
    clients = {i: pool.submit(api.get, f"/api/v1/clients/{i}") for i in client_ids}

    def read(futures: dict[str, Any], key: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for i, fut in futures.items():
            try:
                out[i] = str(fut.result().get(key, ""))
            except ApiError as exc:
                if exc.status == 401:
                    raise
        return out

    return read(deals, "title"), read(clients, "name")


@bp.get("/")
def list_quotes() -> str:
    api = web_session.api()
    args = records.filters(FILTERS)
    token = request.args.get("page_token", "")
    query = records.api_query(args, flags=("include_superseded",))
    page = api.list("/api/v1/quotes", page_size=PAGE_SIZE, page_token=token, **query)
    deal_titles, client_names = _names(api, page.items)
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "statuses": STATUSES,
        "users": lookups.users(api),
        "user_options": lookups.user_options(api),
        "deal_titles": deal_titles,
        "client_names": client_names,
    }
    return records.fragment_or_page("quotes-table", "quotes/_table.html", "quotes/list.html", **ctx)


@bp.get("/<uuid:quote_id>")
def show_quote(quote_id: UUID) -> str:
    api = web_session.api()
    quote = api.get(f"/api/v1/quotes/{quote_id}")
    deal = pool.submit(api.get, f"/api/v1/deals/{quote['deal_id']}")
    client = pool.submit(api.get, f"/api/v1/clients/{quote['client_id']}")
    contact = pool.submit(api.get, f"/api/v1/contacts/{quote['contact_id']}") if quote.get("contact_id") else None
    revisions = pool.submit(
        api.list, "/api/v1/quotes", root_number=quote.get("root_number") or "", include_superseded=True, page_size=50
    )
    parts: dict[str, Any] = {}
    for name, fut in (("deal", deal), ("client", client), ("contact", contact), ("revisions", revisions)):
        try:
            parts[name] = fut.result() if fut is not None else None
        except ApiError as exc:
            if exc.status == 401:
                raise
            parts[name] = None
    language = request.args.get("language", "")
    if language not in LANGUAGES:
        language = web_session.language()
    return render_template(
        "quotes/detail.html",
        quote=quote,
        deal=parts["deal"],
        client=parts["client"],
        contact=parts["contact"],
        revisions=parts["revisions"].items if parts["revisions"] is not None else None,
        users=lookups.users(api),
        pdf_language=language,
    )


@bp.get("/<uuid:quote_id>/pdf")
def quote_pdf(quote_id: UUID) -> Response:
    """The API's PDF streamed through, to be shown in the quote's page (framed by this site only)."""
    language = request.args.get("language", "")
    res, chunks = web_session.api().stream(
        f"/api/v1/quotes/{quote_id}/pdf", locale=language if language in LANGUAGES else ""
    )
    disposition = res.headers.get("Content-Disposition", f'inline; filename="{quote_id}.pdf"')
    if request.args.get("download") == "1":
        disposition = disposition.replace("inline", "attachment", 1)
    headers = {
        "Content-Disposition": disposition,
        # Only this site's quote page frames it (every other page keeps frame-ancestors 'none').
        "Content-Security-Policy": "frame-ancestors 'self'",
        "X-Frame-Options": "SAMEORIGIN",
    }
    body = stream_with_context(_closing(res, chunks))
    return current_app.response_class(body, mimetype="application/pdf", headers=headers)


def _closing(res: Any, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The PDF's chunks, and its connection handed back to the pool once the last is sent."""
    try:
        yield from chunks
    finally:
        res.close()


def _action(path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A life-cycle action (the API's path, written out at each call so that the OpenAPI coverage
    test reads it) with the version the page showed; a refusal is explained on the page."""
    try:
        result: dict[str, Any] = web_session.api().post(
            path, body or {}, headers=records.if_match(request.form.get("version", ""))
        )
    except ApiError as exc:
        if exc.status == 412:
            flash(_("Alguien cambió esta cotización mientras la veías. Esta es la versión actual."), "error")
            return None
        if exc.status not in (400, 409):
            raise
        flash(_("No se pudo: %(d)s", d=exc.detail), "error")
        return None
    return result


@bp.post("/<uuid:quote_id>/send")
def send_quote(quote_id: UUID) -> Response:
    done = _action(f"/api/v1/quotes/{quote_id}:send")
    if done:
        flash(_("Cotización %(n)s enviada.", n=done["number"]), "success")
    return redirect(url_for("quotes.show_quote", quote_id=quote_id))


@bp.post("/<uuid:quote_id>/accept")
def accept_quote(quote_id: UUID) -> Response:
    done = _action(f"/api/v1/quotes/{quote_id}:accept")
    if done:
        flash(_("Cotización %(n)s aceptada: el negocio toma su total.", n=done["number"]), "success")
    return redirect(url_for("quotes.show_quote", quote_id=quote_id))


@bp.post("/<uuid:quote_id>/reject")
def reject_quote(quote_id: UUID) -> Response:
    done = _action(f"/api/v1/quotes/{quote_id}:reject", {"reason": request.form.get("reason", "").strip()})
    if done:
        flash(_("Cotización %(n)s rechazada.", n=done["number"]), "success")
    return redirect(url_for("quotes.show_quote", quote_id=quote_id))


@bp.post("/<uuid:quote_id>/revise")
def revise_quote(quote_id: UUID) -> Response:
    """A new draft revision of a sent, rejected or expired quote, opened in the editor."""
    done = _action(f"/api/v1/quotes/{quote_id}:revise")
    if not done:
        return redirect(url_for("quotes.show_quote", quote_id=quote_id))
    flash(_("Nueva versión %(n)s: cámbiala y envíala.", n=done["number"]), "success")
    return redirect(url_for("quotes.edit_quote", quote_id=done["id"]))
