"""Pipeline settings (managers and admins; anyone else gets the not-found page, as for the
administration pages): the pipelines with their stages, a new pipeline, and per pipeline its name,
whether it is the default, whether an accepted quote wins its deal, its open stages (add, rename,
default probability, move up or down: the API's :reorderStages). Every change sends the pipeline's
version the page was read at (If-Match), so two managers arranging one board do not undo each
other: a stale page says so and nothing is saved."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import lookups
from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.forms import Form

bp = Blueprint("pipelines", __name__, url_prefix="/pipelines")


@bp.before_request
def _managers_only() -> None:
    if not web_session.is_manager():
        abort(404)


def _if_match() -> dict[str, str] | None:
    version = request.form.get("version", "").strip()
    return {"If-Match": f'"{version}"'} if version else None


def _all_pipelines() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    api = web_session.api()
    for _page in range(20):
        page = api.list("/api/v1/pipelines", page_size=500, page_token=token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    return items


@bp.get("/")
def list_pipelines() -> str:
    return render_template("pipelines/list.html", pipelines=_all_pipelines(), form=Form())


@bp.post("/new")
def new_pipeline() -> str | Response:
    form = Form.posted()
    body = {"name": form.get("name"), "win_on_quote_accepted": form.get("win_on_quote_accepted") == "1"}
    try:
        made = web_session.api().post("/api/v1/pipelines", body)
    except ApiError as exc:
        if exc.status != 400:
            raise
        form.take(exc, ["name"])
        return render_template("pipelines/list.html", pipelines=_all_pipelines(), form=form)
    lookups.forget()
    flash(_("Embudo «%(n)s» creado con las etapas predeterminadas.", n=made["name"]), "success")
    return redirect(url_for(".show_pipeline", pipeline_id=made["id"]))


def _page(pipeline_id: UUID, forms: dict[str, Form] | None = None, status: int = 200) -> tuple[str, int]:
    pipeline = web_session.api().get(f"/api/v1/pipelines/{pipeline_id}")
    forms = forms or {}
    settings = forms.get("settings") or Form(
        values={"name": pipeline["name"], "win_on_quote_accepted": "1" if pipeline.get("win_on_quote_accepted") else ""}
    )
    open_stages = [s for s in pipeline.get("stages") or [] if s.get("kind") == "open"]
    closed = [s for s in pipeline.get("stages") or [] if s.get("kind") != "open"]
    stage_forms = {
        s["id"]: forms.get(s["id"])
        or Form(values={"name": s["name"], "default_probability": str(s.get("default_probability", 0))})
        for s in pipeline.get("stages") or []
    }
    html = render_template(
        "pipelines/show.html",
        pipeline=pipeline,
        open_stages=open_stages,
        closed_stages=closed,
        settings=settings,
        stage_forms=stage_forms,
        add=forms.get("add") or Form(values={"default_probability": "0"}),
        positions=[("", _("Después de la última etapa abierta"))]
        + [(st["id"], _("Antes de «%(n)s»", n=st["name"])) for st in open_stages],
    )
    return html, status


@bp.get("/<uuid:pipeline_id>")
def show_pipeline(pipeline_id: UUID) -> tuple[str, int]:
    return _page(pipeline_id)


def _stale(pipeline_id: UUID) -> Response:
    flash(
        _("Alguien cambió este embudo mientras lo veías; no se guardó nada. Esta es la versión actual."),
        "error",
    )
    return redirect(url_for(".show_pipeline", pipeline_id=pipeline_id))


def _changed(pipeline_id: UUID, message: str) -> Response:
    lookups.forget()  # stage names are cached for the other pages
    flash(message, "success")
    return redirect(url_for(".show_pipeline", pipeline_id=pipeline_id))


@bp.post("/<uuid:pipeline_id>/settings")
def update_pipeline(pipeline_id: UUID) -> Response | tuple[str, int]:
    form = Form.posted()
    body: dict[str, Any] = {
        "name": form.get("name"),
        "win_on_quote_accepted": form.get("win_on_quote_accepted") == "1",
    }
    if form.get("is_default") == "1":
        body["is_default"] = True
    try:
        web_session.api().patch(f"/api/v1/pipelines/{pipeline_id}", body, headers=_if_match())
    except ApiError as exc:
        if exc.status in (409, 412):
            return _stale(pipeline_id)
        if exc.status != 400:
            raise
        form.take(exc, ["name"])
        return _page(pipeline_id, {"settings": form}, 400)
    return _changed(pipeline_id, _("Embudo guardado."))


@bp.post("/<uuid:pipeline_id>/stages")
def add_stage(pipeline_id: UUID) -> Response | tuple[str, int]:
    form = Form.posted()
    body: dict[str, Any] = {"name": form.get("name"), "before_stage_id": form.get("before_stage_id")}
    probability = form.get("default_probability") or "0"
    if not probability.isdigit():
        form.error("default_probability", _("Escribe un número entero de 0 a 100."))
        return _page(pipeline_id, {"add": form}, 400)
    body["default_probability"] = int(probability)
    try:
        web_session.api().post(f"/api/v1/pipelines/{pipeline_id}/stages", body, headers=_if_match())
    except ApiError as exc:
        if exc.status in (409, 412):
            return _stale(pipeline_id)
        if exc.status != 400:
            raise
        form.take(exc, ["name", "default_probability", "before_stage_id"])
        return _page(pipeline_id, {"add": form}, 400)
    return _changed(pipeline_id, _("Etapa «%(n)s» agregada.", n=body["name"]))


@bp.post("/<uuid:pipeline_id>/stages/<uuid:stage_id>")
def update_stage(pipeline_id: UUID, stage_id: UUID) -> Response | tuple[str, int]:
    form = Form.posted()
    probability = form.get("default_probability") or "0"
    if not probability.isdigit():
        form.error("default_probability", _("Escribe un número entero de 0 a 100."))
        return _page(pipeline_id, {str(stage_id): form}, 400)
    body = {"name": form.get("name"), "default_probability": int(probability)}
    try:
        web_session.api().patch(f"/api/v1/pipelines/{pipeline_id}/stages/{stage_id}", body, headers=_if_match())
    except ApiError as exc:
        if exc.status in (409, 412):
            return _stale(pipeline_id)
        if exc.status != 400:
            raise
        form.take(exc, ["name", "default_probability"])
        return _page(pipeline_id, {str(stage_id): form}, 400)
    return _changed(pipeline_id, _("Etapa «%(n)s» guardada.", n=body["name"]))


@bp.post("/<uuid:pipeline_id>/stages/<uuid:stage_id>/move")
def move_stage(pipeline_id: UUID, stage_id: UUID) -> Response:
    """One place up or down among the open stages (won and lost stay last)."""
    api = web_session.api()
    pipeline = api.get(f"/api/v1/pipelines/{pipeline_id}")
    if request.form.get("version") and request.form["version"] != str(pipeline.get("version")):
        return _stale(pipeline_id)
    order = [s["id"] for s in pipeline.get("stages") or [] if s.get("kind") == "open"]
    sid = str(stage_id)
    if sid not in order:
        abort(404)
    i = order.index(sid)
    j = i - 1 if request.form.get("direction") == "up" else i + 1
    if not 0 <= j < len(order):
        return redirect(url_for(".show_pipeline", pipeline_id=pipeline_id))
    order[i], order[j] = order[j], order[i]
    try:
        api.post(
            f"/api/v1/pipelines/{pipeline_id}:reorderStages",
            {"stage_ids": order},
            headers={"If-Match": f'"{pipeline["version"]}"'},
        )
    except ApiError as exc:
        if exc.status in (409, 412):
            return _stale(pipeline_id)
        raise
    name = next((s["name"] for s in pipeline["stages"] if s["id"] == sid), "")
    return _changed(pipeline_id, _("Etapa «%(n)s» movida.", n=name))
