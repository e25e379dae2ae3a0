"""Clients (Cliente), the exemplar of a record's pages: the list (the API's filters, text search,
total count, forward paging with page_token, CSV export), CSV/XLSX import (a dry run's per-row
report first, then the import), create and edit forms (the API's errors beside their fields; a
duplicate tax id or e-mail explained with a link to the existing client), the detail page (the
record on the left; its contacts, deals, quotes and activities and a timeline on the right), and
archive and delete behind a confirmation. Other record pages follow the same shape."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool, records
from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.forms import Form

IMPORT = records.ImportPage(
    path="/api/v1/clients:import",
    title=lazy_gettext("Importar clientes"),
    list_title=lazy_gettext("Clientes"),
    columns_hint=lazy_gettext(
        "Columnas: nombre, tipo, razon_social, nit (o tax_id), pais, sector, correo, telefono, ciudad… en "
        "español o en inglés. Las filas repetidas (mismo correo, teléfono o NIT) se omiten."
    ),
    list_endpoint="clients.list_clients",
    existing_endpoint="clients.show_client",
    existing_arg="client_id",
    button_one=lazy_gettext("Importar %(num)s cliente"),
    button_many=lazy_gettext("Importar %(num)s clientes"),
    done_message=lazy_gettext("Importación terminada: %(n)s clientes creados."),
)

bp = Blueprint("clients", __name__, url_prefix="/clients")

# The list's filters: exactly the API's query parameters of GET /api/v1/clients.
FILTERS = ["q", "kind", "industry", "segment_tag", "city", "country_code", "source", "owner_id", "include_archived"]
FIELDS = [
    "name",
    "kind",
    "legal_name",
    "tax_id.country_code",
    "tax_id.value",
    "industry",
    "segment_tags",
    "email",
    "phones",
    "website",
    "address.street",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country_code",
    "source",
    "owner_id",
]
LIST_FIELDS = ("segment_tags", "phones")
# The form's labels (as clients/form.html shows them), naming the fields in the error summary.
LABELS = {
    "name": lazy_gettext("Nombre comercial"),
    "kind": lazy_gettext("Tipo"),
    "legal_name": lazy_gettext("Razón social"),
    "tax_id.country_code": lazy_gettext("País del documento tributario"),
    "tax_id.value": lazy_gettext("NIT / RFC / RUT"),
    "industry": lazy_gettext("Sector"),
    "segment_tags": lazy_gettext("Segmentos"),
    "email": lazy_gettext("Correo electrónico"),
    "phones": lazy_gettext("Teléfonos"),
    "website": lazy_gettext("Sitio web"),
    "address.street": lazy_gettext("Dirección"),
    "address.city": lazy_gettext("Ciudad"),
    "address.region": lazy_gettext("Departamento / estado"),
    "address.postal_code": lazy_gettext("Código postal"),
    "address.country_code": lazy_gettext("País"),
    "source": lazy_gettext("Origen"),
    "owner_id": lazy_gettext("Responsable"),
}
PAGE_SIZE = 50
CSV = "text/csv"

KINDS = [("company", lazy_gettext("Empresa")), ("person", lazy_gettext("Persona"))]
COUNTRIES = [
    ("CO", "Colombia"),
    ("MX", "México"),
    ("CL", "Chile"),
    ("AR", "Argentina"),
    ("PE", "Perú"),
    ("EC", "Ecuador"),
    ("US", "Estados Unidos"),
    ("ES", "España"),
]


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip() for k in FILTERS if request.args.get(k, "").strip()}


@bp.get("/")
def list_clients() -> str:
    api = web_session.api()
    args = _filters()
    token = request.args.get("page_token", "")
    query: dict[str, Any] = dict(args)
    query["include_archived"] = args.get("include_archived") == "1"
    # Asked first and read last: the layout and the filters are rendered while the API answers.
    page = pool.later(
        api.list, "/api/v1/clients", page_size=PAGE_SIZE, page_token=token, include_total_size=True, **query
    )
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "owner_names": lookups.user_names(api),
        "user_options": lookups.user_options(api),
        "kinds": KINDS,
        "countries": COUNTRIES,
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "clients-table":
        return render_template("clients/_table.html", **ctx)
    return render_template("clients/list.html", **ctx)


@bp.get("/export.csv")
def export_clients() -> Response:
    """The API's CSV export with the list's filters, streamed through."""
    args = _filters()
    args["include_archived"] = "true" if args.get("include_archived") == "1" else ""
    res, chunks = web_session.api().stream("/api/v1/clients:export", **args)
    headers = {"Content-Disposition": res.headers.get("Content-Disposition", 'attachment; filename="clientes.csv"')}
    return current_app.response_class(stream_with_context(chunks), mimetype=CSV, headers=headers)


@bp.route("/import", methods=["GET", "POST"])
def import_clients() -> str | Response:
    """Step 1: choose a file, which is checked (dry run) and reported row by row. Step 2: the
    report's "Import" sends the same file (carried in the form) for real."""
    return records.import_view(IMPORT)


def _options(api: Any) -> dict[str, Any]:
    return {"kinds": KINDS, "countries": COUNTRIES, "user_options": lookups.user_options(api)}


@bp.route("/new", methods=["GET", "POST"])
def new_client() -> str | Response:
    api = web_session.api()
    form = Form.from_record({"kind": "company", "owner_id": web_session.user().get("id")}, FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = form.body(FIELDS, lists=LIST_FIELDS)
        if request.form.get("force_duplicate") == "1":
            body["force_duplicate"] = True
        try:
            created = api.post("/api/v1/clients", body)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, FIELDS, LABELS)
            if exc.status == 409:
                form.general = []  # explained by the duplicate panel instead
        else:
            flash(_("Cliente «%(name)s» creado.", name=created["name"]), "success")
            return redirect(url_for("clients.show_client", client_id=created["id"]))
    return render_template("clients/form.html", form=form, client=None, **_options(api))


@bp.route("/<uuid:client_id>/edit", methods=["GET", "POST"])
def edit_client(client_id: UUID) -> str | Response:
    api = web_session.api()
    client = api.get(f"/api/v1/clients/{client_id}")
    form = Form.from_record(client, FIELDS)
    if request.method == "POST":
        form = Form.posted()
        # The version the form was read at: a change made since is a 412, not a silent overwrite.
        headers = {"If-Match": f'"{request.form.get("version", "")}"'} if request.form.get("version") else None
        try:
            api.patch(
                f"/api/v1/clients/{client_id}", form.body(FIELDS, lists=LIST_FIELDS, keep_empty=True), headers=headers
            )
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            form.take(exc, FIELDS, LABELS)
            if exc.status in (409, 412):
                form.general = []
        else:
            flash(_("Cambios guardados."), "success")
            return redirect(url_for("clients.show_client", client_id=client_id))
    return render_template("clients/form.html", form=form, client=client, **_options(api))


def _timeline(
    client: dict[str, Any],
    deals: list[dict[str, Any]],
    activities: list[dict[str, Any]],
    stages: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """What happened, newest first: the client's creation, its activities (done or due), its
    deals' creation, stage changes and outcome."""
    events: list[dict[str, Any]] = [{"time": client.get("create_time"), "kind": "created", "text": ""}]
    for a in activities:
        when = a.get("done_time") or a.get("due_time") or a.get("create_time")
        events.append({"time": when, "kind": f"activity-{a.get('kind') or 'task'}", "activity": a})
    for d in deals:
        for h in d.get("stage_history") or []:
            to = stages.get(h.get("to_stage_id", ""), {}).get("name", "")
            if h.get("from_stage_id"):
                events.append({"time": h.get("move_time"), "kind": "stage", "deal": d, "stage": to})
            else:
                events.append({"time": h.get("move_time"), "kind": "deal-created", "deal": d, "stage": to})
        if d.get("won_time"):
            events.append({"time": d["won_time"], "kind": "deal-won", "deal": d})
        if d.get("lost_time"):
            events.append({"time": d["lost_time"], "kind": "deal-lost", "deal": d})
    return sorted((e for e in events if e["time"]), key=lambda e: e["time"], reverse=True)


# What the detail page shows beside the record, and how many of each (the summary's page size).
RELATED = ("contacts", "deals", "quotes", "activities")
RELATED_PAGE_SIZE = 50


@bp.get("/<uuid:client_id>")
def show_client(client_id: UUID) -> str:
    api = web_session.api()
    # One call for the record and its contacts, deals, quotes and activities (the gateway asks the
    # services at once); a related list whose service did not answer comes back null and shows as
    # "not available now" while the record itself still shows. A 404 ends here as a not-found page.
    summary = pool.submit(api.get, f"/api/v1/clients/{client_id}/summary", page_size=RELATED_PAGE_SIZE)
    # Kept per process, so read here while the summary is on its way (asked of the API when cold).
    users, stages = lookups.users(api), lookups.stages(api)
    body = summary.result()
    related = {kind: body[kind]["items"] if body[kind] is not None else None for kind in RELATED}
    timeline = _timeline(body["client"], related["deals"] or [], related["activities"] or [], stages)
    return render_template(
        "clients/detail.html",
        client=body["client"],
        users=users,
        stages=stages,
        timeline=timeline,
        countries=dict(COUNTRIES),
        **related,
    )


@bp.route("/<uuid:client_id>/archive", methods=["GET", "POST"])
def archive_client(client_id: UUID) -> str | Response:
    api = web_session.api()
    client = api.get(f"/api/v1/clients/{client_id}")
    if request.method == "POST":
        api.post(f"/api/v1/clients/{client_id}:archive")
        flash(_("Cliente «%(name)s» archivado.", name=client["name"]), "success")
        return redirect(url_for("clients.show_client", client_id=client_id))
    return render_template(
        "confirm.html",
        crumbs=_crumbs(client, _("Archivar")),
        heading=_("¿Archivar «%(name)s»?", name=client["name"]),
        message=_("El cliente deja de aparecer en las listas; su historia se conserva."),
        consequence="",
        action=url_for("clients.archive_client", client_id=client_id),
        button=_("Archivar cliente"),
        cancel=url_for("clients.show_client", client_id=client_id),
        danger=False,
    )


@bp.route("/<uuid:client_id>/delete", methods=["GET", "POST"])
def delete_client(client_id: UUID) -> str | Response:
    api = web_session.api()
    client = api.get(f"/api/v1/clients/{client_id}")
    if request.method == "POST":
        try:
            api.delete(f"/api/v1/clients/{client_id}")
        except ApiError as exc:
            if exc.status != 400:
                raise
            flash(
                _(
                    "No se puede eliminar «%(name)s»: otros registros lo usan. Archívalo en su lugar.",
                    name=client["name"],
                ),
                "error",
            )
            return redirect(url_for("clients.show_client", client_id=client_id))
        flash(_("Cliente «%(name)s» eliminado.", name=client["name"]), "success")
        return redirect(url_for("clients.list_clients"))
    return render_template(
        "confirm.html",
        crumbs=_crumbs(client, _("Eliminar")),
        heading=_("¿Eliminar «%(name)s»?", name=client["name"]),
        message=_("El cliente se borra para siempre."),
        consequence=_("Solo se puede eliminar un cliente que nada usa; si tiene contactos o negocios, archívalo."),
        action=url_for("clients.delete_client", client_id=client_id),
        button=_("Eliminar cliente"),
        cancel=url_for("clients.show_client", client_id=client_id),
        danger=True,
    )


def _crumbs(client: dict[str, Any], last: str) -> list[tuple[str | None, str]]:
    return [
        (url_for("clients.list_clients"), _("Clientes")),
        (url_for("clients.show_client", client_id=client["id"]), client["name"]),
        (None, last),
    ]
