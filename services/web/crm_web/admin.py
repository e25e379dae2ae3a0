"""Administration, for admins only (for anyone else the pages do not exist: a 404 page, and the
navigation hides them): users (list, invite with a one-time password shown once, role and team,
deactivate and reactivate, reset password) and teams (list, create, rename, manager, members) —
what the identity API offers. Every rule stays in the API; these pages only ask it."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import lookups, pool, records
from crm_web import session as web_session
from crm_web.account import LOCALES, _zones
from crm_web.api import Api, ApiError
from crm_web.forms import Form

bp = Blueprint("admin", __name__, url_prefix="/admin")

USER_FIELDS = ["email", "display_name", "role", "team_id", "locale", "time_zone"]
EDIT_FIELDS = ["display_name", "role", "team_id"]
TEAM_FIELDS = ["name", "manager_id"]
USER_FILTERS = ["q", "role", "team_id", "include_inactive"]
# Letters and digits that cannot be mistaken for one another when read aloud or copied by hand.
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"


@bp.before_request
def _admins_only() -> None:
    if not web_session.is_admin():
        abort(404)


def one_time_password() -> str:
    """A random password the admin passes on once; the user must replace it at first sign-in.
    Four groups of four (about 92 bits), easy to read out."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


def _roles() -> list[tuple[str, str]]:
    return [("rep", _("Vendedor")), ("manager", _("Gerente")), ("admin", _("Administrador"))]


def teams(api: Api) -> list[dict[str, Any]]:
    return sorted(api.list("/api/v1/teams", page_size=500).items, key=lambda t: t.get("name", "").lower())


def _team_options(api: Api) -> list[tuple[str, str]]:
    return [("", _("Sin equipo")), *((t["id"], t["name"]) for t in teams(api))]


@bp.get("/")
def index() -> Response:
    return redirect(url_for("admin.list_users"))


@bp.get("/users")
def list_users() -> str:
    api = web_session.api()
    args = records.filters(USER_FILTERS)
    token = request.args.get("page_token", "")
    team_list = pool.submit(teams, api)
    page = api.list(
        "/api/v1/users",
        page_size=records.PAGE_SIZE,
        page_token=token,
        **records.api_query(args, ("include_inactive",)),
    )
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "teams": {t["id"]: t for t in team_list.result()},
        "roles": _roles(),
    }
    return records.fragment_or_page("users-table", "admin/_users_table.html", "admin/users.html", **ctx)


@bp.route("/users/invite", methods=["GET", "POST"])
def invite_user() -> str | Response:
    api = web_session.api()
    form = Form(values={"role": "rep", "locale": "es-CO", "time_zone": "America/Bogota"})
    if request.method == "POST":
        form = Form.posted()
        body = {k: v for k, v in form.body(USER_FIELDS).items() if v != ""}
        try:
            user = api.post("/api/v1/users", body)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, USER_FIELDS)
            if exc.status == 409 and "email" not in form.errors:
                form.errors["email"] = _("Ya hay un usuario con este correo.")
                form.general = []
        else:
            lookups.forget()
            password = one_time_password()
            # Set by the admin, the password must be changed at the user's first sign-in.
            api.post(f"/api/v1/users/{user['id']}:resetPassword", {"new_password": password})
            return render_template("admin/password_once.html", user=user, password=password, invited=True)
    return render_template(
        "admin/user_form.html",
        form=form,
        user=None,
        roles=_roles(),
        team_options=_team_options(api),
        locales=LOCALES,
        zones=_zones(),
    )


@bp.route("/users/<uuid:user_id>", methods=["GET", "POST"])
def edit_user(user_id: UUID) -> str | Response:
    api = web_session.api()
    user = api.get(f"/api/v1/users/{user_id}")
    form = Form.from_record(user, EDIT_FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = {k: v for k, v in form.body(EDIT_FIELDS).items() if v != user.get(k)}
        if not body:
            return redirect(url_for("admin.list_users"))
        try:
            api.patch(f"/api/v1/users/{user_id}", body, headers=records.if_match(request.form.get("version", "")))
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            form.take(exc, EDIT_FIELDS)
        else:
            lookups.forget()
            flash(_("Cambios guardados para %(name)s.", name=user["display_name"]), "success")
            return redirect(url_for("admin.list_users"))
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        roles=_roles(),
        team_options=_team_options(api),
        locales=LOCALES,
        zones=_zones(),
    )


def _user_crumbs(user: dict[str, Any], last: str) -> list[tuple[str | None, str]]:
    return [
        (url_for("admin.list_users"), _("Usuarios")),
        (url_for("admin.edit_user", user_id=user["id"]), user["display_name"]),
        (None, last),
    ]


@bp.route("/users/<uuid:user_id>/deactivate", methods=["GET", "POST"])
def deactivate_user(user_id: UUID) -> str | Response:
    return _lifecycle(user_id, "deactivate")


@bp.route("/users/<uuid:user_id>/reactivate", methods=["GET", "POST"])
def reactivate_user(user_id: UUID) -> str | Response:
    return _lifecycle(user_id, "reactivate")


def _lifecycle(user_id: UUID, action: str) -> str | Response:
    api = web_session.api()
    user = api.get(f"/api/v1/users/{user_id}")
    name = user["display_name"]
    if request.method == "POST":
        try:
            # Each path written out: the test of documented paths reads them from the source.
            path = (
                f"/api/v1/users/{user_id}:deactivate"
                if action == "deactivate"
                else f"/api/v1/users/{user_id}:reactivate"
            )
            api.post(path, headers=records.if_match(str(user["version"])))
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            flash(exc.detail, "error")  # e.g. the last active admin cannot be deactivated
            return redirect(url_for("admin.list_users"))
        lookups.forget()
        done = _("%(name)s ya no puede entrar.") if action == "deactivate" else _("%(name)s puede volver a entrar.")
        flash(done % {"name": name}, "success")
        return redirect(url_for("admin.list_users"))
    deactivating = action == "deactivate"
    return render_template(
        "confirm.html",
        crumbs=_user_crumbs(user, _("Desactivar") if deactivating else _("Reactivar")),
        heading=(_("¿Desactivar a %(name)s?") if deactivating else _("¿Reactivar a %(name)s?")) % {"name": name},
        message=_("Sus sesiones y tokens de API dejan de funcionar al instante; sus registros siguen a su nombre.")
        if deactivating
        else _("Podrá volver a entrar con su contraseña."),
        consequence="",
        action=request.path,
        button=_("Desactivar usuario") if deactivating else _("Reactivar usuario"),
        cancel=url_for("admin.list_users"),
        danger=deactivating,
    )


@bp.route("/users/<uuid:user_id>/reset-password", methods=["GET", "POST"])
def reset_password(user_id: UUID) -> str | Response:
    api = web_session.api()
    user = api.get(f"/api/v1/users/{user_id}")
    if request.method == "POST":
        password = one_time_password()
        api.post(f"/api/v1/users/{user_id}:resetPassword", {"new_password": password})
        return render_template("admin/password_once.html", user=user, password=password, invited=False)
    return render_template(
        "confirm.html",
        crumbs=_user_crumbs(user, _("Restablecer contraseña")),
        heading=_("¿Restablecer la contraseña de %(name)s?", name=user["display_name"]),
        message=_(
            "Se genera una contraseña de un solo uso que verás una vez. Sus sesiones terminan y deberá "
            "elegir una nueva al entrar."
        ),
        consequence="",
        action=request.path,
        button=_("Generar contraseña de un solo uso"),
        cancel=url_for("admin.list_users"),
        danger=False,
    )


# --- teams --------------------------------------------------------------------------------------


def _manager_options(api: Api) -> list[tuple[str, str]]:
    return [("", _("Sin gerente")), *lookups.user_options(api)]


@bp.route("/teams", methods=["GET", "POST"])
def list_teams() -> str | Response:
    api = web_session.api()
    form = Form()
    if request.method == "POST":
        form = Form.posted()
        body = {k: v for k, v in form.body(TEAM_FIELDS).items() if v != ""}
        try:
            team = api.post("/api/v1/teams", body)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, TEAM_FIELDS)
        else:
            flash(_("Equipo «%(name)s» creado.", name=team["name"]), "success")
            return redirect(url_for("admin.show_team", team_id=team["id"]))
    team_list = pool.submit(teams, api)
    members = pool.submit(api.list, "/api/v1/users", page_size=500)
    counts: dict[str, int] = {}
    for u in members.result().items:
        counts[u.get("team_id") or ""] = counts.get(u.get("team_id") or "", 0) + 1
    return render_template(
        "admin/teams.html",
        teams=team_list.result(),
        counts=counts,
        users=lookups.users(api),
        form=form,
        manager_options=_manager_options(api),
    )


@bp.route("/teams/<uuid:team_id>", methods=["GET", "POST"])
def show_team(team_id: UUID) -> str | Response:
    api = web_session.api()
    team = api.get(f"/api/v1/teams/{team_id}")
    form = Form.from_record(team, TEAM_FIELDS)
    if request.method == "POST":
        form = Form.posted()
        body = {k: v for k, v in form.body(TEAM_FIELDS).items() if v != team.get(k)}
        try:
            if body:
                api.patch(f"/api/v1/teams/{team_id}", body, headers=records.if_match(request.form.get("version", "")))
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            form.take(exc, TEAM_FIELDS)
        else:
            flash(_("Equipo guardado."), "success")
            return redirect(url_for("admin.show_team", team_id=team_id))
    members = api.list("/api/v1/users", team_id=str(team_id), page_size=500, include_inactive=True).items
    others = [(i, n) for i, n in lookups.user_options(api) if i not in {m["id"] for m in members}]
    return render_template(
        "admin/team.html",
        team=team,
        form=form,
        members=members,
        others=others,
        manager_options=_manager_options(api),
        users=lookups.users(api),
    )


@bp.post("/teams/<uuid:team_id>/members")
def change_member(team_id: UUID) -> Response:
    """Add a user to the team, or take them out (a user's team is a field of the user)."""
    api = web_session.api()
    try:
        user_id = str(UUID(request.form.get("user_id", "")))
    except ValueError:
        user_id = ""
    if not user_id:
        flash(_("Elige a quién agregar."), "error")
        return redirect(url_for("admin.show_team", team_id=team_id))
    adding = request.form.get("action") == "add"
    user = api.patch(f"/api/v1/users/{user_id}", {"team_id": str(team_id) if adding else ""})
    lookups.forget()
    done = _("%(name)s se unió al equipo.") if adding else _("%(name)s salió del equipo.")
    flash(done % {"name": user["display_name"]}, "success")
    return redirect(url_for("admin.show_team", team_id=team_id))
