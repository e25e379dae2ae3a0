"""Mailings through Mailchimp, against a local HTTP server implementing the used part of the
Marketing API v3 (batch member upsert with per-member errors, segments, campaigns, content, the
send action, reports) that answers the first batch with 429 and Retry-After: the retry honours the
wait, members go in batches of at most 500 (never one request per member), a refused address is
recorded on its member, the campaign is sent once, and the report comes back into the members."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.contacts.v1 import contacts_pb2
from crm_campaigns.adapters.mail import MailchimpClient, SmtpSender
from crm_campaigns.service_layer.mailing import Providers

from .conftest import OWNER, World, make_world, smtp_settings, wait_until

LIST_ID = "aud123"


class FakeMailchimp:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.members: dict[str, dict[str, Any]] = {}
        self.segments: dict[int, set[str]] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.rate_limit_once = True
        self.lock = threading.Lock()

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append((method, path, body))
            if method == "POST" and path == f"/lists/{LIST_ID}":
                if self.rate_limit_once:
                    self.rate_limit_once = False
                    return 429, {"title": "Too Many Requests", "detail": "slow down"}, {"Retry-After": "7"}
                assert len(body["members"]) <= 500
                errors, new = [], []
                for m in body["members"]:
                    email = m["email_address"]
                    if email.startswith("rechazado"):
                        errors.append(
                            {
                                "email_address": email,
                                "error": f"{email} looks fake or invalid",
                                "error_code": "ERROR_GENERIC",
                            }
                        )
                    else:
                        self.members[email] = m
                        new.append({"email_address": email})
                return (
                    200,
                    {"new_members": new, "updated_members": [], "errors": errors, "error_count": len(errors)},
                    {},
                )
            if method == "POST" and path == f"/lists/{LIST_ID}/segments":
                seg = len(self.segments) + 1
                self.segments[seg] = set()
                return 200, {"id": seg, "name": body["name"]}, {}
            m = re.fullmatch(rf"/lists/{LIST_ID}/segments/(\d+)", path)
            if method == "POST" and m:
                self.segments[int(m.group(1))] |= set(body["members_to_add"])
                return 200, {"total_added": len(body["members_to_add"])}, {}
            if method == "POST" and path == "/campaigns":
                cid = f"mc{len(self.campaigns) + 1}"
                self.campaigns[cid] = {"status": "save", "body": body, "content": None, "sends": 0}
                return 200, {"id": cid, "status": "save"}, {}
            m = re.fullmatch(r"/campaigns/(\w+)(/content|/actions/send)?", path)
            if m:
                camp = self.campaigns[m.group(1)]
                if m.group(2) == "/content":
                    camp["content"] = body
                    return 200, {}, {}
                if m.group(2) == "/actions/send":
                    camp["sends"] += 1
                    camp["status"] = "sent"
                    return 204, None, {}
                return 200, {"id": m.group(1), "status": camp["status"]}, {}
            m = re.fullmatch(r"/reports/(\w+)/email-activity\?count=1000&offset=(\d+)", path)
            if m:
                emails = sorted(self.segments[1])
                activity = [
                    {"email_address": e, "activity": [{"action": "open", "timestamp": "2026-03-02T10:00:00+00:00"}]}
                    for e in emails[:3]
                ]
                return 200, {"emails": activity if m.group(2) == "0" else [], "total_items": len(activity)}, {}
            if re.fullmatch(r"/reports/(\w+)/unsubscribed\?count=1000", path):
                return 200, {"unsubscribes": [{"email_address": sorted(self.segments[1])[3]}]}, {}
            return 404, {"title": "Resource Not Found"}, {}


@pytest.fixture
def mailchimp() -> Iterator[tuple[FakeMailchimp, str]]:
    fake = FakeMailchimp()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            assert self.headers["Authorization"].startswith("Basic ")
            status, answer, headers = fake.handle(self.command, self.path.removeprefix("/3.0"), body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}/3.0"
    server.shutdown()
    server.server_close()


def test_mailing_through_mailchimp(
    start_service: Any,
    database_url: str,
    own_nats: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: Any,
    mailchimp: Any,
) -> None:
    fake, url = mailchimp
    waits: list[float] = []
    settings = smtp_settings(
        smtp_server[1], mailchimp_base_url=url, mailchimp_api_key="key-us1", mailchimp_list_id=LIST_ID
    )
    config = settings.mailchimp()
    assert config is not None
    providers = Providers(
        smtp=lambda: SmtpSender(settings.smtp()), mailchimp=lambda: MailchimpClient(config, sleep=waits.append)
    )
    w: World = make_world(
        start_service, database_url, own_nats, tmp_path, monkeypatch, smtp_server, settings, providers
    )
    # 520 clients: more than one batch of 500; two of them with addresses Mailchimp refuses.
    for i in range(520):
        email = f"{'rechazado' if i in (7, 300) else 'cliente'}{i:03d}@example.com"
        w.people.CreateClient(
            contacts_pb2.CreateClientRequest(
                client=contacts_pb2.Client(name=f"Cliente {i:03d}", email=email, owner_id=OWNER, segment_tags=["mc"]),
                force_duplicate=True,
            ),
            timeout=5,
        )
    c = w.campaign(
        "Boletín Mailchimp",
        target={"kind": pb.TARGET_KIND_CLIENTS, "segment_tags": ["mc"]},
        mailing={
            "subject": "Hola {{ client_name }}",
            "html_body": "<p>Hola {{ first_name }} de {{ client_name }}</p><a href='{{ unsubscribe_url }}'>baja</a>",
            "text_body": "Hola {{ first_name }}",
            "provider": pb.MAIL_PROVIDER_MAILCHIMP,
            "from_name": "Ventas",
            "from_email": "ventas@example.com",
        },
    )
    assert w.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=30).member_count == 520
    assert w.stub.SendMailing(pb.SendMailingRequest(campaign_id=c.id), timeout=5).queued_count == 520

    def done() -> Any:
        got = w.members(c.id)
        return got if all(m.send_state in ("sent", "failed") for m in got) else None

    got = wait_until(done, timeout=60, what="the Mailchimp mailing sent")
    failed = {m.email: m.send_error for m in got if m.send_state == "failed"}
    assert set(failed) == {"rechazado007@example.com", "rechazado300@example.com"}
    assert "looks fake or invalid" in failed["rechazado007@example.com"]
    assert sum(m.status == pb.MEMBER_STATUS_SENT for m in got) == 518

    batches = [r for r in fake.requests if r[0] == "POST" and r[1] == f"/lists/{LIST_ID}"]
    assert [len(b[2]["members"]) for b in batches] == [500, 500, 20]  # the first one answered 429, then retried
    assert waits == [7.0]
    assert (
        len(fake.members) == 518 and fake.members["cliente001@example.com"]["merge_fields"]["COMPANY"] == "Cliente 001"
    )
    assert len(fake.segments[1]) == 518
    assert len(fake.requests) < 20  # never one request per member
    (camp,) = fake.campaigns.values()
    assert camp["sends"] == 1 and camp["body"]["recipients"]["segment_opts"]["saved_segment_id"] == 1
    assert camp["body"]["settings"]["subject_line"] == "Hola *|COMPANY|*"
    assert "*|FNAME|*" in camp["content"]["html"] and "*|UNSUB|*" in camp["content"]["html"]

    # A second send sends nothing; the report comes back into the members.
    assert w.stub.SendMailing(pb.SendMailingRequest(campaign_id=c.id), timeout=5).queued_count == 0
    recorded = w.stub.RefreshMailReport(pb.RefreshMailReportRequest(campaign_id=c.id), timeout=10).recorded_count
    assert recorded == 4
    assert w.stub.RefreshMailReport(pb.RefreshMailReportRequest(campaign_id=c.id), timeout=10).recorded_count == 0
    results = w.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
    assert (results.mails_sent, results.opens, results.unsubscribes) == (518, 3, 1)
    assert camp["sends"] == 1
