"""One platform and one browser for the browser journeys of the rep's and manager's pages (deals,
activities, quotes, indicators, budgets, reports, campaigns, canvas): `crm up`'s processes
(nats-server, every service, the gateway) on SQLite files, as `crm up` runs them, started once per
session and stopped with this folder's last test (Playwright's sync API keeps an event loop
running in the main thread while it is open, which later asyncio.run() calls would trip over) by
crm_platform.launcher.Platform on free loopback ports, with the web application
in this process so that every API path it calls is recorded (`web_api.CALLED`).

The fixture `web_site` seeds an admin, a manager (Marta) leading the team Norte with two reps
(Ana and Beto), a client with a contact, and a product. Tests add what they need with unique
names (other modules share the same platform) through `web_site.call(who, ...)`, and open pages
with `web_site.page(who)`; `web_site.check_and_photograph(page, name)` runs axe-core (no serious
or critical violation) and writes desktop and phone screenshots under artifacts/screenshots/.

The older modules (test_browser.py, test_records_browser.py) keep their own module platforms: one
needs a first start (the first admin's one-time password), the other runs on PostgreSQL too."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from crm_platform.config import SERVICES
from crm_platform.launcher import Platform
from crm_platform.nats_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
ADMIN_EMAIL = "admin@example.com"
PASSWORD = "una clave larga 123"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
NO_CHROMIUM = "Chromium not found at /usr/bin/chromium (CI installs the chromium package)"


@dataclass
class WebSite:
    """The running platform as the journeys see it: the gateway, the web application, people."""

    gateway: str
    web: str
    browser: Any
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)

    def call(
        self, who: str, method: str, path: str, body: Any = None, *, expect: int | None = None, **params: Any
    ) -> Any:
        """An API call as `who`; fails the test on an error answer unless `expect` names it."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        res = requests.request(method, self.gateway + path, json=body, params=params, headers=headers, timeout=30)
        if expect is not None:
            assert res.status_code == expect, (path, res.status_code, res.text)
        else:
            assert res.status_code < 400, (path, res.status_code, res.text)
        return res.json() if res.content and "json" in res.headers.get("Content-Type", "") else res

    def add_user(self, who: str, name: str, role: str, team: str = "") -> str:
        email = f"{who}@example.com"
        body: dict[str, Any] = {"email": email, "display_name": name, "role": role, "password": PASSWORD}
        user = self.call("admin", "POST", "/api/v1/users", body)
        self.ids[who], self.emails[who] = user["id"], email
        self.tokens[who] = login(self.gateway, email)
        if team:
            self.call("admin", "PATCH", f"/api/v1/users/{user['id']}", {"team_id": team})
        return str(user["id"])

    def page(self, who: str, *, lang: str = "es", viewport: str = "desktop", axe: bool = False) -> Any:
        """A fresh browser context signed in as `who` through the sign-in page, in `lang`. With
        `axe`, the context lets a test inject axe-core (the pages themselves never run inline
        script). Close it with `page.context.close()`."""
        context = self.browser.new_context(
            viewport=VIEWPORTS[viewport], base_url=self.web, locale="es-CO", bypass_csp=axe
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto("/signin")
        page.fill("#f-email", self.emails[who])
        page.fill("#f-password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        if page.locator("html").get_attribute("lang") != lang:  # the profile keeps the last language chosen
            page.locator(f".lang-switch button[value={lang}]").first.click()
            page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == lang
        return page

    def check_and_photograph(self, page: Any, name: str) -> None:
        """axe-core on the page as it is (the context must come from `page(..., axe=True)`): no
        serious or critical violation; then screenshots at desktop and phone sizes named
        `<name>-<lang>-<viewport>.png`."""
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v.get("impact") in ("serious", "critical")
        ]
        assert not serious, (name, serious)
        lang = page.locator("html").get_attribute("lang")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        for viewport, dims in VIEWPORTS.items():
            page.set_viewport_size(dims)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}-{viewport}.png"), full_page=True)
        page.set_viewport_size(size)


def login(gateway: str, email: str, password: str = PASSWORD) -> str:
    res = requests.post(f"{gateway}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30)
    assert res.status_code == 200, res.text
    return str(res.json()["access_token"])


def _seed(site: WebSite) -> None:
    site.tokens["admin"], site.emails["admin"] = login(site.gateway, ADMIN_EMAIL), ADMIN_EMAIL
    site.add_user("marta", "Marta Gerente", "manager")
    team = site.call("admin", "POST", "/api/v1/teams", {"name": "Norte", "manager_id": site.ids["marta"]})
    site.ids["team"] = team["id"]
    site.call("admin", "PATCH", f"/api/v1/users/{site.ids['marta']}", {"team_id": team["id"]})
    site.add_user("ana", "Ana Rep", "rep", team["id"])
    site.add_user("beto", "Beto Rep", "rep", team["id"])
    client = site.call(
        "ana",
        "POST",
        "/api/v1/clients",
        {"name": "Ferretería Andina", "kind": "company", "tax_id": {"country_code": "CO", "value": "900123456-8"}},
    )
    site.ids["client"] = client["id"]
    contact = site.call(
        "ana",
        "POST",
        "/api/v1/contacts",
        {"client_id": client["id"], "first_name": "Lucía", "last_name": "Gómez", "email": "lucia@andina.co"},
    )
    site.ids["contact"] = contact["id"]
    product = site.call(
        "marta",
        "POST",
        "/api/v1/products",
        {
            "sku": "LIC-01",
            "name": "Licencia CRM anual",
            "kind": "service",
            "unit_price": {"amount": "1250000", "currency_code": "COP"},
            "tax_rate": "0.19",
            "unit_of_measure": "licencia",
        },
    )
    site.ids["product"] = product["id"]


# What the session's shared browser and platform hold open, closed (last opened first) as soon as
# the last test of this folder is done: Playwright's sync API keeps an event loop running in the
# main thread while it is open, which would trip asyncio.run() in the suite's later tests.
_OPEN: list[Callable[[], None]] = []
HERE = Path(__file__).resolve().parent


def _close_shared() -> None:
    while _OPEN:
        _OPEN.pop()()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or HERE not in Path(nextitem.path).resolve().parents:
        _close_shared()


@pytest.fixture(scope="session", autouse=True)
def record_api_calls() -> Iterator[None]:
    """Every API path the web application calls while these tests run is recorded, for the last
    check (test_zz_api_paths_called.py): no page calls a path the OpenAPI document does not describe."""
    from crm_web import api as web_api

    web_api.RECORD_CALLS = True
    _OPEN.insert(0, lambda: setattr(web_api, "RECORD_CALLS", False))
    yield
    _close_shared()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium shared by every browser module of this folder (a second
    `sync_playwright()` in the same thread while one is open fails); closed with the folder's
    last test."""
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    _OPEN.append(pw.stop)
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    _OPEN.append(browser.close)
    yield browser
    _close_shared()


@pytest.fixture(scope="session")
def web_site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[WebSite]:
    from crm_web.app import create_app
    from crm_web.settings import WebSettings

    data = tmp_path_factory.mktemp("web-site")
    mp = pytest.MonkeyPatch()
    _OPEN.append(mp.undo)
    for name in SERVICES:
        mp.setenv(f"CRM_{name.upper()}_ADDR", f"127.0.0.1:{free_port()}")
        mp.setenv(f"CRM_{name.upper()}_METRICS_LISTEN", f"127.0.0.1:{free_port()}")
        mp.delenv(f"CRM_{name.upper()}_LISTEN", raising=False)
        mp.delenv(f"CRM_{name.upper()}_DATABASE_URL", raising=False)
    for var in ("CRM_NATS_URL", "CRM_INTERNAL_TOKEN"):
        mp.delenv(var, raising=False)
    mp.setenv("CRM_ADMIN_EMAIL", ADMIN_EMAIL)
    mp.setenv("CRM_ADMIN_PASSWORD", PASSWORD)
    platform = Platform(data / "data", gateway_listen=f"127.0.0.1:{free_port()}", quiet=True)
    _OPEN.append(platform.stop)
    platform.start(timeout=180)
    gateway = f"http://{platform.gateway_listen}"
    app = create_app(WebSettings(secret_key="browser-tests", gateway_url=gateway, cache_dir=str(data)))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _OPEN.append(server.shutdown)
    site = WebSite(gateway=gateway, web=f"http://127.0.0.1:{server.server_port}", browser=chromium)
    _seed(site)
    yield site
    _close_shared()
