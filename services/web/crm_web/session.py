"""The signed-in user's session: what the web application keeps in its cookie (the API's access
and refresh tokens, who the user is, their locale and time zone) and the one way a page gets an
`Api` that calls as that user, refreshing the access token shortly before it expires.

The cookie is Flask's signed session cookie (itsdangerous), HttpOnly and SameSite=Lax, Secure
behind HTTPS; the web application stores nothing else, so any worker can serve any request."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app, g, request, session

from crm_web.api import Api, ApiError
from crm_web.formatting import DEFAULT_LOCALE, DEFAULT_TIME_ZONE, language_of

# Refresh this long before the access token expires, so a page's calls never meet an expired one.
REFRESH_MARGIN_SECONDS = 60
# Keys of the cookie that belong to the sign-in (cleared at sign-out or expiry; the CSRF secret
# and the language stay).
AUTH_KEYS = ("access", "refresh", "expires", "session_id", "user", "must_change_password")
# The largest half-filled form kept across a re-sign-in (the cookie is limited to about 4 KB).
MAX_RESTORED_FORM_BYTES = 1500

# A refresh token can be used once: a second use ends the session. Two requests of one browser
# that both find the access token about to expire (a page and its htmx fragment) must not both
# refresh, so the first one's answer is remembered briefly for the other (per process).
_refresh_lock = threading.Lock()
_refreshed: dict[str, tuple[float, dict[str, Any]]] = {}


def signed_in() -> bool:
    return bool(session.get("access"))


def user() -> dict[str, Any]:
    return session.get("user") or {}


def user_locale() -> str:
    return user().get("locale") or session.get("locale") or DEFAULT_LOCALE


def user_time_zone() -> str:
    return user().get("time_zone") or DEFAULT_TIME_ZONE


def language() -> str:
    return language_of(user_locale())


def is_admin() -> bool:
    return user().get("role") == "admin"


def is_manager() -> bool:
    return user().get("role") in ("admin", "manager")


def _user_summary(u: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "email", "display_name", "role", "team_id", "locale", "time_zone")
    return {k: u.get(k) for k in keep}


def start(tokens: dict[str, Any]) -> None:
    """Keep a sign-in's tokens (the answer of /auth/login or /auth/refresh)."""
    u = tokens.get("user") or {}
    session.permanent = True
    session["access"] = tokens["access_token"]
    session["refresh"] = tokens["refresh_token"]
    session["expires"] = time.time() + int(tokens.get("expires_in", 0))
    session["session_id"] = tokens.get("session_id", "")
    session["user"] = _user_summary(u)
    session["must_change_password"] = bool(u.get("password_change_required"))
    if u.get("locale"):
        session["locale"] = u["locale"]
    g.pop("api", None)


def update_user(u: dict[str, Any]) -> None:
    session["user"] = _user_summary(u)
    if u.get("locale"):
        session["locale"] = u["locale"]


def end() -> None:
    for key in AUTH_KEYS:
        session.pop(key, None)
    g.pop("api", None)


def anonymous_api() -> Api:
    cfg = current_app.config
    return Api(cfg["CRM_GATEWAY_URL"], timeout=cfg["CRM_API_TIMEOUT"], language=language())


def _refresh() -> None:
    old = session.get("refresh", "")
    now = time.time()
    with _refresh_lock:
        for key, (at, _) in list(_refreshed.items()):
            if now - at > 60:
                del _refreshed[key]
        hit = _refreshed.get(old)
        if hit is None:
            tokens = anonymous_api().post("/api/v1/auth/refresh", {"refresh_token": old})
            _refreshed[old] = (now, tokens)
        else:
            tokens = hit[1]
    start(tokens)


def api() -> Api:
    """An Api calling as the signed-in user (raises ApiError 401 when there is no session)."""
    if "api" in g:
        return g.api
    if not signed_in():
        raise ApiError(401, "not_signed_in", "sign in first")
    if session.get("expires", 0) - time.time() < REFRESH_MARGIN_SECONDS:
        _refresh()  # an expired refresh token is a 401, which sends the user to sign in
    cfg = current_app.config
    g.api = Api(cfg["CRM_GATEWAY_URL"], session["access"], timeout=cfg["CRM_API_TIMEOUT"], language=language())
    return g.api


def keep_form_for_later() -> None:
    """The session ended while a form was being sent: keep its values (not files, not the CSRF
    token) so the same page shows them again after the user signs back in."""
    if request.method != "POST" or not request.form:
        return
    values = {k: request.form.getlist(k) for k in request.form if k != "csrf_token"}
    if len(repr(values)) <= MAX_RESTORED_FORM_BYTES:
        session["restore"] = {"path": request.path, "form": values}


def restored_form() -> dict[str, list[str]] | None:
    """The values kept by keep_form_for_later for this page, once."""
    kept = session.get("restore")
    if not kept or kept.get("path") != request.path:
        return None
    session.pop("restore", None)
    return kept.get("form")
