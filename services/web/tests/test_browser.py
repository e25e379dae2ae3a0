"""The web application in a real browser (Chromium, driven by Playwright) against the real
processes `crm up` starts (NATS, every service, the gateway and the web application, on a fresh
data folder and free ports): the first admin signs in with the one-time password and must choose
a password; a client with a duplicate tax id is explained with a link to the existing one; a CSV
with a bad row shows the per-row report before anything is imported; a lost session brings the
user back to the half-filled form; sign-out leaves nothing private behind the Back button.
Every page built here is checked with axe-core (no serious or critical violation) and
photographed in Spanish and English at 1280x800 and 390x844 under artifacts/screenshots/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from crm_platform.config import SERVICES
from crm_platform.launcher import Platform
from crm_platform.nats_server import free_port

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not found at /usr/bin/chromium (CI installs the chromium package)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "services" / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "artifacts" / "screenshots"
NEW_PASSWORD = "una clave propia de 2026"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
TAX = "900123456-8"  # a valid Colombian NIT (check digit 8)


class Web:
    def __init__(self, platform: Platform, email: str, one_time: str):
        self.platform = platform
        self.base = f"http://{platform.web_listen}"
        self.api = f"http://{platform.gateway_listen}"
        self.email = email
        self.one_time = one_time


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    with pytest.MonkeyPatch.context() as mp:
        for name in SERVICES:
            mp.setenv(f"CRM_{name.upper()}_ADDR", f"127.0.0.1:{free_port()}")
            mp.setenv(f"CRM_{name.upper()}_METRICS_LISTEN", f"127.0.0.1:{free_port()}")
            mp.delenv(f"CRM_{name.upper()}_DATABASE_URL", raising=False)
        for var in ("CRM_NATS_URL", "CRM_ADMIN_EMAIL", "CRM_ADMIN_PASSWORD", "CRM_INTERNAL_TOKEN"):
            mp.delenv(var, raising=False)
        platform = Platform(
            tmp_path_factory.mktemp("web") / "data", gateway_listen=f"127.0.0.1:{free_port()}", quiet=True
        )
        try:
            platform.start(timeout=150)
            m = re.search(r"first admin created: (\S+); one-time password: (\S+)", platform.first_admin_notice())
            assert m, "crm up did not show the first admin's one-time password"
            yield Web(platform, m.group(1), m.group(2))
        finally:
            platform.stop()


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The session's Chromium (conftest.py)."""
    return chromium


@pytest.fixture(scope="module")
def page(browser: Browser, web: Web) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="es-CO")
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    refused: list[str] = []
    pg.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not refused, f"the pages broke their own CSP: {refused[:3]}"


def _f(page: Page, label: str) -> Any:
    """The field labelled `label` (a required field's label ends with a "*")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def _sign_in(page: Page, web: Web, password: str) -> None:
    _f(page, "Correo electrónico").fill(web.email)
    _f(page, "Contraseña").fill(password)
    page.get_by_role("button", name="Entrar").click()


def _axe(page: Page) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol: the page's CSP (no inline script) stays in force and
    # would refuse a <script> tag added to the page, which is what it is for.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _check_and_photograph(page: Page, name: str, lang: str) -> None:
    bad = _axe(page)
    assert not bad, f"{name} ({lang}): " + "; ".join(
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.screenshot(path=str(SHOTS / f"{name}-{lang}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


# The tests below run in order on one browser session (module scope), like a person's working day.


def test_first_sign_in_asks_for_a_new_password_then_opens_the_app(page: Page, web: Web) -> None:
    page.goto(web.base + "/clients/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/clients/"))
    _check_and_photograph(page, "sign-in", "es")
    _sign_in(page, web, "not the password at all")
    expect(page.get_by_role("alert")).to_contain_text("El correo o la contraseña no son correctos")
    _sign_in(page, web, web.one_time)
    expect(page).to_have_url(re.compile(r"/account/password"))
    expect(page.get_by_role("heading", name="Elige tu contraseña")).to_be_visible()
    # Nothing else opens until the password is chosen.
    page.goto(web.base + "/clients/")
    expect(page).to_have_url(re.compile(r"/account/password"))
    _check_and_photograph(page, "password-first", "es")
    _f(page, "Contraseña actual").fill(web.one_time)
    _f(page, "Contraseña nueva").fill("corta")
    _f(page, "Repite la contraseña nueva").fill("corta")
    page.get_by_role("button", name="Guardar contraseña").click()
    expect(page.locator(".error-summary")).to_contain_text("al menos 10 caracteres")
    _f(page, "Contraseña actual").fill(web.one_time)
    _f(page, "Contraseña nueva").fill(NEW_PASSWORD)
    _f(page, "Repite la contraseña nueva").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Guardar contraseña").click()
    expect(page.get_by_role("status").first).to_contain_text("Tu contraseña cambió")
    expect(page.get_by_role("navigation", name="Navegación principal")).to_contain_text("Clientes")
    # The one-time password no longer works; the new one does (checked on the API itself).
    assert (
        requests.post(
            web.api + "/api/v1/auth/login", json={"email": web.email, "password": NEW_PASSWORD}, timeout=10
        ).status_code
        == 200
    )


def _create_client(page: Page, web: Web, name: str, tax: str = "", email: str = "") -> None:
    page.goto(web.base + "/clients/new")
    _f(page, "Nombre comercial").fill(name)
    if tax:
        _f(page, "País del documento tributario").select_option("CO")
        _f(page, "NIT / RFC / RUT").fill(tax)
    if email:
        _f(page, "Correo electrónico").fill(email)
    _f(page, "Ciudad").fill("Bogotá")
    _f(page, "País").select_option("CO")
    page.get_by_role("button", name="Crear cliente").click()


def test_a_duplicate_tax_id_is_explained_with_a_link_to_the_existing_client(page: Page, web: Web) -> None:
    _create_client(page, web, "Andina de Alimentos S.A.S.", TAX, "compras@andina.example")
    expect(page.get_by_role("heading", name="Andina de Alimentos S.A.S.")).to_be_visible()
    existing_url = page.url
    _create_client(page, web, "Andina Alimentos (otra)", TAX)
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Este cliente ya existe")
    expect(summary).to_contain_text("número de identificación tributaria")
    _check_and_photograph(page, "client-duplicate", "es")
    summary.get_by_role("link", name="Ver el cliente existente").click()
    expect(page).to_have_url(existing_url)
    expect(page.get_by_role("heading", name="Andina de Alimentos S.A.S.")).to_be_visible()


def test_a_field_error_from_the_api_is_shown_beside_its_field(page: Page, web: Web) -> None:
    _create_client(page, web, "Correo Malo Ltda.", email="esto-no-es-un-correo")
    field = page.locator(".field-error", has=_f(page, "Correo electrónico"))
    expect(field.locator(".error-message")).to_be_visible()
    expect(page.locator(".error-summary a[href='#f-email']")).to_be_visible()
    # The values typed are still there.
    expect(_f(page, "Nombre comercial")).to_have_value("Correo Malo Ltda.")
    _check_and_photograph(page, "client-form-errors", "es")


def test_the_error_summary_names_each_field_by_its_label_in_the_pages_language(page: Page, web: Web) -> None:
    # The API answers with codes (required, invalid_email ...): the page words them in Spanish, and
    # the summary says which field is wrong by its label, linking to it. The gateway's own check
    # (the name) answers first; the contacts service's (the e-mail) once the name is there.
    page.goto(web.base + "/clients/new")
    _f(page, "Correo electrónico").fill("esto-no-es-un-correo")
    page.get_by_role("button", name="Crear cliente").click()
    summary = page.locator(".error-summary")
    expect(summary.locator("a[href='#f-name']")).to_have_text("Nombre comercial: Este campo es obligatorio.")
    expect(page.locator(".field-error", has=_f(page, "Nombre comercial"))).to_contain_text("Este campo es obligatorio.")
    expect(summary).not_to_contain_text("String should")
    _f(page, "Nombre comercial").fill("Resumen de Errores Ltda.")
    page.get_by_role("button", name="Crear cliente").click()
    email_link = summary.locator("a[href='#f-email']")
    expect(email_link).to_have_text(
        "Correo electrónico: Escribe una dirección de correo válida, como nombre@empresa.com."
    )
    beside = page.locator(".field-error", has=_f(page, "Correo electrónico")).locator(".error-message")
    expect(beside).to_contain_text("Escribe una dirección de correo válida")
    expect(summary).not_to_contain_text("is not a valid e-mail address")
    email_link.click()
    expect(_f(page, "Correo electrónico")).to_be_focused()
    _check_and_photograph(page, "client-form-error-summary", "es")

    page.get_by_role("button", name="EN").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(web.base + "/clients/new")
    page.get_by_role("button", name="Create client").click()
    expect(summary.locator("a[href='#f-name']")).to_have_text("Trade name: This field is required.")
    _f(page, "Trade name").fill("Error Summary Ltd.")
    _f(page, "E-mail").fill("not-an-email")
    page.get_by_role("button", name="Create client").click()
    expect(summary.locator("a[href='#f-email']")).to_have_text(
        "E-mail: Enter a valid e-mail address, such as name@company.com."
    )
    beside = page.locator(".field-error", has=_f(page, "E-mail")).locator(".error-message")
    expect(beside).to_contain_text("Enter a valid e-mail address")
    _check_and_photograph(page, "client-form-error-summary", "en")
    page.get_by_role("button", name="ES").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "es")


def test_a_csv_with_a_bad_row_is_reported_row_by_row_before_importing(page: Page, web: Web, tmp_path: Path) -> None:
    csv = tmp_path / "clientes.csv"
    csv.write_text(
        "nombre,correo,ciudad,pais\n"
        "Ferretería El Tornillo,ventas@tornillo.example,Medellín,CO\n"
        ",sin-nombre@example.com,Cali,CO\n"
        "Transportes del Sur,contacto@tsur.example,Santiago,CL\n",
        encoding="utf-8",
    )
    page.goto(web.base + "/clients/import")
    _check_and_photograph(page, "client-import", "es")
    _f(page, "Archivo").set_input_files(str(csv))
    page.get_by_role("button", name="Revisar el archivo").click()
    report = page.locator("#import-problems")
    expect(report).to_be_visible()
    expect(report.locator("tbody tr")).to_have_count(1)
    expect(report.locator("tbody tr td").first).to_have_text("3")  # the header is row 1
    _check_and_photograph(page, "client-import-report", "es")
    # The dry run wrote nothing (looked at in a second tab: the report stays open in the first).
    other = page.context.new_page()
    other.goto(web.base + "/clients/?q=Tornillo")
    expect(other.locator(".data-table tbody")).to_contain_text("Ningún cliente coincide")
    other.close()
    page.get_by_role("button", name=re.compile(r"Importar 2 clientes")).click()
    expect(page.get_by_role("status").first).to_contain_text("2 clientes creados")
    page.goto(web.base + "/clients/?q=Tornillo")
    expect(page.locator(".data-table tbody")).to_contain_text("Ferretería El Tornillo")


def test_lists_search_and_detail_pages(page: Page, web: Web) -> None:
    page.goto(web.base + "/clients/")
    expect(page.locator(".list-count")).to_contain_text("registros")
    _check_and_photograph(page, "clients-list", "es")
    page.get_by_role("searchbox", name="Buscar", exact=True).fill("Andina")
    expect(page.locator("#clients-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=Andina"))
    page.locator("#global-q").fill("Transportes")
    popup = page.locator("#search-popup")
    expect(popup).to_contain_text("Clientes")
    expect(popup).to_contain_text("Transportes del Sur")
    page.goto(web.base + "/search?q=Andina")
    _check_and_photograph(page, "search", "es")
    page.get_by_role("main").get_by_role("link", name="Andina de Alimentos S.A.S.").click()
    expect(page.locator(".timeline")).to_contain_text("Cliente creado")
    _check_and_photograph(page, "client-detail", "es")
    page.get_by_role("link", name="Editar", exact=True).click()
    _check_and_photograph(page, "client-edit", "es")
    _f(page, "Sector").fill("Alimentos")
    page.get_by_role("button", name="Guardar cambios").click()
    expect(page.locator(".details")).to_contain_text("Alimentos")
    page.get_by_role("link", name="Archivar").click()
    _check_and_photograph(page, "client-archive-confirm", "es")
    page.get_by_role("button", name="Archivar cliente").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Archivado")
    page.goto(web.base + "/")
    _check_and_photograph(page, "home", "es")
    for path, name in (
        ("/account/profile", "profile"),
        ("/account/tokens", "tokens"),
        ("/account/password", "password"),
        ("/clients/new", "client-new"),
    ):
        page.goto(web.base + path)
        _check_and_photograph(page, name, "es")


def test_api_tokens_are_shown_once_and_can_be_revoked(page: Page, web: Web) -> None:
    page.goto(web.base + "/account/tokens")
    _f(page, "Para qué es").fill("Hoja de cálculo")
    page.get_by_role("button", name="Crear token").click()
    secret = _f(page, "Token").input_value()
    assert secret.startswith("crm_pat_")
    assert (
        requests.get(web.api + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10).status_code
        == 200
    )
    page.goto(web.base + "/account/tokens")
    expect(_f(page, "Token")).to_have_count(0)  # never shown again
    page.get_by_role("button", name="Revocar Hoja de cálculo").click()
    expect(page.locator(".data-table")).to_contain_text("Revocado")
    assert (
        requests.get(web.api + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10).status_code
        == 401
    )


def test_every_page_in_english(page: Page, web: Web) -> None:
    page.goto(web.base + "/clients/")
    page.get_by_role("button", name="EN").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    client_url = page.locator("#clients-table a").first.get_attribute("href")
    pages = {
        "home": "/",
        "clients-list": "/clients/",
        "client-new": "/clients/new",
        "client-import": "/clients/import",
        "client-detail": client_url,
        "client-edit": f"{client_url}/edit",
        "client-archive-confirm": f"{client_url}/archive",
        "search": "/search?q=a",
        "profile": "/account/profile",
        "tokens": "/account/tokens",
        "password": "/account/password",
    }
    for name, path in pages.items():
        page.goto(web.base + str(path))
        _check_and_photograph(page, name, "en")
    page.goto(web.base + "/clients/new")
    page.get_by_role("button", name="Create client").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _check_and_photograph(page, "client-form-errors", "en")
    # The language is kept in the profile (the API's locale field) and comes back as Spanish.
    me = page.context.request.get(web.base + "/account/profile")
    assert 'value="en-US" selected' in me.text()
    page.get_by_role("button", name="ES").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "es")


def test_a_lost_session_returns_to_the_half_filled_form(page: Page, web: Web) -> None:
    page.goto(web.base + "/clients/new")
    _f(page, "Nombre comercial").fill("Cliente escrito antes de caducar")
    _f(page, "Sector").fill("Textiles")
    # The session ends elsewhere (the password changed from another device ends every session).
    api = requests.post(
        web.api + "/api/v1/auth/login", json={"email": web.email, "password": NEW_PASSWORD}, timeout=10
    ).json()
    changed = requests.post(
        web.api + "/api/v1/auth/password",
        json={"current_password": NEW_PASSWORD, "new_password": NEW_PASSWORD + "!"},
        headers={"Authorization": f"Bearer {api['access_token']}"},
        timeout=10,
    )
    assert changed.status_code == 204
    page.get_by_role("button", name="Crear cliente").click()
    expect(page).to_have_url(re.compile(r"/signin\?next=/clients/new"))
    expect(page.get_by_role("alert")).to_contain_text("Tu sesión terminó")
    _sign_in(page, web, NEW_PASSWORD + "!")
    expect(page).to_have_url(re.compile(r"/clients/new$"))
    expect(_f(page, "Nombre comercial")).to_have_value("Cliente escrito antes de caducar")
    expect(_f(page, "Sector")).to_have_value("Textiles")
    expect(page.get_by_role("status").first).to_contain_text("Recuperamos lo que escribiste")


def test_sign_out_ends_the_api_session_and_back_shows_nothing_private(page: Page, web: Web) -> None:
    page.goto(web.base + "/clients/?q=Tornillo")
    expect(page.locator("#clients-table")).to_contain_text("Ferretería El Tornillo")
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page).to_have_url(re.compile(r"/signin"))
    expect(page.get_by_role("status")).to_contain_text("Cerraste sesión")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/signin"))
    assert "Ferretería El Tornillo" not in page.content()  # (the query may stay in the return address)
