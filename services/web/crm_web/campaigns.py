"""Campaigns (Campaña): the list (with a rep's call lists of campaigns others own), a create form
by kind (a mailing's subject and body with its merge fields and a test send, a telemarketing call
list, social ads with the webhook addresses and secret to paste into Google Ads or RD Station —
shown only when the API returns the secret, i.e. to those who may manage the campaign — and a
trade fair with its lead import), the campaign page (the segment preview before launch, the
launch with the reps of a call list, members with their status, spend, results with cost per lead
and ROI per currency), and a rep's call list with a POST form of outcome buttons per member.
Every figure and rule comes from the API; the page only shows and asks."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from crm_web import lookups, pool, records
from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.formatting import from_local_input
from crm_web.forms import Form

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

PAGE_SIZE = 50
CALL_PAGE_SIZE = 25
PREVIEW_SIZE = 20

KINDS: dict[str, Any] = {
    "mailing": _l("Mailing"),
    "telemarketing": _l("Telemercadeo"),
    "social_ads": _l("Redes sociales y anuncios"),
    "trade_fair": _l("Feria comercial"),
}
KIND_HINTS: dict[str, Any] = {
    "mailing": _l("Un correo a un segmento, por SMTP o Mailchimp, con campos de combinación."),
    "telemarketing": _l("Una lista de llamadas repartida entre vendedores, con el resultado de cada llamada."),
    "social_ads": _l("Los clientes potenciales de Google Ads o RD Station llegan por webhook como prospectos."),
    "trade_fair": _l("Los contactos captados en la feria se importan desde un CSV o Excel."),
}
STATUSES: dict[str, Any] = {
    "draft": _l("Borrador"),
    "scheduled": _l("Programada"),
    "running": _l("En curso"),
    "completed": _l("Terminada"),
    "cancelled": _l("Cancelada"),
}
STATUS_TONES = {
    "draft": "neutral",
    "scheduled": "info",
    "running": "success",
    "completed": "info",
    "cancelled": "danger",
}
MEMBER_STATUSES: dict[str, Any] = {
    "pending": _l("Pendiente"),
    "sent": _l("Enviado"),
    "bounced": _l("Rebotado"),
    "opened": _l("Abrió"),
    "clicked": _l("Hizo clic"),
    "unsubscribed": _l("Se dio de baja"),
    "called": _l("Llamado"),
    "converted": _l("Convertido"),
    "skipped": _l("Omitido"),
}
MEMBER_TONES = {"converted": "success", "bounced": "danger", "unsubscribed": "warning", "skipped": "neutral"}
OUTCOMES: dict[str, Any] = {
    "no_answer": _l("No contesta"),
    "call_back": _l("Volver a llamar"),
    "not_interested": _l("No le interesa"),
    "interested": _l("Interesado"),
    "meeting_set": _l("Reunión agendada"),
}
TARGET_KINDS = [("clients", _l("Clientes")), ("contacts", _l("Contactos")), ("prospects", _l("Prospectos"))]
CURRENCIES = ["COP", "USD", "MXN", "CLP", "PEN", "ARS", "EUR"]
# The merge fields the campaigns service fills in a mailing's subject and bodies (as the API documents them).
MERGE_FIELDS = [
    ("{{ first_name }}", _l("nombre")),
    ("{{ last_name }}", _l("apellido")),
    ("{{ name }}", _l("nombre completo")),
    ("{{ client_name }}", _l("empresa")),
    ("{{ email }}", _l("correo")),
    ("{{ campaign_name }}", _l("nombre de la campaña")),
    ("{{ unsubscribe_url }}", _l("enlace para darse de baja")),
]
BASE_FIELDS = ["name", "owner_id", "budget.amount", "budget.currency_code", "start_date", "end_date", "description"]
TARGET_FIELDS = ["target.kind", "target.segment_tags", "target.industries", "target.cities", "target.country_codes"]
MAILING_FIELDS = [
    "mailing.subject",
    "mailing.text_body",
    "mailing.html_body",
    "mailing.provider",
    "mailing.from_name",
    "mailing.from_email",
    "mailing.reply_to_email",
]
LIST_FIELDS = ("target.segment_tags", "target.industries", "target.cities", "target.country_codes")


@bp.app_template_global("campaign_label")
def campaign_label(group: str, value: Any) -> str:
    table = {
        "kind": KINDS,
        "status": STATUSES,
        "member": MEMBER_STATUSES,
        "outcome": OUTCOMES,
        "target": dict(TARGET_KINDS),
    }[group]
    return str(table.get(value, value or ""))


@bp.app_template_global("campaign_tone")
def campaign_tone(group: str, value: Any) -> str:
    return (STATUS_TONES if group == "status" else MEMBER_TONES).get(value, "info" if group == "member" else "neutral")


def _fields(kind: str) -> list[str]:
    names = BASE_FIELDS + (TARGET_FIELDS if kind in ("mailing", "telemarketing") else [])
    return names + (MAILING_FIELDS if kind == "mailing" else [])


@bp.get("/")
def list_campaigns() -> str:
    api = web_session.api()
    args = records.filters(["q", "type", "status"])
    token = request.args.get("page_token", "")
    users = pool.submit(lookups.users, api)
    calls = pool.submit(api.list, "/api/v1/campaigns", call_lists="true", status="running", page_size=50)
    page = api.list("/api/v1/campaigns", page_size=PAGE_SIZE, page_token=token, **args)
    mine = web_session.user().get("id")
    call_lists = [c for c in calls.result().items if c.get("owner_id") != mine]
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "users": users.result(),
        "call_lists": call_lists,
        "kinds": KINDS,
        "statuses": STATUSES,
    }
    return records.fragment_or_page("campaigns-table", "campaigns/_table.html", "campaigns/list.html", **ctx)


@bp.route("/new", methods=["GET", "POST"])
def new_campaign() -> str | Response:
    kind = request.values.get("kind", "")
    if kind not in KINDS:
        return render_template("campaigns/choose.html", kinds=KINDS, hints=KIND_HINTS)
    api = web_session.api()
    names = _fields(kind)
    defaults = {
        "owner_id": web_session.user().get("id"),
        "budget": {"currency_code": "COP"},
        "target": {"kind": "contacts" if kind == "telemarketing" else "clients"},
        "mailing": {"provider": "smtp"},
    }
    form = Form.from_record(defaults, names)
    if request.method == "POST":
        form = Form.posted()
        body = form.body(names, lists=LIST_FIELDS)
        body["type"] = kind
        budget = body.get("budget") or {}
        budget["amount"] = records.parse_amount(budget.get("amount", ""))
        if budget.get("amount"):
            body["budget"] = budget
        else:
            body.pop("budget", None)
        for name in ("start_date", "end_date", "owner_id"):
            if not body.get(name):
                body.pop(name, None)
        if "target" in body:
            body["target"]["country_codes"] = [c.upper() for c in body["target"].get("country_codes", [])]
        try:
            created = api.post("/api/v1/campaigns", body)
        except ApiError as exc:
            if exc.status not in (400, 403):
                raise
            form.take(exc, names)
        else:
            flash(_("Campaña «%(name)s» creada.", name=created["name"]), "success")
            return redirect(url_for("campaigns.show_campaign", campaign_id=created["id"]))
    return render_template(
        "campaigns/form.html",
        form=form,
        kind=kind,
        kinds=KINDS,
        user_options=lookups.user_options(api),
        currencies=[(c, c) for c in CURRENCIES],
        target_kinds=TARGET_KINDS,
        merge_fields=MERGE_FIELDS,
    )


def _load(campaign_id: UUID) -> dict[str, Any]:
    return dict(web_session.api().get(f"/api/v1/campaigns/{campaign_id}"))


def _may_manage(campaign: dict[str, Any]) -> bool:
    """Whether the signed-in user may manage the campaign (not only work part of its call list).
    The API decides: it returns the webhook secret, made for every campaign, only to them."""
    return bool(campaign.get("webhook_secret"))


def _webhooks(campaign: dict[str, Any]) -> dict[str, str]:
    """The addresses to paste into Google Ads and RD Station (only when the API gave the secret)."""
    if not campaign.get("webhook_secret"):
        return {}
    base = current_app.config["CRM_GATEWAY_URL"].rstrip("/")
    cid = campaign["id"]
    return {
        "google_ads": f"{base}/api/v1/webhooks/google-ads/{cid}",
        "rd_station": f"{base}/api/v1/webhooks/rd-station/{cid}?secret={campaign['webhook_secret']}",
        "mailchimp": f"{base}/api/v1/webhooks/mailchimp/{cid}?secret={campaign['webhook_secret']}",
    }


@bp.get("/<uuid:campaign_id>")
def show_campaign(campaign_id: UUID) -> str:
    api = web_session.api()
    cid = str(campaign_id)
    campaign = _load(campaign_id)
    manage = _may_manage(campaign)
    status = request.args.get("member_status", "")
    token = request.args.get("page_token", "")
    users = pool.submit(lookups.users, api)
    members = pool.submit(
        api.list, f"/api/v1/campaigns/{cid}/members", page_size=PAGE_SIZE, page_token=token, status=status
    )
    preview = (
        pool.submit(api.get, f"/api/v1/campaigns/{cid}/segment-preview", sample_size=PREVIEW_SIZE)
        if manage and campaign["status"] == "draft" and (campaign.get("target") or {}).get("kind")
        else None
    )
    results = pool.submit(api.get, f"/api/v1/campaigns/{cid}/results") if manage else None
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        manage=manage,
        users=users.result(),
        members=members.result(),
        member_status=status,
        args={
            "campaign_id": cid,
            **({"member_status": status} if status else {}),
            **({"page_token": token} if token else {}),
        },
        preview=preview.result() if preview else None,
        results=results.result() if results else None,
        webhooks=_webhooks(campaign),
        merge_fields=MERGE_FIELDS,
        member_statuses=MEMBER_STATUSES,
        spend_form=Form(
            values={"spend_date": "", "amount.currency_code": (campaign.get("budget") or {}).get("currency_code", "")}
        ),
        test_form=Form(values={"emails": web_session.user().get("email", "")}),
        import_leads=campaign["type"] in ("trade_fair", "social_ads"),
    )


@bp.route("/<uuid:campaign_id>/launch", methods=["GET", "POST"])
def launch_campaign(campaign_id: UUID) -> str | Response:
    """GET: the segment preview and, for a call list, the reps to spread it over; POST: launch at
    the version read (a change meanwhile is the API's 412)."""
    api = web_session.api()
    campaign = _load(campaign_id)
    form = Form.posted() if request.method == "POST" else Form()
    chosen = request.form.getlist("rep_ids") if request.method == "POST" else []
    if request.method == "POST":
        headers = records.if_match(request.form.get("version", ""))
        try:
            launched = api.post(f"/api/v1/campaigns/{campaign_id}:launch", {"rep_ids": chosen}, headers=headers)
        except ApiError as exc:
            if exc.status not in (400, 403, 409, 412):
                raise
            form.take(exc, ["rep_ids"])
        else:
            flash(
                _(
                    "Campaña lanzada: %(n)s miembros (%(s)s omitidos).",
                    n=launched.get("member_count", 0),
                    s=launched.get("skipped_count", 0),
                ),
                "success",
            )
            return redirect(url_for("campaigns.show_campaign", campaign_id=campaign_id))
    preview = api.get(f"/api/v1/campaigns/{campaign_id}/segment-preview", sample_size=PREVIEW_SIZE)
    reps = [(i, n) for i, n in lookups.user_options(api) if (lookups.users(api).get(i) or {}).get("role") == "rep"]
    return render_template(
        "campaigns/launch.html",
        campaign=campaign,
        preview=preview,
        form=form,
        reps=reps,
        chosen=chosen,
    )


@bp.post("/<uuid:campaign_id>/spend")
def record_spend(campaign_id: UUID) -> Response:
    form = Form.posted()
    body = {
        "spend_date": form.get("spend_date"),
        "amount": {
            "amount": records.parse_amount(form.get("amount.amount")),
            "currency_code": form.get("amount.currency_code"),
        },
        "description": form.get("description"),
    }
    try:
        web_session.api().post(f"/api/v1/campaigns/{campaign_id}/spend", body)
    except ApiError as exc:
        if exc.status != 400:
            raise
        flash(_("No se registró el gasto: %(problem)s", problem=_problem(exc)), "error")
    else:
        flash(_("Gasto registrado."), "success")
    return redirect(url_for("campaigns.show_campaign", campaign_id=campaign_id) + "#results")


@bp.post("/<uuid:campaign_id>/send-test")
def send_test(campaign_id: UUID) -> Response:
    emails = [e.strip() for e in request.form.get("emails", "").split(",") if e.strip()]
    try:
        sent = web_session.api().post(f"/api/v1/campaigns/{campaign_id}:send-test", {"emails": emails})
    except ApiError as exc:
        if exc.status not in (400, 409, 503):
            raise
        flash(_("No se envió la prueba: %(problem)s", problem=_problem(exc)), "error")
    else:
        flash(_("Prueba enviada a %(n)s direcciones.", n=(sent or {}).get("sent_count", 0)), "success")
    return redirect(url_for("campaigns.show_campaign", campaign_id=campaign_id))


@bp.post("/<uuid:campaign_id>/send")
def send_mailing(campaign_id: UUID) -> Response:
    try:
        queued = web_session.api().post(f"/api/v1/campaigns/{campaign_id}:send", {})
    except ApiError as exc:
        if exc.status not in (400, 409):
            raise
        flash(_("No se envió el mailing: %(problem)s", problem=_problem(exc)), "error")
    else:
        flash(_("Mailing en envío: %(n)s correos en cola.", n=(queued or {}).get("queued_count", 0)), "success")
    return redirect(url_for("campaigns.show_campaign", campaign_id=campaign_id))


@bp.route("/<uuid:campaign_id>/import", methods=["GET", "POST"])
def import_leads(campaign_id: UUID) -> str | Response:
    """A trade fair's (or any campaign's) leads from CSV/XLSX: the dry run's per-row report, then
    the import, as the record import pages do."""
    campaign = _load(campaign_id)
    cfg = records.ImportPage(
        path=f"/api/v1/campaigns/{campaign_id}/leads:import",
        title=_("Importar contactos de «%(name)s»", name=campaign["name"]),
        list_title=_("Campañas"),
        columns_hint=_(
            "Columnas: nombre, apellido, empresa, cargo, correo, teléfono, ciudad, país… en español o en inglés. "
            "Cada fila válida se vuelve un prospecto de la campaña; las repetidas se omiten."
        ),
        list_endpoint="campaigns.list_campaigns",
        existing_endpoint="",
        existing_arg="",
        button_one=_("Importar %(num)s contacto"),
        button_many=_("Importar %(num)s contactos"),
        done_message=_("Importación terminada: %(n)s prospectos creados."),
    )
    return records.import_view(cfg)


@bp.get("/<uuid:campaign_id>/calls")
def call_list(campaign_id: UUID) -> str:
    """The members of the campaign's call list assigned to the signed-in user, with outcome buttons."""
    api = web_session.api()
    me = web_session.user().get("id", "")
    token = request.args.get("page_token", "")
    campaign = pool.submit(api.get, f"/api/v1/campaigns/{campaign_id}")
    members = api.list(
        f"/api/v1/campaigns/{campaign_id}/members", assigned_rep_id=me, page_size=CALL_PAGE_SIZE, page_token=token
    )
    return render_template(
        "campaigns/calls.html",
        campaign=campaign.result(),
        members=members,
        args={"campaign_id": str(campaign_id), **({"page_token": token} if token else {})},
        outcomes=OUTCOMES,
    )


@bp.post("/<uuid:campaign_id>/members/<uuid:member_id>/call")
def record_call(campaign_id: UUID, member_id: UUID) -> Response:
    """One call's outcome: "interested:create_deal" is the outcome with its follow-up."""
    outcome, _sep, follow_up = request.form.get("outcome", "").partition(":")
    body: dict[str, Any] = {"outcome": outcome, "notes": request.form.get("notes", "").strip()}
    if follow_up:
        body["follow_up"] = follow_up
    if outcome == "call_back":
        body["call_back_time"] = (
            from_local_input(request.form.get("call_back_time", ""), web_session.user_time_zone()) or None
        )
    amount = records.parse_amount(request.form.get("deal_amount", ""))
    if follow_up == "create_deal" and amount:
        body["deal_amount"] = {"amount": amount, "currency_code": request.form.get("currency_code", "")}
    back = url_for("campaigns.call_list", campaign_id=campaign_id, page_token=request.form.get("page_token") or None)
    try:
        answer = web_session.api().post(f"/api/v1/campaigns/{campaign_id}/members/{member_id}:call", body)
    except ApiError as exc:
        if exc.status not in (400, 404, 409, 412):
            raise
        flash(_("No se registró la llamada: %(problem)s", problem=_problem(exc)), "error")
        return redirect(back + f"#m-{member_id}")
    name = (answer.get("member") or {}).get("display_name", "")
    if answer.get("deal_id"):
        flash(_("Llamada a %(name)s registrada; negocio abierto a tu nombre.", name=name), "success")
    elif answer.get("prospect_id"):
        flash(_("Llamada a %(name)s registrada; prospecto creado.", name=name), "success")
    else:
        flash(
            _("Llamada a %(name)s registrada: %(outcome)s.", name=name, outcome=OUTCOMES.get(outcome, outcome)),
            "success",
        )
    return redirect(back + f"#m-{member_id}")


def _problem(exc: ApiError) -> str:
    if exc.field_errors:
        return "; ".join(f"{k}: {v}" for k, v in exc.field_errors.items())
    return exc.detail
