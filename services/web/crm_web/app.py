"""The web application's factory: settings, languages (Flask-Babel), CSRF protection, security
headers, metrics, the browser packages served from node_modules, the navigation, and the one
place where API errors become pages (a lost session goes back to sign-in and returns to the
page; a service that is down says so and that nothing was saved)."""

from __future__ import annotations

import importlib
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, lazy_gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from crm_platform import tracing
from crm_web import formatting, labels, metrics
from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.i18n import compile_catalogues
from crm_web.settings import WebSettings, web_settings
from crm_web.shell import url_for_record

csrf = CSRFProtect()

# The left navigation, in this order; `manager` entries for managers and admins, `admin` entries
# for admins only.
NAV: list[tuple[str, Any, str]] = [
    ("shell.home", lazy_gettext("Inicio"), ""),
    ("prospects.list_prospects", lazy_gettext("Prospectos"), ""),
    ("clients.list_clients", lazy_gettext("Clientes"), ""),
    ("contacts.list_contacts", lazy_gettext("Contactos"), ""),
    ("deals.board", lazy_gettext("Negocios"), ""),
    ("activities.list_activities", lazy_gettext("Actividades"), ""),
    ("quotes.list_quotes", lazy_gettext("Cotizaciones"), ""),
    ("products.list_products", lazy_gettext("Productos"), ""),
    ("campaigns.list_campaigns", lazy_gettext("Campañas"), ""),
    ("reports.list_reports", lazy_gettext("Informes"), ""),
    ("indicators.dashboard", lazy_gettext("Indicadores"), ""),
    ("budgets.grid", lazy_gettext("Presupuestos"), ""),
    ("canvas.list_canvases", lazy_gettext("Canvas"), ""),
    ("pipelines.list_pipelines", lazy_gettext("Embudos de venta"), "manager"),
    ("admin.list_users", lazy_gettext("Administración"), "admin"),
]

# The page groups, each a module with a blueprint `bp`, registered in this order.
PAGES = (
    "system",
    "auth",
    "account",
    "shell",
    "clients",
    "contacts",
    "prospects",
    "products",
    "deals",
    "activities",
    "quotes",
    "pipelines",
    "indicators",
    "budgets",
    "reports",
    "campaigns",
    "canvas",
    "admin",
)

# The English catalogues (translations/en/LC_MESSAGES/<name>.po): the shell's and the record
# pages', then one per later page group, so that groups built side by side never edit one file.
CATALOGUES: tuple[str, ...] = ("messages", "records", "deals", "activities", "quotes", "pipelines")
CATALOGUES += ("indicators", "budgets", "reports", "campaigns", "canvas")

# Browser packages, by the name a page asks for -> their file under node_modules. Only these are
# served; node_modules is never copied into the repository (see package.json).
ASSETS: dict[str, str] = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "Sortable.min.js": "sortablejs/Sortable.min.js",
    "chart.umd.js": "chart.js/dist/chart.umd.js",
}

# Pages anyone may open without signing in.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "assets",
        "auth.sign_in",
        "system.healthz",
        "system.readyz",
        "system.metrics_endpoint",
        "shell.set_language",
    }
)
# What a user who must choose a new password may still open.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"account.change_password", "auth.sign_out"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def create_app(settings: WebSettings | None = None) -> Flask:
    settings = settings or web_settings()
    app = Flask(__name__)
    # First: the trace and the access log (with a request id per page) wrap every other hook.
    tracing.instrument_flask(app, "web", request_ids=True)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME="crm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=14 * 24 * 3600,
        # A form left open for hours still posts: the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
        CRM_GATEWAY_URL=settings.gateway_url,
        CRM_API_TIMEOUT=settings.api_timeout_seconds,
        BABEL_DEFAULT_LOCALE="es",
        # Every catalogue in one folder: Flask-Babel pairs the i-th domain with the i-th
        # directory, so the folder is named once per domain (a domain without one is not loaded).
        BABEL_DOMAIN=";".join(CATALOGUES),
        BABEL_TRANSLATION_DIRECTORIES=";".join([str(compile_catalogues(settings.cache_dir))] * len(CATALOGUES)),
    )
    app.session_interface = _SessionInterface()
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware
    node_modules = Path(settings.node_modules) if settings.node_modules else Path(__file__).parents[1] / "node_modules"
    app.config["CRM_NODE_MODULES"] = node_modules

    Babel(app, locale_selector=web_session.language, timezone_selector=web_session.user_time_zone)
    csrf.init_app(app)
    metrics.install(app)
    _install_filters(app)
    _install_guards(app)
    _install_errors(app)

    @app.get("/assets/<name>")
    def assets(name: str) -> Response:
        rel = ASSETS.get(name)
        path = node_modules / rel if rel else None
        if path is None or not path.is_file():
            abort(404)
        res = send_file(path, mimetype="text/javascript", max_age=3600)
        return res

    for name in PAGES:
        app.register_blueprint(importlib.import_module(f"crm_web.{name}").bp)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _install_filters(app: Flask) -> None:
    env = app.jinja_env
    env.filters["money"] = lambda v, currency="": formatting.money(v, web_session.user_locale(), currency)
    env.filters["number"] = lambda v: formatting.number(v, web_session.user_locale())
    env.filters["percent"] = lambda v: formatting.percent(v, web_session.user_locale())
    env.filters["day"] = lambda v: formatting.day(v, web_session.user_locale(), web_session.user_time_zone())
    env.filters["moment"] = lambda v: formatting.moment(v, web_session.user_locale(), web_session.user_time_zone())

    env.filters["reject_keys"] = lambda d, *keys: {k: v for k, v in d.items() if k not in keys}
    env.filters["with_key"] = lambda d, key, value: {**d, key: value}
    env.filters["pair"] = lambda v: (v, v)
    env.globals.update(label=labels.label, tone=labels.tone, url_for_record=url_for_record)
    env.globals["role_label"] = lambda role: labels.label("role", role)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        admin, manager = web_session.is_admin(), web_session.is_manager()
        allowed = {"": True, "manager": manager, "admin": admin}
        nav = [(endpoint, label) for endpoint, label, need in NAV if allowed[need]]
        return {
            "nav": nav,
            "me": web_session.user(),
            "signed_in": web_session.signed_in(),
            "lang": web_session.language(),
            "is_admin": admin,
            "is_manager": manager,
            "has_page": lambda endpoint: endpoint in app.view_functions,
        }


def _install_guards(app: Flask) -> None:
    @app.before_request
    def _require_sign_in() -> Response | None:
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not web_session.signed_in():
            return _to_sign_in()
        if session.get("must_change_password") and endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            return _redirect(url_for("account.change_password"))
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        if request.endpoint not in ("static", "assets"):
            # Pages show private data: never kept, so Back after sign-out shows nothing.
            h["Cache-Control"] = "no-store"
            h.setdefault("Vary", "Cookie, HX-Request")
        return response


def _redirect(url: str) -> Response:
    """A redirect that also works for an htmx request (which would otherwise swap the target page
    into a fragment)."""
    if request.headers.get("HX-Request"):
        res = current_app.response_class(status=204)
        res.headers["HX-Redirect"] = url
        return res
    return redirect(url)


def _to_sign_in() -> Response:
    # After signing in, a GET returns to its page; a POST returns to the page the form is on
    # (same URL: every form page answers GET and POST) with the typed values kept.
    target = request.full_path if request.method == "GET" and not request.headers.get("HX-Request") else request.path
    if request.headers.get("HX-Request"):
        target = request.headers.get("HX-Current-URL", "") or target
        if "://" in target:
            target = "/" + target.split("://", 1)[1].split("/", 1)[-1]
    return _redirect(url_for("auth.sign_in", next=target.rstrip("?")))


def _install_errors(app: Flask) -> None:
    from flask_babel import gettext as _

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        if exc.status == 401:
            web_session.keep_form_for_later()
            web_session.end()
            flash(_("Tu sesión terminó. Vuelve a iniciar sesión para continuar."), "warning")
            return _to_sign_in()
        if exc.status == 403 and exc.code == "password_change_required":
            session["must_change_password"] = True
            return _redirect(url_for("account.change_password"))
        status = exc.status if exc.status in (403, 404, 409, 412, 429, 503, 504) else 500 if exc.status >= 500 else 400
        return render_template("error.html", error=exc, status=exc.status), status

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        return render_template("error.html", error=None, status=400, csrf_failed=True), 400

    @app.errorhandler(404)
    def _not_found(exc: Exception) -> Any:
        return render_template("error.html", error=None, status=404), 404
