"""Prospects (Prospecto), potential clients, shaped like the clients pages: the list (the API's
filters, text search, total count, forward paging, CSV export), CSV/XLSX import with the per-row
report, create and edit forms (status included), the detail page with its activities and a
timeline, archive and delete; and `:convert` as a short form (the company becomes a client or
joins the matching one, the person its contact, and a deal may be opened), landing on the
resulting client's page. A rep sees only their own prospects: another's is a not-found page."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool, records
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.clients import COUNTRIES
from crm_web.forms import Form
from crm_web.record_labels import PROSPECT_SOURCES, PROSPECT_STATUSES, options

bp = Blueprint("prospects", __name__, url_prefix="/prospects")

# The list's filters: the API's query parameters of GET /api/v1/prospects.
FILTERS = ["q", "status", "source", "city", "country_code", "industry", "owner_id", "include_archived"]
FIELDS = [
    "company_name",
    "first_name",
    "last_name",
    "job_title",
    "email",
    "phones",
    "tax_id.country_code",
    "tax_id.value",
    "industry",
    "address.street",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country_code",
    "source",
    "owner_id",
]
EDIT_FIELDS = [*FIELDS, "status", "disqualified_reason"]
LIST_FIELDS = ("phones",)
# Fields the API takes as a word or null: an empty choice is left out rather than sent as "".
ENUM_FIELDS = ("source", "owner_id", "status")
CONVERT_FIELDS = ["reuse_matching_client", "open_deal", "deal_title", "deal_amount.amount", "deal_amount.currency_code"]
CURRENCIES = ["COP", "MXN", "CLP", "PEN", "ARS", "USD", "EUR"]
DEFAULT_CURRENCY = {"CO": "COP", "MX": "MXN", "CL": "CLP", "PE": "PEN", "AR": "ARS", "US": "USD", "ES": "EUR"}


def _import_options() -> dict[str, str]:
    return {"default_source": request.form.get("default_source", "")}


IMPORT = records.ImportPage(
    path="/api/v1/prospects:import",
    title=lazy_gettext("Importar prospectos"),
    list_title=lazy_gettext("Prospectos"),
    columns_hint=lazy_gettext(
        "Columnas: empresa, nombre, apellido, cargo, correo, telefono, nit, sector, ciudad, pais, "
        "origen… en español o en inglés. Las filas repetidas (mismo correo o teléfono) se omiten."
    ),
    list_endpoint="prospects.list_prospects",
    existing_endpoint="prospects.show_prospect",
    existing_arg="prospect_id",
    button_one=lazy_gettext("Importar %(num)s prospecto"),
    button_many=lazy_gettext("Importar %(num)s prospectos"),
    done_message=lazy_gettext("Importación terminada: %(n)s prospectos creados."),
    options=_import_options,
    option_fields=(
        (
            "default_source",
            lazy_gettext("Origen de las filas que no lo dicen"),
            [("", lazy_gettext("Importación")), *((k, v) for k, v in PROSPECT_SOURCES.items() if k != "import")],
        ),
    ),
)


def display_name(p: dict[str, Any]) -> str:
    person = records.person_name(p)
    company = p.get("company_name") or ""
    return f"{company} · {person}" if company and person else company or person or p.get("email") or _("(sin nombre)")


@bp.get("/")
def list_prospects() -> str:
    api = web_session.api()
    args = records.filters(FILTERS)
    token = request.args.get("page_token", "")
    users = pool.submit(lookups.users, api)
    page = api.list(
        "/api/v1/prospects",
        page_size=records.PAGE_SIZE,
        page_token=token,
        include_total_size=True,
        **records.api_query(args),
    )
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "users": users.result(),
        "user_options": lookups.user_options(api),
        "statuses": options(PROSPECT_STATUSES),
        "sources": options(PROSPECT_SOURCES),
        "countries": COUNTRIES,
    }
    return records.fragment_or_page("prospects-table", "prospects/_table.html", "prospects/list.html", **ctx)


@bp.get("/export.csv")
def export_prospects() -> Response:
    return records.export_csv("/api/v1/prospects:export", FILTERS, "prospectos.csv")


@bp.route("/import", methods=["GET", "POST"])
def import_prospects() -> str | Response:
    return records.import_view(IMPORT)


def _options(api: Api) -> dict[str, Any]:
    return {
        "statuses": options(PROSPECT_STATUSES),
        "sources": [("", "—"), *options(PROSPECT_SOURCES)],
        "countries": COUNTRIES,
        "user_options": lookups.user_options(api),
    }


def _body(form: Form, names: list[str], *, keep_empty: bool) -> dict[str, Any]:
    body = form.body(names, lists=LIST_FIELDS, keep_empty=keep_empty)
    for name in ENUM_FIELDS:
        if body.get(name) == "":
            del body[name]
    for name in ("address", "tax_id"):
        if isinstance(body.get(name), dict) and not any(body[name].values()):
            body[name] = None  # emptied: cleared, not an object of empty strings
    return body


@bp.route("/new", methods=["GET", "POST"])
def new_prospect() -> str | Response:
    api = web_session.api()
    form = Form.from_record({"owner_id": web_session.user().get("id")}, FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = _body(form, FIELDS, keep_empty=False)
        if request.form.get("force_duplicate") == "1":
            body["force_duplicate"] = True
        try:
            created = api.post("/api/v1/prospects", body)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, FIELDS)
            if exc.status == 409:
                form.general = []  # explained by the duplicate panel instead
        else:
            flash(_("Prospecto «%(name)s» creado.", name=display_name(created)), "success")
            return redirect(url_for("prospects.show_prospect", prospect_id=created["id"]))
    return render_template("prospects/form.html", form=form, prospect=None, **_options(api))


@bp.route("/<uuid:prospect_id>/edit", methods=["GET", "POST"])
def edit_prospect(prospect_id: UUID) -> str | Response:
    api = web_session.api()
    prospect = api.get(f"/api/v1/prospects/{prospect_id}")
    form = Form.from_record(prospect, EDIT_FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = _body(form, EDIT_FIELDS, keep_empty=True)
        try:
            api.patch(
                f"/api/v1/prospects/{prospect_id}", body, headers=records.if_match(request.form.get("version", ""))
            )
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            form.take(exc, EDIT_FIELDS)
            if exc.status in (409, 412):
                form.general = []
        else:
            flash(_("Cambios guardados."), "success")
            return redirect(url_for("prospects.show_prospect", prospect_id=prospect_id))
    return render_template("prospects/form.html", form=form, prospect=prospect, **_options(api))


@bp.get("/<uuid:prospect_id>")
def show_prospect(prospect_id: UUID) -> str:
    api = web_session.api()
    pid = str(prospect_id)
    prospect = pool.submit(api.get, f"/api/v1/prospects/{pid}")
    activities = pool.submit(api.list, "/api/v1/activities", prospect_id=pid, page_size=50)
    users = pool.submit(lookups.users, api)
    record = prospect.result()  # a 404 (another rep's prospect, too) ends here, as a not-found page
    rel = records.related({"activities": activities})
    extra = []
    if record.get("status") == "converted":
        extra.append({"time": record.get("update_time"), "kind": "note", "text": _("Convertido en cliente")})
    events = records.timeline({"time": record.get("create_time")}, None, rel["activities"], {}, extra)
    return render_template(
        "prospects/detail.html",
        prospect=record,
        name=display_name(record),
        users=users.result(),
        countries=dict(COUNTRIES),
        timeline=events,
        created_text=_("Prospecto creado"),
        **rel,
    )


@bp.route("/<uuid:prospect_id>/convert", methods=["GET", "POST"])
def convert_prospect(prospect_id: UUID) -> str | Response:
    api = web_session.api()
    prospect = api.get(f"/api/v1/prospects/{prospect_id}")
    name = display_name(prospect)
    if prospect.get("status") == "converted" and prospect.get("converted_client_id"):
        return redirect(url_for("clients.show_client", client_id=prospect["converted_client_id"]))
    country = (prospect.get("address") or {}).get("country_code") or (prospect.get("tax_id") or {}).get("country_code")
    form = Form(
        values={
            "deal_title": prospect.get("company_name") or name,
            "deal_amount.currency_code": DEFAULT_CURRENCY.get(country or "", "COP"),
        }
    )
    if request.method == "POST":
        form = Form.posted()
        body: dict[str, Any] = {
            "reuse_matching_client": form.get("reuse_matching_client") == "1",
            "open_deal": form.get("open_deal") == "1",
        }
        if body["open_deal"]:
            body["deal_title"] = form.get("deal_title")
            amount = records.parse_amount(form.get("deal_amount.amount"))
            if amount:
                body["deal_amount"] = {"amount": amount, "currency_code": form.get("deal_amount.currency_code")}
        try:
            result = api.post(f"/api/v1/prospects/{prospect_id}:convert", body)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, CONVERT_FIELDS)
        else:
            client = result["client"]
            if result.get("client_created"):
                message = _("«%(p)s» es ahora el cliente «%(c)s».", p=name, c=client["name"])
            else:
                message = _("«%(p)s» se unió al cliente existente «%(c)s».", p=name, c=client["name"])
            if body["open_deal"]:
                message += " " + _("Se abrió un negocio.")
            flash(message, "success")
            return redirect(url_for("clients.show_client", client_id=client["id"]))
    return render_template(
        "prospects/convert.html",
        form=form,
        prospect=prospect,
        name=name,
        currencies=[(c, c) for c in CURRENCIES],
        countries=dict(COUNTRIES),
    )


def _crumbs(prospect: dict[str, Any], last: str) -> list[tuple[str | None, str]]:
    return [
        (url_for("prospects.list_prospects"), _("Prospectos")),
        (url_for("prospects.show_prospect", prospect_id=prospect["id"]), display_name(prospect)),
        (None, last),
    ]


@bp.route("/<uuid:prospect_id>/archive", methods=["GET", "POST"])
def archive_prospect(prospect_id: UUID) -> str | Response:
    prospect = web_session.api().get(f"/api/v1/prospects/{prospect_id}")
    return records.confirm_archive(
        record_path=f"/api/v1/prospects/{prospect_id}",
        name=display_name(prospect),
        crumbs=_crumbs(prospect, _("Archivar")),
        done_url=url_for("prospects.show_prospect", prospect_id=prospect_id),
        noun=_("Prospecto"),
        message=_("El prospecto deja de aparecer en las listas; su historia se conserva."),
    )


@bp.route("/<uuid:prospect_id>/delete", methods=["GET", "POST"])
def delete_prospect(prospect_id: UUID) -> str | Response:
    prospect = web_session.api().get(f"/api/v1/prospects/{prospect_id}")
    name = display_name(prospect)
    return records.confirm_delete(
        record_path=f"/api/v1/prospects/{prospect_id}",
        name=name,
        crumbs=_crumbs(prospect, _("Eliminar")),
        back_url=url_for("prospects.show_prospect", prospect_id=prospect_id),
        done_url=url_for("prospects.list_prospects"),
        noun=_("Prospecto"),
        message=_("El prospecto se borra para siempre."),
        consequence=_("Un prospecto convertido en cliente no se puede eliminar; archívalo."),
        refused=_("No se puede eliminar «%(name)s»: ya se convirtió en cliente. Archívalo en su lugar.", name=name),
    )
