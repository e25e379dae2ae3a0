"""Fixtures of the deals service's integration tests: a nats-server of the test's own (the deals
service's durable consumers would otherwise pick up other tests' events), the contacts service it
checks clients and contacts with, the deals service (with a clock the test can set), and helpers
to make clients and contacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.adapters.tables import deal_stage_history, deals
from crm_deals.bootstrap import build_spec
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import client_requests, outbox_events


@dataclass
class Clock:
    """A clock the test moves by hand (the deals service reads it for every change)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class DealsWorld:
    nats_url: str
    contacts: ServiceRuntime
    deals: ServiceRuntime
    clock: Clock
    contacts_stub: contacts_pb2_grpc.ContactsServiceStub
    stub: deals_pb2_grpc.DealsServiceStub
    database_url: str

    def client(self, name: str = "Industrias Ñandú", **kw: object) -> contacts_pb2.Client:
        kw.setdefault("owner_id", OWNER)
        req = contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name=name, **kw), force_duplicate=True)
        return self.contacts_stub.CreateClient(req, timeout=5).client

    def contact(self, client_id: str, first_name: str = "Lucía") -> contacts_pb2.Contact:
        req = contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(client_id=client_id, first_name=first_name, owner_id=OWNER)
        )
        return self.contacts_stub.CreateContact(req, timeout=5).contact

    def default_pipeline(self) -> deals_pb2.Pipeline:
        found = [
            p for p in self.stub.ListPipelines(deals_pb2.ListPipelinesRequest(), timeout=5).pipelines if p.is_default
        ]
        assert len(found) == 1
        return found[0]

    def create(self, client_id: str, title: str = "Licencias 2026", **kw: object) -> deals_pb2.Deal:
        kw.setdefault("owner_id", OWNER)
        kw.setdefault("amount", {"amount": "1500000", "currency_code": "COP"})
        req = deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(title=title, client_id=client_id, **kw))
        return self.stub.CreateDeal(req, timeout=5).deal

    def rows(self) -> tuple[int, int, int, int]:
        """(deals, stage history entries, outbox events, remembered requests)."""
        assert self.deals.db is not None
        with self.deals.db.read() as s:
            return tuple(  # type: ignore[return-value]
                int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in (deals, deal_stage_history, outbox_events, client_requests)
            )


OWNER = "0192d6e0-0000-7000-8000-0000000000a1"
OTHER_OWNER = "0192d6e0-0000-7000-8000-0000000000b2"


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def world(
    start_service: Callable[..., ServiceRuntime],
    database_url: str,
    own_nats: NatsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> DealsWorld:
    clock = Clock()
    contacts = start_service(CONTACTS, f"sqlite:///{tmp_path / 'contacts.db'}", own_nats.url)
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts.grpc_port}")
    deals_rt = start_service(build_spec(clock), database_url, own_nats.url)
    return DealsWorld(
        nats_url=own_nats.url,
        contacts=contacts,
        deals=deals_rt,
        clock=clock,
        contacts_stub=contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(f"127.0.0.1:{contacts.grpc_port}")),
        stub=deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(f"127.0.0.1:{deals_rt.grpc_port}")),
        database_url=database_url,
    )
