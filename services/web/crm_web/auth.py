"""Sign-in and sign-out. Signing out ends the API session too (its tokens stop working at once),
then clears the cookie; the pages were never cached (Cache-Control: no-store), so Back shows the
sign-in page, not the records."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.forms import Form

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site (never another host: an open redirect would help phishing)."""
    if not target:
        return url_for("shell.home")
    parts = urlsplit(target)
    # Browsers read "/\\host" as "//host": a backslash anywhere is refused too.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("shell.home")
    return target


@bp.route("/signin", methods=["GET", "POST"])
def sign_in() -> str | Response:
    form = Form(values={"email": request.args.get("email", "")})
    nxt = request.values.get("next", "")
    if request.method == "POST":
        form = Form.posted()
        if not form.get("email"):
            form.error("email", _("Escribe tu correo electrónico."))
        if not request.form.get("password"):
            form.error("password", _("Escribe tu contraseña."))
        if form.ok:
            try:
                tokens = web_session.anonymous_api().post(
                    "/api/v1/auth/login", {"email": form.get("email"), "password": request.form["password"]}
                )
            except ApiError as exc:
                if exc.status == 401:
                    form.general.append(_("El correo o la contraseña no son correctos."))
                elif exc.status == 429:
                    form.general.append(_("Demasiados intentos. Espera unos minutos y vuelve a intentarlo."))
                elif exc.status == 400:
                    form.take(exc, ["email", "password"])
                else:
                    raise
            else:
                web_session.start(tokens)
                if web_session.user().get("id") and tokens.get("user", {}).get("password_change_required"):
                    flash(_("Elige una contraseña nueva antes de continuar."), "info")
                    return redirect(url_for("account.change_password", next=safe_next(nxt)))
                return redirect(safe_next(nxt))
    return render_template("auth/sign_in.html", form=form, next=nxt)


@bp.post("/signout")
def sign_out() -> Response:
    if web_session.signed_in():
        # An ApiError means the API session is already over (expired or revoked): nothing to end.
        with contextlib.suppress(ApiError):
            web_session.api().post("/api/v1/auth/logout")
    web_session.end()
    flash(_("Cerraste sesión."), "info")
    return redirect(url_for("auth.sign_in"))
