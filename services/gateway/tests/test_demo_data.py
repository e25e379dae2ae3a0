"""`crm demo-data` against the real services behind the gateway served over HTTP on loopback: at a
small scale it loads every kind of record through the public API (valid tax ids, deals in every
stage, quotes in every status, each rep with activities due today and overdue), and a second run
finds everything by its natural keys and adds nothing. Sign-in problems are told plainly."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.mx import rfc
from werkzeug.serving import make_server

from crm_platform.demo.load import demo_data
from crm_platform.demo.plan import COMPANY_ZONE, DEMO_PASSWORD, LOST, OPEN_STAGES, WON, build

from .conftest import ADMIN_EMAIL, PASSWORD, Stack

SCALE = "0.05"
VALID_TAX_ID = {"CO": nit.is_valid, "MX": lambda v: rfc.is_valid(v, validate_check_digits=True), "CL": rut.is_valid}


@pytest.fixture(scope="module")
def gateway_url(stack: Stack) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _all(stack: Stack, path: str, **params: Any) -> list[dict[str, Any]]:
    res = stack.http.get(f"/api/v1/{path}", query_string={"page_size": 10000, **params}, headers=stack.auth("admin"))
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert not body["next_page_token"]
    return list(body["items"])


def _counts(stack: Stack) -> dict[str, int]:
    return {
        "users": len(_all(stack, "users", include_inactive="true")),
        "teams": len(_all(stack, "teams")),
        "products": len(_all(stack, "products", include_inactive="true")),
        "clients": len(_all(stack, "clients", include_archived="true")),
        "contacts": len(_all(stack, "contacts", include_archived="true")),
        "prospects": len(_all(stack, "prospects", include_archived="true")),
        "deals": len(_all(stack, "deals")),
        "quotes": len(_all(stack, "quotes", include_superseded="true")),
        "activities": len(_all(stack, "activities")),
        "campaigns": len(_all(stack, "campaigns")),
        "budgets": len(_all(stack, "budgets")),
        "canvases": len(_all(stack, "canvases", include_archived="true")),
    }


def _run(
    url: str, capsys: pytest.CaptureFixture[str], password: str = PASSWORD, email: str = ADMIN_EMAIL
) -> tuple[int, str]:
    code = demo_data(["--url", url, "--admin-email", email, "--admin-password", password, "--scale", SCALE])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_demo_data_loads_a_working_company_and_a_second_run_adds_nothing(
    stack: Stack, gateway_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _counts(stack)
    code, output = _run(gateway_url, capsys)
    assert code == 0, output
    plan = build(float(SCALE))

    users = {u["email"]: u for u in _all(stack, "users")}
    for spec in plan.users:
        assert users[spec["email"]]["role"] == spec["role"]
        assert spec["email"] in output  # printed with the demo password, to sign in with
    assert DEMO_PASSWORD in output
    assert stack.login(plan.users[1]["email"], DEMO_PASSWORD).status_code == 200
    reps = [users[u["email"]]["id"] for u in plan.users if u["role"] == "rep"]
    teams = Counter(users[u["email"]]["team_id"] for u in plan.users if u["role"] == "rep")
    assert len(teams) == 2 and set(teams.values()) == {2}

    clients = {(c["tax_id"] or {}).get("value"): c for c in _all(stack, "clients")}
    for spec in plan.clients:
        client = clients[spec["tax_id"]]
        assert client["tax_id"]["country_code"] == spec["country"]
        assert VALID_TAX_ID[spec["country"]](client["tax_id"]["value"]), client["tax_id"]
    assert {c["country"] for c in plan.clients} == {"CO", "MX", "CL"}
    emails = {c["email"] for c in _all(stack, "contacts")}
    assert {c["email"] for c in plan.contacts} <= emails
    products = {p["sku"]: p for p in _all(stack, "products")}
    assert {p["sku"] for p in plan.products} <= set(products)
    assert products["ERP-LIC-BAS"]["tax_rate"] in ("0.19", "0.190000")

    prospects = [p for p in _all(stack, "prospects") if p["email"] in {x["email"] for x in plan.prospects}]
    assert {p["status"] for p in prospects} == {"new", "contacted", "qualified", "converted", "disqualified"}
    assert {p["source"] for p in prospects} == {
        "web",
        "referral",
        "campaign",
        "trade_fair",
        "ads",
        "rd_station",
        "import",
    }

    pipeline = next(p for p in _all(stack, "pipelines") if p["is_default"])
    stage_names = {s["id"]: s["name"] for s in pipeline["stages"]}
    deals = [d for d in _all(stack, "deals") if d["title"] in {x["title"] for x in plan.deals}]
    assert len(deals) == len(plan.deals)
    per_stage = Counter(stage_names[d["stage_id"]] for d in deals)
    assert set(per_stage) == {*OPEN_STAGES, WON, LOST}, per_stage
    assert all(d["lost_reason"] for d in deals if d["status"] == "lost")
    today = datetime.now(COMPANY_ZONE).date()
    for rep in reps:  # every rep's home page shows deals closing this month
        assert any(
            d["owner_id"] == rep and d["status"] == "open" and d["expected_close_date"][:7] == today.isoformat()[:7]
            for d in deals
        ), rep

    quotes = _all(stack, "quotes")
    assert {q["status"] for q in quotes} >= {"draft", "sent", "accepted", "rejected"}
    assert {q["owner_id"] for q in quotes if q["status"] == "sent"} >= set(reps)

    start = datetime.combine(today, time(0), COMPANY_ZONE)
    for rep in reps:
        due_today = _all(
            stack,
            "activities",
            owner_id=rep,
            status="scheduled",
            due_after=start.isoformat(),
            due_before=(start + timedelta(days=1)).isoformat(),
        )
        overdue = _all(stack, "activities", owner_id=rep, due="overdue")
        assert due_today and overdue, rep
    activities = _all(stack, "activities")
    done = [a for a in activities if a["status"] == "done"]
    assert done and all(a["outcome"] for a in done)
    assert {a["kind"] for a in activities} == {"call", "meeting", "visit", "task", "email"}

    campaigns = _all(stack, "campaigns")
    assert {c["type"] for c in campaigns} == {"mailing", "telemarketing", "social_ads", "trade_fair"}
    assert {c["status"] for c in campaigns} >= {"draft", "running", "completed"}
    assert len(_all(stack, "budgets", period_kind="month")) == len(plan.budgets)
    canvases = _all(stack, "canvases")
    assert len(canvases) == 2
    full = [stack.http.get(f"/api/v1/canvases/{c['id']}", headers=stack.auth("admin")).get_json() for c in canvases]
    kinds = {link["kind"] for c in full for n in c["notes"] for link in n["links"] if link["state"] == "active"}
    assert kinds == {"product", "client_segment", "campaign"}

    first = _counts(stack)
    converted = sum(1 for p in plan.prospects if p["status"] == "converted")  # each one made a client
    assert first["clients"] - before["clients"] == len(plan.clients) + converted
    assert first["activities"] - before["activities"] >= len(plan.activities)

    code, output = _run(gateway_url, capsys)
    assert code == 0, output
    assert _counts(stack) == first
    for line in output.splitlines():  # the summary's rows: kind, created, already there
        parts = line.split()
        if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isdigit() and not line.startswith("demo-data"):
            assert parts[-2] == "0", line


def test_demo_data_says_what_to_do_when_it_cannot_sign_in(
    stack: Stack, gateway_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _run(gateway_url, capsys, password="not the password 1")
    assert code == 1 and "signing in as admin@example.com failed: 401" in output
    code, output = _run(gateway_url, capsys, password="")
    assert code == 1 and "--admin-password or set CRM_ADMIN_PASSWORD" in output
    code, output = _run(gateway_url, capsys, email="carla@example.com")
    assert code == 1 and "is not an admin" in output
    # A password set by an admin is a one-time one: the user must choose their own first.
    res = stack.http.post(
        f"/api/v1/users/{stack.id('carla')}:resetPassword",
        json={"new_password": "una clave temporal 9"},
        headers=stack.auth("admin"),
    )
    assert res.status_code in (200, 204), res.get_json()
    code, output = _run(gateway_url, capsys, email="carla@example.com", password="una clave temporal 9")
    assert code == 1 and "still has its one-time password" in output
    code, output = _run("http://127.0.0.1:9", capsys)
    assert code == 2 and "no gateway answers" in output
