"""The one-command run, end to end: `crm up` (as a real process, on free ports and a fresh data
folder) starts NATS, every service and the gateway; /readyz turns ready; the thin path works over
HTTP with client_created arriving on JetStream; a sale crosses the services (a prospect converted
with a deal, a quote accepted that sets the deal's amount, the won deal counted by the
reporting service's indicators); a webhook lead becomes a campaign's prospect; SIGTERM stops it
leaving no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from crm.contacts.v1 import events_pb2
from crm_platform import nats_auth
from crm_platform.config import SERVICES
from crm_platform.nats_server import free_port
from crm_platform.testing import remember_nats_credentials, wait_for_event

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    """Every live descendant of pid (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


NEW_ADMIN_PASSWORD = "la clave del admin 2026"


class Running:
    def __init__(self, proc: subprocess.Popen[str], base: str, nats_url: str, log: Path):
        self.proc, self.base, self.nats_url, self.log = proc, base, nats_url, log


def _start_up(data: Path) -> Running:
    env = dict(os.environ)
    for name in SERVICES:
        env[f"CRM_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
        env[f"CRM_{name.upper()}_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
        env.pop(f"CRM_{name.upper()}_DATABASE_URL", None)
        env.pop(f"CRM_{name.upper()}_LISTEN", None)
    env.pop("CRM_NATS_URL", None)
    # `crm up` would make every NATS key itself; given them, the test can read the streams.
    nats_keys = nats_auth.generate()
    env.update({nats_auth.seed_variable(u): c.seed for u, c in nats_keys.items()})
    for var in ("CRM_ADMIN_EMAIL", "CRM_ADMIN_PASSWORD", "CRM_INTERNAL_TOKEN"):
        env.pop(var, None)
    gateway = f"127.0.0.1:{free_port()}"
    env.update(CRM_DATA_DIR=str(data), CRM_GATEWAY_LISTEN=gateway)
    log = data / "crm-up.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crm_cli", "up"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    deadline = time.monotonic() + 90
    while "CRM platform ready" not in log.read_text():
        assert proc.poll() is None, f"crm up exited early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"crm up not ready in time:\n{log.read_text()}"
        time.sleep(0.1)
    nats_line = next(line for line in log.read_text().splitlines() if line.strip().startswith("nats"))
    remember_nats_credentials(nats_line.split()[1], nats_keys)
    return Running(proc, f"http://{gateway}", nats_line.split()[1], log)


def _wait_gone(pids: set[int], seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = _start_up(tmp_path_factory.mktemp("crm-up"))
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def test_everything_is_ready_and_listed(platform: Running) -> None:
    ready = requests.get(f"{platform.base}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["services"] == {name: "SERVING" for name in SERVICES}
    text = platform.log.read_text()
    for name in SERVICES:
        assert f"  {name}" in text
    assert "(embedded)" in text


def _first_admin(platform: Running) -> tuple[str, str]:
    """The e-mail and one-time password `crm up` printed for the admin it created."""
    line = next(x for x in platform.log.read_text().splitlines() if "first admin created" in x)
    m = re.search(r"first admin created: (\S+); one-time password: (\S+)", line)
    assert m, line
    return m.group(1), m.group(2)


def test_first_admin_signs_in_with_the_printed_password_then_must_change_it(platform: Running) -> None:
    email, one_time = _first_admin(platform)
    assert requests.get(f"{platform.base}/api/v1/clients", timeout=10).status_code == 401
    session = requests.post(
        f"{platform.base}/api/v1/auth/login", json={"email": email, "password": one_time}, timeout=10
    )
    assert session.status_code == 200, session.text
    headers = {"Authorization": f"Bearer {session.json()['access_token']}"}
    blocked = requests.get(f"{platform.base}/api/v1/clients", headers=headers, timeout=10)
    assert blocked.status_code == 403 and blocked.json()["code"] == "password_change_required"
    changed = requests.post(
        f"{platform.base}/api/v1/auth/password",
        json={"current_password": one_time, "new_password": NEW_ADMIN_PASSWORD},
        headers=headers,
        timeout=10,
    )
    assert changed.status_code == 204, changed.text


def _admin_headers(platform: Running) -> dict[str, str]:
    email, _ = _first_admin(platform)
    res = requests.post(
        f"{platform.base}/api/v1/auth/login", json={"email": email, "password": NEW_ADMIN_PASSWORD}, timeout=10
    )
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['access_token']}"}


def test_thin_path_over_http_with_the_event_on_jetstream(platform: Running) -> None:
    headers = _admin_headers(platform)
    res = requests.post(
        f"{platform.base}/api/v1/clients",
        json={"name": "Distribuidora Peña", "email": "compras@pena.example"},
        headers=headers,
        timeout=10,
    )
    assert res.status_code == 201, res.text
    client = res.json()
    listed = requests.get(f"{platform.base}/api/v1/clients", headers=headers, timeout=10).json()
    assert client["id"] in [c["id"] for c in listed["items"]]

    bad = requests.post(
        f"{platform.base}/api/v1/clients", json={"owner_id": "u-1", "extra": 1}, headers=headers, timeout=10
    )
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in bad.json()["errors"]} == {"name", "extra"}
    assert len(requests.get(f"{platform.base}/api/v1/clients", headers=headers, timeout=10).json()["items"]) == 1
    assert requests.get(f"{platform.base}/api/docs/", timeout=10).status_code == 200

    event = wait_for_event(platform.nats_url, events_pb2.ClientCreated, lambda e: e.client.id == client["id"])
    assert event.client.name == "Distribuidora Peña" and event.meta.producer == "contacts"


def _eventually(check: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_a_sale_from_prospect_to_accepted_quote_across_the_services(platform: Running) -> None:
    """contacts → (prospect_converted) → deals → quotes → (quote_accepted) → deals, each a process."""
    headers = _admin_headers(platform)
    base = platform.base

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        res = requests.post(f"{base}{path}", json=body, headers=headers, timeout=10)
        assert res.status_code in (200, 201), res.text
        return dict(res.json())

    def get(path: str) -> Any:
        res = requests.get(f"{base}{path}", headers=headers, timeout=10)
        assert res.status_code == 200, res.text
        return res.json()

    prospect = post("/api/v1/prospects", {"company_name": "Café Añoranza", "first_name": "Íñigo", "last_name": "Peña"})
    converted = post(
        f"/api/v1/prospects/{prospect['id']}:convert",
        {
            "open_deal": True,
            "deal_title": "Café para oficinas",
            "deal_amount": {"amount": "4000000", "currency_code": "COP"},
        },
    )
    client_id = converted["client"]["id"]
    deal = _eventually(lambda: (get(f"/api/v1/deals?client_id={client_id}")["items"] or [None])[0])
    assert deal["title"] == "Café para oficinas" and deal["amount"]["amount"] == "4000000"
    assert deal["contact_ids"] == [converted["contact"]["id"]] and deal["source_prospect_id"] == prospect["id"]
    _eventually(lambda: get(f"/api/v1/prospects/{prospect['id']}")["converted_deal_id"] == deal["id"])

    product = post(
        "/api/v1/products",
        {
            "sku": "CAFE-500",
            "name": "Café molido 500 g",
            "kind": "product",
            "unit_price": {"amount": "25000", "currency_code": "COP"},
            "tax_rate": "0.19",
        },
    )
    quote = post("/api/v1/quotes", {"deal_id": deal["id"], "lines": [{"product_id": product["id"], "quantity": "200"}]})
    assert quote["total"] == {"currency_code": "COP", "amount": "5950000"}  # 200 x 25,000 + 19 % IVA
    post(f"/api/v1/quotes/{quote['id']}:send", {})
    post(f"/api/v1/quotes/{quote['id']}:accept", {})

    def accepted() -> Any:
        current = get(f"/api/v1/deals/{deal['id']}")
        return current if current["accepted_quote_id"] == quote["id"] else None

    updated = _eventually(accepted)
    assert updated["amount"] == {"currency_code": "COP", "amount": "5950000"}
    won = post(f"/api/v1/deals/{deal['id']}:win", {})
    assert won["status"] == "won" and won["sales_cycle_seconds"] >= 0
    pdf = requests.get(f"{base}/api/v1/quotes/{quote['id']}/pdf", headers=headers, timeout=30)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    # The reporting service learns of the sale from the deals events alone: the company's
    # indicators for the month it was won (in the company's zone, Bogotá by default) count it.
    won_at = datetime.fromisoformat(won["won_time"].replace("Z", "+00:00")).astimezone(ZoneInfo("America/Bogota"))
    month = won_at.date().replace(day=1).isoformat()

    def counted() -> Any:
        figures = get(f"/api/v1/indicators?scope=company&period=month&start={month}")
        return figures if figures.get("average_deal_sizes") else None

    figures = _eventually(counted)
    assert figures["average_deal_sizes"] == [{"currency_code": "COP", "amount": "5950000"}]
    assert figures["win_rate"] == "1.0000"


def test_a_lead_from_an_rd_station_webhook_becomes_a_prospect_of_the_campaign(platform: Running) -> None:
    """gateway (public webhook) → campaigns → contacts: the lead is a prospect whose source is the
    campaign, a replay of the same webhook adds nobody, and the campaign counts one lead."""
    headers = _admin_headers(platform)
    base = platform.base
    res = requests.post(
        f"{base}/api/v1/campaigns",
        json={"name": "Feria digital", "type": "social_ads", "budget": {"amount": "1000000", "currency_code": "COP"}},
        headers=headers,
        timeout=10,
    )
    assert res.status_code == 201, res.text
    campaign = res.json()
    res = requests.post(f"{base}/api/v1/campaigns/{campaign['id']}:launch", json={}, headers=headers, timeout=30)
    assert res.status_code == 200, res.text
    hook = f"{base}/api/v1/webhooks/rd-station/{campaign['id']}"
    payload = {
        "leads": [
            {
                "uuid": "rd-7f1c",
                "email": "lucia@tostadores.example",
                "name": "Lucía Mora",
                "company": "Tostadores del Sur",
            }
        ]
    }
    wrong = requests.post(hook, json=payload, headers={"X-CRM-Webhook-Secret": "not-the-secret"}, timeout=10)
    assert wrong.status_code == 401
    for _ in range(2):  # the provider retries: one prospect
        res = requests.post(
            hook, json=payload, headers={"X-CRM-Webhook-Secret": campaign["webhook_secret"]}, timeout=10
        )
        assert res.status_code == 200, res.text
    prospects = requests.get(f"{base}/api/v1/prospects?q=lucia@tostadores.example", headers=headers, timeout=10).json()
    assert [p["source_campaign_id"] for p in prospects["items"]] == [campaign["id"]]
    results = requests.get(f"{base}/api/v1/campaigns/{campaign['id']}/results", headers=headers, timeout=10).json()
    assert results["leads"] == 1


def test_sigterm_stops_every_child(platform: Running) -> None:
    children = _children(platform.proc.pid)
    assert len(children) >= len(SERVICES) + 2  # services, gateway (and its worker), nats-server
    platform.proc.send_signal(signal.SIGTERM)
    assert platform.proc.wait(30) == 0
    assert _wait_gone(children) == []
    assert "crm: stopped" in platform.log.read_text()


def test_a_killed_launcher_takes_every_child_with_it(tmp_path: Path) -> None:
    running = _start_up(tmp_path)
    children = _children(running.proc.pid)
    assert len(children) >= len(SERVICES) + 2
    running.proc.kill()  # SIGKILL: no chance to stop anything itself
    running.proc.wait()
    assert _wait_gone(children) == []


def test_a_malformed_setting_stops_crm_up_before_it_starts_anything(tmp_path: Path) -> None:
    env = {**os.environ, "CRM_DATA_DIR": str(tmp_path), "CRM_CONTACTS_ADDR": "contacts-without-port"}
    res = subprocess.run(
        [sys.executable, "-m", "crm_cli", "up"], env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2
    assert "CRM_CONTACTS_ADDR must be host:port" in res.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


@pytest.mark.parametrize("module", ["crm_contacts", "crm_gateway"])
def test_a_service_or_the_gateway_refuses_to_start_without_the_internal_token(module: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRM_INTERNAL_TOKEN"}
    env["CRM_DATA_DIR"] = str(tmp_path)
    res = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "CRM_INTERNAL_TOKEN must be set" in res.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize(
    ("module", "variable", "value"),
    [("crm_deals", "CRM_DEALS_DEFAULT_CURRENCY", "PESOS"), ("crm_quotes", "CRM_QUOTES_TIME_ZONE", "Nowhere/Nada")],
)
def test_a_malformed_service_setting_stops_it_before_it_starts(
    module: str, variable: str, value: str, tmp_path: Path
) -> None:
    env = {**os.environ, "CRM_DATA_DIR": str(tmp_path), "CRM_INTERNAL_TOKEN": "t", variable: value}
    res = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and variable in res.stderr and value in res.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def _crm(args: list[str], data: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_") or k == "CRM_TEST_POSTGRES_URL"}
    env.update(CRM_DATA_DIR=str(data), **extra)
    return subprocess.run(
        [sys.executable, "-m", "crm_cli", *args], env=env, capture_output=True, text=True, timeout=90
    )


def test_crm_up_help_prints_the_usage_and_unknown_options_are_refused(tmp_path: Path) -> None:
    shown = _crm(["up", "--help"], tmp_path)
    assert shown.returncode == 0 and "usage: crm up" in shown.stdout and "CRM_START_TIMEOUT" in shown.stdout
    refused = _crm(["up", "--port", "9000"], tmp_path)
    assert refused.returncode == 2
    assert "usage: crm up" in refused.stderr and "unrecognized arguments: --port 9000" in refused.stderr
    assert list(tmp_path.iterdir()) == []  # neither started anything


def test_a_second_crm_up_on_the_same_data_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    import fcntl

    with open(tmp_path / "crm-up.lock", "w") as held:  # what a running `crm up` holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("crm up pid 4242, gateway http://127.0.0.1:8080, since 10:00:00")
        held.flush()
        res = _crm(["up"], tmp_path)
    assert res.returncode == 1
    assert f"a platform is already running on the data folder {tmp_path}" in res.stderr
    assert "crm up pid 4242, gateway http://127.0.0.1:8080" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm-up.lock"]  # no NATS store, no logs


def test_the_start_limit_is_a_setting_and_the_message_says_what_was_waited_for(tmp_path: Path) -> None:
    ports = {f"CRM_{n.upper()}_ADDR": f"127.0.0.1:{free_port()}" for n in SERVICES}
    ports.update({f"CRM_{n.upper()}_METRICS_LISTEN": f"127.0.0.1:{free_port()}" for n in SERVICES})
    res = _crm(["up"], tmp_path, CRM_START_TIMEOUT="0.5", CRM_GATEWAY_LISTEN=f"127.0.0.1:{free_port()}", **ports)
    assert res.returncode == 1
    assert "identity did not become ready within 0.5s (CRM_START_TIMEOUT" in res.stderr
    assert f"waited for SERVING from its gRPC health check at {ports['CRM_IDENTITY_ADDR']}" in res.stderr
    assert "crm: stopped" in res.stderr
    bad = _crm(["up"], tmp_path, CRM_START_TIMEOUT="-1")
    assert bad.returncode == 2 and "CRM_START_TIMEOUT" in bad.stderr


def test_crm_status_without_a_running_platform_says_so(tmp_path: Path) -> None:
    res = _crm(["status"], tmp_path)
    assert res.returncode == 1 and f"no platform has run on {tmp_path}" in res.stderr
