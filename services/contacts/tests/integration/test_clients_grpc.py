"""The contacts service over real gRPC on loopback, with a real database and nats-server:
create/get/list clients, errors with their status codes and field names, idempotent retries,
and the client_created event reaching a JetStream consumer through the outbox."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters.tables import clients
from crm_contacts.bootstrap import SPEC
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import wait_for_event


@pytest.fixture
def contacts(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


def _stub(rt: ServiceRuntime) -> contacts_pb2_grpc.ContactsServiceStub:
    return contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}"))


def _count(rt: ServiceRuntime) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(clients)) or 0)


def _new(name: str = "Acme", **kw: object) -> contacts_pb2.CreateClientRequest:
    return contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name=name, owner_id="u1", **kw))


def test_create_get_and_list_clients(contacts: ServiceRuntime) -> None:
    stub = _stub(contacts)
    made = [stub.CreateClient(_new(f"Cliente {i}", email=f"c{i}@example.com"), timeout=5).client for i in range(7)]
    assert made[0].id and made[0].version == 1 and made[0].kind == contacts_pb2.CLIENT_KIND_COMPANY
    got = stub.GetClient(contacts_pb2.GetClientRequest(id=made[3].id), timeout=5).client
    assert got == made[3]

    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListClients(contacts_pb2.ListClientsRequest(page_size=3, page_token=token), timeout=5)
        seen += [c.id for c in page.clients]
        token = page.next_page_token
        if not token:
            break
    assert seen == [c.id for c in made]
    found = stub.ListClients(contacts_pb2.ListClientsRequest(query="cliente 5"), timeout=5).clients
    assert [c.id for c in found] == [made[5].id]


def test_errors_have_status_codes_name_the_field_and_change_nothing(contacts: ServiceRuntime) -> None:
    stub = _stub(contacts)
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateClient(_new("", email="bad"), timeout=5)
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in info.violations} == {"name", "email"}

    with pytest.raises(grpc.RpcError) as err:
        stub.GetClient(contacts_pb2.GetClientRequest(id="0190f0e0-0000-7000-8000-000000000000"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.RpcError) as err:
        stub.ListClients(contacts_pb2.ListClientsRequest(page_size=-1), timeout=5)
    assert decode_error(err.value).violations[0].field == "page_size"

    first = stub.CreateClient(_new(email="dup@example.com"), timeout=5).client
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateClient(_new("Other", email="DUP@example.com"), timeout=5)
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.metadata["existing_id"] == first.id
    assert _count(contacts) == 1


def test_a_retried_create_with_the_same_request_id_creates_one_client(contacts: ServiceRuntime) -> None:
    stub = _stub(contacts)
    req = _new("Retry SA")
    req.request_id = "req-123"
    a = stub.CreateClient(req, timeout=5).client
    b = stub.CreateClient(req, timeout=5).client
    assert a == b and _count(contacts) == 1


def test_client_created_reaches_a_jetstream_consumer(contacts: ServiceRuntime, nats_server: NatsServer) -> None:
    created = _stub(contacts).CreateClient(_new("Evento SA"), timeout=5).client

    event = wait_for_event(nats_server.url, events_pb2.ClientCreated, lambda e: e.client.id == created.id)
    assert event.client == created
    assert event.meta.producer == "contacts" and event.meta.occurred_at.seconds > 0


def test_batch_get_answers_many_ids_at_once_and_names_the_missing(contacts: ServiceRuntime) -> None:
    stub = _stub(contacts)
    made = [stub.CreateClient(_new(f"Lote {i}"), timeout=5).client for i in range(3)]
    unknown = "0192d6e0-0000-7000-8000-000000000000"
    ids = [made[2].id, unknown, made[0].id, "not-an-id", made[2].id]
    res = stub.BatchGetClients(contacts_pb2.BatchGetClientsRequest(ids=ids), timeout=5)
    assert [c.id for c in res.clients] == sorted([made[0].id, made[2].id])
    assert list(res.missing_ids) == [unknown, "not-an-id"]
    assert res.clients[0] == stub.GetClient(contacts_pb2.GetClientRequest(id=res.clients[0].id), timeout=5).client
    with pytest.raises(grpc.RpcError) as err:
        stub.BatchGetClients(contacts_pb2.BatchGetClientsRequest(ids=[unknown] * 1001), timeout=5)
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "ids"
