"""Changing clients over real gRPC, with a real database and nats-server: update with a field mask
(validation, duplicates, optimistic concurrency), archive, delete (refused while referred to),
lists narrowed to several owners, and the events each change publishes. Every refused call is
shown to write nothing: no row changed, no outbox row."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, update

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters.tables import clients, prospects
from crm_contacts.bootstrap import SPEC
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_platform.testing import wait_for_event

Stub = contacts_pb2_grpc.ContactsServiceStub


@pytest.fixture
def contacts(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(contacts: ServiceRuntime) -> Stub:
    return Stub(grpc.insecure_channel(f"127.0.0.1:{contacts.grpc_port}"))


def _outbox(rt: ServiceRuntime) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(outbox_events)) or 0)


def _create(stub: Stub, name: str = "Acme", owner_id: str = "u1", **kw: object) -> contacts_pb2.Client:
    req = contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name=name, owner_id=owner_id, **kw))
    return stub.CreateClient(req, timeout=5).client


def _update(stub: Stub, client: contacts_pb2.Client, paths: list[str], version: int = 0) -> contacts_pb2.Client:
    req = contacts_pb2.UpdateClientRequest(client=client, update_mask=FieldMask(paths=paths), expected_version=version)
    return stub.UpdateClient(req, timeout=5).client


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def test_an_update_changes_the_named_fields_and_publishes_them(
    contacts: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    made = _create(stub, email="a@example.com", industry="retail")
    changes = contacts_pb2.Client(
        id=made.id, name=" Acme Dos ", email="NUEVO@Example.com", industry="ignored", phones=["+57 300 123 4567"]
    )
    got = _update(stub, changes, ["name", "email", "phones"], version=1)
    assert (got.name, got.email, list(got.phones), got.industry) == (
        "Acme Dos",
        "nuevo@example.com",
        ["+573001234567"],
        "retail",
    )
    assert got.version == 2 and got.update_time.ToDatetime() > made.update_time.ToDatetime()
    assert got.create_time == made.create_time
    assert stub.GetClient(contacts_pb2.GetClientRequest(id=made.id), timeout=5).client == got

    event = wait_for_event(nats_server.url, events_pb2.ClientUpdated, lambda e: e.client.id == made.id)
    assert event.client == got and list(event.changed_fields) == ["name", "email", "phones"]

    # The same values again change nothing: no new version, no event.
    before = _outbox(contacts)
    assert _update(stub, changes, ["name", "email"]) == got
    assert _outbox(contacts) == before


def test_a_stale_version_is_aborted_and_changes_nothing(contacts: ServiceRuntime, stub: Stub) -> None:
    made = _create(stub)
    _update(stub, contacts_pb2.Client(id=made.id, name="Primero"), ["name"], version=1)
    before = _outbox(contacts)
    info = _error(lambda: _update(stub, contacts_pb2.Client(id=made.id, name="Segundo"), ["name"], version=1))
    assert info.code == grpc.StatusCode.ABORTED and info.reason == "version_mismatch"
    got = stub.GetClient(contacts_pb2.GetClientRequest(id=made.id), timeout=5).client
    assert (got.name, got.version) == ("Primero", 2)
    assert _outbox(contacts) == before


def test_bad_field_paths_and_bad_values_are_refused_naming_them(contacts: ServiceRuntime, stub: Stub) -> None:
    made = _create(stub, email="a@example.com")
    before = _outbox(contacts)
    info = _error(lambda: _update(stub, contacts_pb2.Client(id=made.id, name="X"), ["name", "version", "colour"]))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    descriptions = " ".join(v.description for v in info.violations)
    assert "'version'" in descriptions and "'colour'" in descriptions and "'name'" not in descriptions

    info = _error(lambda: _update(stub, contacts_pb2.Client(id=made.id, name="", email="bad"), ["name", "email"]))
    assert {v.field for v in info.violations} == {"name", "email"}
    info = _error(lambda: _update(stub, contacts_pb2.Client(id=made.id), ["kind"]))
    assert [v.field for v in info.violations] == ["kind"]

    missing = "0190f0e0-0000-7000-8000-000000000000"
    info = _error(lambda: _update(stub, contacts_pb2.Client(id=missing, name="X"), ["name"]))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "client_not_found"

    assert stub.GetClient(contacts_pb2.GetClientRequest(id=made.id), timeout=5).client == made
    assert _outbox(contacts) == before


def test_a_duplicate_email_or_tax_id_on_update_is_refused(contacts: ServiceRuntime, stub: Stub) -> None:
    first = _create(stub, email="uno@example.com", tax_id=contacts_pb2.TaxId(country_code="CO", value="900123456-8"))
    second = _create(stub, "Otra", email="dos@example.com")
    before = _outbox(contacts)
    info = _error(lambda: _update(stub, contacts_pb2.Client(id=second.id, email="UNO@example.com"), ["email"]))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS
    assert info.metadata == {"existing_id": first.id, "field": "email"}
    tax = contacts_pb2.TaxId(country_code="co", value="900.123.456-8")
    info = _error(lambda: _update(stub, contacts_pb2.Client(id=second.id, tax_id=tax), ["tax_id"]))
    assert info.metadata["existing_id"] == first.id
    assert stub.GetClient(contacts_pb2.GetClientRequest(id=second.id), timeout=5).client == second
    assert _outbox(contacts) == before

    # Its own e-mail is no duplicate: changing another field keeps it.
    assert _update(stub, contacts_pb2.Client(id=first.id, industry="retail"), ["industry"]).industry == "retail"


def test_archive_is_idempotent_and_hides_the_client_from_lists(
    contacts: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    made = _create(stub)
    archived = stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=made.id), timeout=5).client
    assert archived.archived and archived.version == 2
    before = _outbox(contacts)
    assert stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=made.id), timeout=5).client == archived
    assert _outbox(contacts) == before

    assert [c.id for c in stub.ListClients(contacts_pb2.ListClientsRequest(), timeout=5).clients] == []
    listed = stub.ListClients(contacts_pb2.ListClientsRequest(include_archived=True), timeout=5).clients
    assert [c.id for c in listed] == [made.id]
    event = wait_for_event(nats_server.url, events_pb2.ClientArchived, lambda e: e.client.id == made.id)
    assert event.client == archived


def test_delete_removes_the_client_unless_something_refers_to_it(
    contacts: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    gone, kept = _create(stub, "Se va"), _create(stub, "Se queda")
    stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=gone.id), timeout=5)
    info = _error(lambda: stub.GetClient(contacts_pb2.GetClientRequest(id=gone.id), timeout=5))
    assert info.code == grpc.StatusCode.NOT_FOUND
    info = _error(lambda: stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=gone.id), timeout=5))
    assert info.code == grpc.StatusCode.NOT_FOUND
    event = wait_for_event(nats_server.url, events_pb2.ClientDeleted, lambda e: e.client_id == gone.id)
    assert event.meta.producer == "contacts"

    # A prospect converted into `kept` refers to it (ConvertProspect will write this column).
    prospect = stub.CreateProspect(
        contacts_pb2.CreateProspectRequest(prospect=contacts_pb2.Prospect(company_name="Lead", owner_id="u1")),
        timeout=5,
    ).prospect
    assert contacts.db is not None
    with contacts.db.uow() as uow:
        uow.session.execute(update(prospects).where(prospects.c.id == prospect.id).values(converted_client_id=kept.id))
        uow.commit()
    before = _outbox(contacts)
    info = _error(lambda: stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=kept.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "client_in_use"
    assert info.metadata["referenced_by"] == "prospects"
    with contacts.db.read() as s:
        assert s.scalar(select(func.count()).select_from(clients)) == 1
    assert _outbox(contacts) == before


def test_lists_narrowed_to_several_owners_page_with_tokens_bound_to_them(contacts: ServiceRuntime, stub: Stub) -> None:
    made = [_create(stub, f"Cliente {i}", owner_id=f"u{i % 3}") for i in range(9)]
    wanted = [c.id for c in made if c.owner_id in ("u0", "u2")]
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListClients(
            contacts_pb2.ListClientsRequest(owner_ids=["u2", "u0"], page_size=2, page_token=token), timeout=5
        )
        seen += [c.id for c in page.clients]
        token = page.next_page_token
        if not token:
            break
        last_token = token
    assert seen == wanted

    # The same owners in another order are the same filter; other owners are not.
    again = contacts_pb2.ListClientsRequest(owner_ids=["u0", "u2"], page_size=2, page_token=last_token)
    assert stub.ListClients(again, timeout=5).clients
    other = contacts_pb2.ListClientsRequest(owner_ids=["u0"], page_size=2, page_token=last_token)
    info = _error(lambda: stub.ListClients(other, timeout=5))
    assert [v.field for v in info.violations] == ["page_token"]
    info = _error(lambda: stub.ListClients(contacts_pb2.ListClientsRequest(owner_ids=["u0", ""]), timeout=5))
    assert [v.field for v in info.violations] == ["owner_ids[1]"]
