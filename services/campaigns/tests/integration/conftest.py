"""Fixtures of the campaigns service's integration tests: a nats-server of the test's own (the
campaigns service consumes the deals service's events), the real contacts and deals services it
calls over gRPC, a real SMTP server on loopback (aiosmtpd) that can be told to refuse, the
campaigns service on the database under test (SQLite, or PostgreSQL when CRM_TEST_POSTGRES_URL is
set), and helpers to make clients, contacts and campaigns."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiosmtpd.controller import Controller

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import campaigns_pb2_grpc
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2_grpc
from crm_campaigns.bootstrap import build_spec
from crm_campaigns.service_layer.mailing import Providers
from crm_campaigns.settings import CampaignsSettings
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.bootstrap import SPEC as DEALS
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime

OWNER = "0192d6e0-0000-7000-8000-0000000000a1"
REP_A = "0192d6e0-0000-7000-8000-0000000000b1"
REP_B = "0192d6e0-0000-7000-8000-0000000000b2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Polls `check` until it answers something true (bounded); returns that answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached in {timeout} s")


class Inbox:
    """An aiosmtpd handler keeping every message; `refuse_after` makes it answer 421 to DATA once
    that many messages were taken (a server that stops accepting mid-send)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_after: int | None = None
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.refuse_after is not None and len(self.messages) >= self.refuse_after:
                self.refused += 1
                return "421 4.3.2 Service not available, try again later"
            msg = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def to(self) -> list[str]:
        return [str(m["To"].addresses[0].addr_spec).lower() for m in self.messages]  # type: ignore[union-attr]

    def count(self) -> int:
        return len(self.messages)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@dataclass
class World:
    nats_url: str
    contacts: ServiceRuntime
    deals: ServiceRuntime
    campaigns: ServiceRuntime
    people: contacts_pb2_grpc.ContactsServiceStub
    deals_stub: deals_pb2_grpc.DealsServiceStub
    stub: campaigns_pb2_grpc.CampaignsServiceStub
    inbox: Inbox
    settings: CampaignsSettings
    database_url: str
    start: Callable[..., ServiceRuntime]
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, name: str, **kw: Any) -> contacts_pb2.Client:
        kw.setdefault("owner_id", OWNER)
        req = contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name=name, **kw), force_duplicate=True)
        return self.people.CreateClient(req, timeout=5).client

    def contact(self, client_id: str, first_name: str, **kw: Any) -> contacts_pb2.Contact:
        kw.setdefault("owner_id", OWNER)
        req = contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(client_id=client_id, first_name=first_name, **kw), force_duplicate=True
        )
        return self.people.CreateContact(req, timeout=5).contact

    def campaign(self, name: str = "Lanzamiento 2026", **kw: Any) -> pb.Campaign:
        kw.setdefault("owner_id", OWNER)
        kw.setdefault("type", pb.CAMPAIGN_TYPE_MAILING)
        kw.setdefault("budget", {"amount": "1000000", "currency_code": "COP"})
        return self.stub.CreateCampaign(
            pb.CreateCampaignRequest(campaign=pb.Campaign(name=name, **kw)), timeout=5
        ).campaign

    def members(self, campaign_id: str, **kw: Any) -> list[pb.Member]:
        out: list[pb.Member] = []
        token = ""
        for _ in range(1000):
            res = self.stub.ListMembers(
                pb.ListMembersRequest(campaign_id=campaign_id, page_size=500, page_token=token, **kw), timeout=5
            )
            out += list(res.members)
            token = res.next_page_token
            if not token:
                return out
        raise AssertionError("too many pages")

    def stop_campaigns(self) -> None:
        self.campaigns.stop(grace=1)

    def start_campaigns(self) -> None:
        """Starts the campaigns service again on the same database."""
        self.campaigns = self.start(build_spec(settings=self.settings, **self.extra), self.database_url, self.nats_url)
        self.stub = campaigns_pb2_grpc.CampaignsServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{self.campaigns.grpc_port}")
        )


def smtp_settings(port: int, **kw: Any) -> CampaignsSettings:
    return CampaignsSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        send_poll_seconds=0.05,
        send_batch_size=50,
        send_claim_size=3,
        smtp_connections=2,
        public_base_url="http://127.0.0.1:8080",
        unsubscribe_secret="tests-unsubscribe-secret",
        default_from_email="campanas@example.com",
        **kw,
    )


def make_world(
    start_service: Callable[..., ServiceRuntime],
    database_url: str,
    nats: NatsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: tuple[Inbox, int],
    settings: CampaignsSettings | None = None,
    providers: Providers | None = None,
) -> World:
    inbox, port = smtp
    contacts = start_service(CONTACTS, f"sqlite:///{tmp_path / 'contacts.db'}", nats.url)
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts.grpc_port}")
    deals = start_service(DEALS, f"sqlite:///{tmp_path / 'deals.db'}", nats.url)
    monkeypatch.setenv("CRM_DEALS_ADDR", f"127.0.0.1:{deals.grpc_port}")
    s = settings or smtp_settings(port)
    extra: dict[str, Any] = {"providers": providers} if providers is not None else {}
    campaigns = start_service(build_spec(settings=s, **extra), database_url, nats.url)
    return World(
        nats_url=nats.url,
        contacts=contacts,
        deals=deals,
        campaigns=campaigns,
        people=contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(f"127.0.0.1:{contacts.grpc_port}")),
        deals_stub=deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(f"127.0.0.1:{deals.grpc_port}")),
        stub=campaigns_pb2_grpc.CampaignsServiceStub(grpc.insecure_channel(f"127.0.0.1:{campaigns.grpc_port}")),
        inbox=inbox,
        settings=s,
        database_url=database_url,
        start=lambda spec, url, nats_url: start_service(spec, url, nats_url),
        extra=extra,
    )


@pytest.fixture
def world(
    start_service: Callable[..., ServiceRuntime],
    database_url: str,
    own_nats: NatsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: tuple[Inbox, int],
) -> World:
    return make_world(start_service, database_url, own_nats, tmp_path, monkeypatch, smtp_server)
