"""The user's own menu: profile (name, language, time zone), change password (also the forced
first change), and API tokens (list, create showing the secret once, revoke) — what the API
offers a user about themself."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.auth import safe_next
from crm_web.forms import Form

bp = Blueprint("account", __name__, url_prefix="/account")

LOCALES = [
    ("es-CO", "Español (Colombia)"),
    ("es-MX", "Español (México)"),
    ("es-CL", "Español (Chile)"),
    ("en-US", "English (United States)"),
]
# The zones a Latin American sales team works in first, then every other IANA zone.
COMMON_ZONES = [
    "America/Bogota",
    "America/Mexico_City",
    "America/Santiago",
    "America/Lima",
    "America/Argentina/Buenos_Aires",
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/Madrid",
    "UTC",
]
PROFILE_FIELDS = ["display_name", "locale", "time_zone"]


def _zones() -> list[str]:
    return COMMON_ZONES + sorted(z for z in available_timezones() if z not in COMMON_ZONES and "/" in z)


@bp.route("/password", methods=["GET", "POST"])
def change_password() -> str | Response:
    form = Form()
    forced = bool(web_session.session.get("must_change_password"))
    if request.method == "POST":
        current, new, again = (request.form.get(k, "") for k in ("current_password", "new_password", "confirm"))
        if not current:
            form.error("current_password", _("Escribe tu contraseña actual."))
        if len(new) < 10:
            form.error("new_password", _("La contraseña nueva debe tener al menos 10 caracteres."))
        elif new != again:
            form.error("confirm", _("Las dos contraseñas nuevas no coinciden."))
        if form.ok:
            try:
                web_session.api().post("/api/v1/auth/password", {"current_password": current, "new_password": new})
            except ApiError as exc:
                if exc.status == 429:
                    form.general.append(_("Demasiados intentos. Espera unos minutos y vuelve a intentarlo."))
                elif exc.status == 400:
                    form.take(exc, ["current_password", "new_password"])
                    if "current_password" in form.errors:
                        form.errors["current_password"] = _("La contraseña actual no es correcta.")
                else:
                    raise
            else:
                # The API ends every session of the user on a password change: sign in again
                # with the new password so the user carries on where they were.
                email = web_session.user().get("email", "")
                web_session.end()
                tokens = web_session.anonymous_api().post("/api/v1/auth/login", {"email": email, "password": new})
                web_session.start(tokens)
                flash(_("Tu contraseña cambió."), "success")
                return redirect(safe_next(request.args.get("next")))
    return render_template("account/password.html", form=form, forced=forced)


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> str | Response:
    me = web_session.api().get("/api/v1/auth/me")
    form = Form.from_record(me, PROFILE_FIELDS)
    if request.method == "POST":
        form = Form.posted()
        if not form.get("display_name"):
            form.error("display_name", _("Escribe tu nombre."))
        if form.ok:
            try:
                updated = web_session.api().patch(f"/api/v1/users/{me['id']}", form.body(PROFILE_FIELDS))
            except ApiError as exc:
                if exc.status != 400:
                    raise
                form.take(exc, PROFILE_FIELDS)
            else:
                web_session.update_user(updated)
                flash(_("Tu perfil se guardó."), "success")
                return redirect(url_for("account.profile"))
    return render_template("account/profile.html", form=form, me=me, locales=LOCALES, zones=_zones())


@bp.route("/tokens", methods=["GET", "POST"])
def tokens() -> str | Response:
    form = Form()
    created = None
    if request.method == "POST":
        form = Form.posted()
        if not form.get("name"):
            form.error("name", _("Escribe para qué es el token."))
        if form.ok:
            try:
                created = web_session.api().post("/api/v1/api-tokens", {"name": form.get("name")})
                form = Form()
            except ApiError as exc:
                if exc.status != 400:
                    raise
                form.take(exc, ["name"])
    page = web_session.api().list("/api/v1/api-tokens", page_size=100, include_revoked=True)
    return render_template("account/tokens.html", form=form, tokens=page.items, created=created)


@bp.post("/tokens/<uuid:token_id>/revoke")
def revoke_token(token_id: UUID) -> Response:
    web_session.api().post(f"/api/v1/api-tokens/{token_id}:revoke")
    flash(_("El token se revocó: ya no funciona."), "success")
    return redirect(url_for("account.tokens"))
