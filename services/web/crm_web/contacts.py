"""Contacts (Contacto), the people inside client companies, shaped like the clients pages: the list
(the API's filters, text search, total count, forward paging, CSV export), CSV/XLSX import with
the per-row report, create and edit forms (the API's errors beside their fields; a duplicate
e-mail or phone explained with a link to the existing contact), the detail page (the contact on
the left; its client, deals and activities and a timeline on the right), archive and delete."""

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
from crm_web.forms import Form
from crm_web.record_labels import DECISION_ROLES, options

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

# The list's filters: the API's query parameters of GET /api/v1/contacts.
FILTERS = ["q", "client_id", "decision_role", "owner_id", "include_archived"]
FIELDS = ["client_id", "first_name", "last_name", "job_title", "email", "phones", "decision_role", "owner_id"]
LIST_FIELDS = ("phones",)

IMPORT = records.ImportPage(
    path="/api/v1/contacts:import",
    title=lazy_gettext("Importar contactos"),
    list_title=lazy_gettext("Contactos"),
    columns_hint=lazy_gettext(
        "Columnas: nombre, apellido, cargo, correo, telefono, y el cliente de cada fila por "
        "client_id, por su NIT (nit_cliente) o por su correo (correo_cliente), en español o en inglés."
    ),
    list_endpoint="contacts.list_contacts",
    existing_endpoint="contacts.show_contact",
    existing_arg="contact_id",
    button_one=lazy_gettext("Importar %(num)s contacto"),
    button_many=lazy_gettext("Importar %(num)s contactos"),
    done_message=lazy_gettext("Importación terminada: %(n)s contactos creados."),
)


def client_names(api: Api, ids: set[str]) -> dict[str, str]:
    """The names of the clients these contacts belong to, asked in parallel (the API has no batch
    read); a client the user cannot read shows no name."""
    futures = {i: pool.submit(api.get, f"/api/v1/clients/{i}") for i in ids if i}
    out: dict[str, str] = {}
    for i, fut in futures.items():
        try:
            out[i] = fut.result().get("name", "")
        except ApiError as exc:
            if exc.status == 401:
                raise
            out[i] = ""
    return out


def display_name(contact: dict[str, Any]) -> str:
    return records.person_name(contact) or contact.get("email") or _("(sin nombre)")


@bp.get("/")
def list_contacts() -> str:
    api = web_session.api()
    args = records.filters(FILTERS)
    token = request.args.get("page_token", "")
    users = pool.submit(lookups.users, api)
    page = api.list(
        "/api/v1/contacts",
        page_size=records.PAGE_SIZE,
        page_token=token,
        include_total_size=True,
        **records.api_query(args),
    )
    ids = {c.get("client_id", "") for c in page.items} | ({args["client_id"]} if args.get("client_id") else set())
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "users": users.result(),
        "user_options": lookups.user_options(api),
        "clients": client_names(api, ids),
        "roles": options(DECISION_ROLES),
    }
    return records.fragment_or_page("contacts-table", "contacts/_table.html", "contacts/list.html", **ctx)


@bp.get("/export.csv")
def export_contacts() -> Response:
    return records.export_csv("/api/v1/contacts:export", FILTERS, "contactos.csv")


@bp.route("/import", methods=["GET", "POST"])
def import_contacts() -> str | Response:
    return records.import_view(IMPORT)


# The client picker lists this many clients by name (a larger company types the name to narrow it).
CLIENT_CHOICES = 500


def client_options(api: Api, client_id: str, q: str = "") -> list[tuple[str, str]]:
    """(id, name) of the clients a contact may belong to, by name, with the current one first."""
    page = api.list("/api/v1/clients", page_size=CLIENT_CHOICES, q=q)
    choices = sorted(((c["id"], c["name"]) for c in page.items), key=lambda x: x[1].lower())
    if client_id and all(i != client_id for i, _n in choices):
        choices.insert(0, (client_id, client_names(api, {client_id}).get(client_id) or client_id))
    return [("", "—"), *choices]


def _options(api: Api, client_id: str) -> dict[str, Any]:
    clients = pool.submit(client_options, api, client_id)
    return {
        "roles": [("", "—"), *options(DECISION_ROLES)],
        "user_options": lookups.user_options(api),
        "client_options": clients.result(),
    }


@bp.route("/new", methods=["GET", "POST"])
def new_contact() -> str | Response:
    api = web_session.api()
    start = {"owner_id": web_session.user().get("id"), "client_id": request.args.get("client_id", "")}
    form = Form.from_record(start, FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = form.body(FIELDS, lists=LIST_FIELDS)
        body = {k: v for k, v in body.items() if v not in ("", [])}
        body["primary"] = request.form.get("primary") == "1"
        if request.form.get("force_duplicate") == "1":
            body["force_duplicate"] = True
        try:
            created = api.post("/api/v1/contacts", body)
        except ApiError as exc:
            if exc.status not in (400, 404, 409):
                raise
            form.take(exc, FIELDS)
            if exc.status == 409:
                form.general = []  # explained by the duplicate panel instead
        else:
            flash(_("Contacto «%(name)s» creado.", name=display_name(created)), "success")
            return redirect(url_for("contacts.show_contact", contact_id=created["id"]))
    return render_template("contacts/form.html", form=form, contact=None, **_options(api, form.get("client_id")))


@bp.route("/<uuid:contact_id>/edit", methods=["GET", "POST"])
def edit_contact(contact_id: UUID) -> str | Response:
    api = web_session.api()
    contact = api.get(f"/api/v1/contacts/{contact_id}")
    form = Form.from_record(contact, FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = form.body(FIELDS, lists=LIST_FIELDS, keep_empty=True)
        body = {k: v for k, v in body.items() if not (k in ("decision_role", "owner_id", "client_id") and v == "")}
        body["primary"] = request.form.get("primary") == "1"
        try:
            api.patch(f"/api/v1/contacts/{contact_id}", body, headers=records.if_match(request.form.get("version", "")))
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            form.take(exc, FIELDS)
            if exc.status in (409, 412):
                form.general = []
        else:
            flash(_("Cambios guardados."), "success")
            return redirect(url_for("contacts.show_contact", contact_id=contact_id))
    return render_template(
        "contacts/form.html", form=form, contact=contact, **_options(api, form.get("client_id") or contact["client_id"])
    )


@bp.get("/<uuid:contact_id>")
def show_contact(contact_id: UUID) -> str:
    api = web_session.api()
    cid = str(contact_id)
    contact = pool.submit(api.get, f"/api/v1/contacts/{cid}")
    deals = pool.submit(api.list, "/api/v1/deals", contact_id=cid, page_size=50)
    activities = pool.submit(api.list, "/api/v1/activities", contact_id=cid, page_size=50)
    users = pool.submit(lookups.users, api)
    stages = pool.submit(lookups.stages, api)
    record = contact.result()  # a 404 (or no access) ends here, as a not-found page
    client = pool.submit(client_names, api, {record.get("client_id", "")})
    rel = records.related({"deals": deals, "activities": activities})
    events = records.timeline({"time": record.get("create_time")}, rel["deals"], rel["activities"], stages.result())
    return render_template(
        "contacts/detail.html",
        contact=record,
        name=display_name(record),
        client_name=client.result().get(record.get("client_id", ""), ""),
        users=users.result(),
        stages=stages.result(),
        timeline=events,
        created_text=_("Contacto creado"),
        **rel,
    )


def _crumbs(contact: dict[str, Any], last: str) -> list[tuple[str | None, str]]:
    return [
        (url_for("contacts.list_contacts"), _("Contactos")),
        (url_for("contacts.show_contact", contact_id=contact["id"]), display_name(contact)),
        (None, last),
    ]


@bp.route("/<uuid:contact_id>/archive", methods=["GET", "POST"])
def archive_contact(contact_id: UUID) -> str | Response:
    contact = web_session.api().get(f"/api/v1/contacts/{contact_id}")
    return records.confirm_archive(
        record_path=f"/api/v1/contacts/{contact_id}",
        name=display_name(contact),
        crumbs=_crumbs(contact, _("Archivar")),
        done_url=url_for("contacts.show_contact", contact_id=contact_id),
        noun=_("Contacto"),
        message=_("El contacto deja de aparecer en las listas; su historia se conserva."),
    )


@bp.route("/<uuid:contact_id>/delete", methods=["GET", "POST"])
def delete_contact(contact_id: UUID) -> str | Response:
    contact = web_session.api().get(f"/api/v1/contacts/{contact_id}")
    name = display_name(contact)
    return records.confirm_delete(
        record_path=f"/api/v1/contacts/{contact_id}",
        name=name,
        crumbs=_crumbs(contact, _("Eliminar")),
        back_url=url_for("contacts.show_contact", contact_id=contact_id),
        done_url=url_for("contacts.list_contacts"),
        noun=_("Contacto"),
        message=_("El contacto se borra para siempre."),
        consequence=_("Solo se puede eliminar un contacto que nada usa; si tiene negocios o actividades, archívalo."),
        refused=_("No se puede eliminar «%(name)s»: otros registros lo usan. Archívalo en su lugar.", name=name),
    )
