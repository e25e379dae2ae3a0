"""One trace from the HTTP request to the consumers, each hop a real process: `crm up` runs with
every process writing its spans as JSON lines to one file (CRM_TRACES_FILE, the platform's own
exporter beside OTLP), and a deal created through the gateway shows one trace spanning the
gateway, the deals service, the contacts service it asks about the client, and the reporting
service's consumer of deal_created, with each span's parent the span that caused it; a page of
the web application continues into the gateway the same way. The gateway's and the web
application's JSON access logs carry the request and trace ids."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from crm_platform import nats_auth
from crm_platform.config import SERVICES
from crm_platform.nats_server import free_port

pytestmark = pytest.mark.slow

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "una clave larga para trazas"


class Traced:
    def __init__(self, proc: subprocess.Popen[str], base: str, web: str, data: Path, spans: Path):
        self.proc, self.base, self.web, self.data, self.spans_file = proc, base, web, data, spans

    def spans(self) -> list[dict[str, Any]]:
        if not self.spans_file.exists():
            return []
        return [json.loads(line) for line in self.spans_file.read_text().splitlines() if line.strip()]

    def log_lines(self, name: str) -> list[dict[str, Any]]:
        lines = []
        for line in (self.data / "logs" / f"{name}.log").read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    data = tmp_path_factory.mktemp("crm-traced")
    spans = data / "spans.jsonl"
    env = dict(os.environ)
    for name in SERVICES:
        env[f"CRM_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
        env[f"CRM_{name.upper()}_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
        env.pop(f"CRM_{name.upper()}_DATABASE_URL", None)
        env.pop(f"CRM_{name.upper()}_LISTEN", None)
    for var in ("CRM_NATS_URL", "CRM_INTERNAL_TOKEN", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"):
        env.pop(var, None)
    env.update({nats_auth.seed_variable(u): c.seed for u, c in nats_auth.generate().items()})
    gateway, web = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env.update(
        CRM_DATA_DIR=str(data),
        CRM_GATEWAY_LISTEN=gateway,
        CRM_WEB_LISTEN=web,
        CRM_ADMIN_EMAIL=ADMIN_EMAIL,
        CRM_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CRM_LOG_FORMAT="json",
        CRM_TRACES_FILE=str(spans),
        OTEL_BSP_SCHEDULE_DELAY="50",  # spans reach the file within a tenth of a second
    )
    out = data / "crm-up.out"
    with open(out, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crm_cli", "up"], env=env, stdout=f, stderr=subprocess.STDOUT, text=True
        )
    try:
        deadline = time.monotonic() + 120
        while "CRM platform ready" not in out.read_text():
            assert proc.poll() is None, f"crm up exited early:\n{out.read_text()}"
            assert time.monotonic() < deadline, f"crm up not ready in time:\n{out.read_text()}"
            time.sleep(0.1)
        yield Traced(proc, f"http://{gateway}", f"http://{web}", data, spans)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _eventually(check: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def _admin(traced: Traced) -> dict[str, str]:
    res = requests.post(
        f"{traced.base}/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    )
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['access_token']}"}


def _one(spans: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [s for s in spans if all(s[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def test_a_deal_create_is_one_trace_across_gateway_deals_contacts_and_the_reporting_consumer(traced: Traced) -> None:
    headers = _admin(traced)
    client = requests.post(f"{traced.base}/api/v1/clients", json={"name": "Trazas SA"}, headers=headers, timeout=10)
    assert client.status_code == 201, client.text
    res = requests.post(
        f"{traced.base}/api/v1/deals",
        json={"title": "Licencias 2027", "client_id": client.json()["id"]},
        headers={**headers, "X-Request-Id": "trace-deal-1"},
        timeout=10,
    )
    assert res.status_code == 201, res.text

    def the_trace() -> list[dict[str, Any]] | None:
        spans = traced.spans()
        roots = [s for s in spans if s["name"] == "POST /api/v1/deals" and s["service"] == "crm-gateway"]
        if not roots:
            return None
        trace = [s for s in spans if s["trace_id"] == roots[0]["trace_id"]]
        return trace if any(s["kind"] == "CONSUMER" and s["service"] == "crm-reporting" for s in trace) else None

    trace = _eventually(the_trace)
    by_id = {s["span_id"]: s for s in trace}

    http = _one(trace, name="POST /api/v1/deals", kind="SERVER")
    assert http["service"] == "crm-gateway" and http["parent_id"] == ""  # the request started the trace
    assert http["attributes"]["http.response.status_code"] == 201
    assert http["attributes"]["crm.request_id"] == "trace-deal-1"

    create_call = _one(trace, name="crm.deals.v1.DealsService/CreateDeal", kind="CLIENT")
    assert create_call["service"] == "crm-gateway" and create_call["parent_id"] == http["span_id"]
    create = _one(trace, name="crm.deals.v1.DealsService/CreateDeal", kind="SERVER")
    assert create["service"] == "crm-deals" and create["parent_id"] == create_call["span_id"]
    assert create["attributes"]["rpc.grpc.status_code"] == 0

    # The deals service asks the contacts service about the client, inside its own span.
    contacts_calls = [s for s in trace if s["service"] == "crm-contacts" and s["kind"] == "SERVER"]
    assert contacts_calls, "no span of the contacts service in the trace"
    for served in contacts_calls:
        caller = by_id[served["parent_id"]]
        assert caller["kind"] == "CLIENT" and caller["service"] == "crm-deals" and caller["name"] == served["name"]
        assert caller["parent_id"] == create["span_id"]

    # The event written in CreateDeal's transaction is handled in the same trace, as its child.
    consumed = [s for s in trace if s["kind"] == "CONSUMER" and s["service"] == "crm-reporting"]
    assert [s["name"] for s in consumed] == ["crm.deals.v1.deal_created process"]
    assert consumed[0]["parent_id"] == create["span_id"]
    assert consumed[0]["attributes"]["messaging.consumer.group.name"] == "reporting-deals"
    # The contacts service's own consumer of deal_created (it links deals to clients) joins too.
    contacts_consumer = _one(trace, kind="CONSUMER", service="crm-contacts")
    assert contacts_consumer["parent_id"] == create["span_id"]

    # Every span in the trace hangs from another in it, up to the one HTTP request.
    for s in trace:
        assert s["parent_id"] == "" or s["parent_id"] in by_id, s
    assert [s for s in trace if s["parent_id"] == ""] == [http]

    # The gateway's access log line for it carries the request id and this trace id.
    def access_line() -> dict[str, Any] | None:
        lines = [x for x in traced.log_lines("gateway") if x.get("logger") == "crm.access"]
        return next((x for x in lines if x["request_id"] == "trace-deal-1"), None)

    line = _eventually(access_line)
    assert line["trace_id"] == http["trace_id"]
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "POST",
        "/api/v1/deals",
        "/api/v1/deals",
        201,
    )
    assert line["duration_ms"] > 0 and line["service"] == "gateway"


def test_an_incoming_traceparent_is_continued(traced: Traced) -> None:
    headers = _admin(traced)
    upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    res = requests.get(f"{traced.base}/api/v1/deals", headers={**headers, "traceparent": upstream}, timeout=10)
    assert res.status_code == 200

    def the_request() -> dict[str, Any] | None:
        spans = [s for s in traced.spans() if s["trace_id"] == "0af7651916cd43dd8448eb211c80319c"]
        return next((s for s in spans if s["kind"] == "SERVER" and s["service"] == "crm-gateway"), None)

    span = _eventually(the_request)
    assert span["name"] == "GET /api/v1/deals" and span["parent_id"] == "b7ad6b7169203331"


def test_a_web_page_continues_into_the_gateway_with_its_request_id(traced: Traced) -> None:
    web = requests.Session()
    form = web.get(f"{traced.web}/signin", timeout=10)
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    signed_in = web.post(
        f"{traced.web}/signin",
        data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        headers={"X-Request-Id": "trace-web-1"},
        timeout=10,
        allow_redirects=False,
    )
    assert signed_in.status_code in (302, 303), signed_in.text

    def the_trace() -> list[dict[str, Any]] | None:
        spans = traced.spans()
        page = [
            s for s in spans if s["service"] == "crm-web" and s["attributes"].get("crm.request_id") == "trace-web-1"
        ]
        if not page:
            return None
        trace = [s for s in spans if s["trace_id"] == page[0]["trace_id"]]
        return trace if any(s["service"] == "crm-gateway" for s in trace) else None

    trace = _eventually(the_trace)
    page = _one(trace, service="crm-web", kind="SERVER")
    assert page["name"] == "POST /signin"
    login_call = _one(trace, service="crm-web", kind="CLIENT", name="gateway POST")
    assert login_call["parent_id"] == page["span_id"]
    login = _one(trace, service="crm-gateway", name="POST /api/v1/auth/login")
    assert login["parent_id"] == login_call["span_id"]
    # The web passed its request id on: the gateway's span and access line carry the same one.
    assert login["attributes"]["crm.request_id"] == "trace-web-1"
    web_line = _eventually(
        lambda: next(
            (
                x
                for x in traced.log_lines("web")
                if x.get("logger") == "crm.access" and x["request_id"] == "trace-web-1"
            ),
            None,
        )
    )
    assert web_line["trace_id"] == page["trace_id"] and web_line["status"] == signed_in.status_code
