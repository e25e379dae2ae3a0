"""Contacts over real gRPC, with a real database and nats-server: create (normalised with the
client's country, idempotent, duplicates refused unless forced), get, list with every filter and
across pages, update with a field mask, the single primary contact of a client, archive, delete,
and the events each change publishes. Every refused call is shown to write nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters.tables import contact_phones, contacts
from crm_contacts.bootstrap import SPEC
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import client_requests, outbox_events
from crm_platform.testing import wait_for_event

Stub = contacts_pb2_grpc.ContactsServiceStub
C = contacts_pb2.Contact
MISSING = "0190f0e0-0000-7000-8000-000000000000"


@pytest.fixture
def contacts_service(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(contacts_service: ServiceRuntime) -> Stub:
    return Stub(grpc.insecure_channel(f"127.0.0.1:{contacts_service.grpc_port}"))


def _rows(rt: ServiceRuntime) -> tuple[int, int, int, int]:
    """(contacts, phones, outbox events, remembered requests): what a refused call must not add to."""
    assert rt.db is not None
    with rt.db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (contacts, contact_phones, outbox_events, client_requests)
        )


def _client(stub: Stub, name: str = "Acme", country: str = "CO") -> contacts_pb2.Client:
    client = contacts_pb2.Client(name=name, owner_id="u1", address=contacts_pb2.Address(country_code=country))
    return stub.CreateClient(contacts_pb2.CreateClientRequest(client=client), timeout=5).client


def _create(stub: Stub, client_id: str, request_id: str = "", force: bool = False, **kw: object) -> C:
    kw.setdefault("first_name", "Ana")
    kw.setdefault("owner_id", "u1")
    req = contacts_pb2.CreateContactRequest(contact=C(client_id=client_id, **kw), request_id=request_id)
    req.force_duplicate = force
    return stub.CreateContact(req, timeout=5).contact


def _get(stub: Stub, contact_id: str) -> C:
    return stub.GetContact(contacts_pb2.GetContactRequest(id=contact_id), timeout=5).contact


def _update(stub: Stub, contact: C, paths: list[str], version: int = 0) -> C:
    req = contacts_pb2.UpdateContactRequest(
        contact=contact, update_mask=FieldMask(paths=paths), expected_version=version
    )
    return stub.UpdateContact(req, timeout=5).contact


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _list(stub: Stub, **kw: object) -> list[str]:
    """Ids of every page of the list, read two at a time."""
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListContacts(contacts_pb2.ListContactsRequest(page_size=2, page_token=token, **kw), timeout=5)
        seen += [c.id for c in page.contacts]
        token = page.next_page_token
        if not token:
            return seen


def test_create_normalises_with_the_clients_country_and_publishes(
    contacts_service: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    client = _client(stub)
    made = _create(
        stub,
        client.id,
        first_name=" Ana ",
        last_name="Peña",
        job_title="Compras",
        email="Ana@Example.COM",
        phones=["300 123 4567"],
        decision_role=contacts_pb2.DECISION_ROLE_DECISION_MAKER,
        primary=True,
    )
    assert made.id and made.version == 1 and made.create_time.seconds > 0 and not made.archived
    assert (made.first_name, made.email, list(made.phones)) == ("Ana", "ana@example.com", ["+573001234567"])
    assert (made.decision_role, made.primary, made.client_id) == (
        contacts_pb2.DECISION_ROLE_DECISION_MAKER,
        True,
        client.id,
    )
    assert _get(stub, made.id) == made
    event = wait_for_event(nats_server.url, events_pb2.ContactCreated, lambda e: e.contact.id == made.id)
    assert event.contact == made and event.meta.producer == "contacts"


def test_bad_input_is_refused_naming_the_field_and_writes_nothing(contacts_service: ServiceRuntime, stub: Stub) -> None:
    client = _client(stub)
    archived = _client(stub, "Archivada")
    stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=archived.id), timeout=5)
    before = _rows(contacts_service)
    info = _error(lambda: _create(stub, client.id, first_name="", email="nope", phones=["12"], request_id="r-1"))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in info.violations} == {"first_name", "email", "phones[0]"}
    for client_id in (MISSING, archived.id, "not-an-id", ""):
        info = _error(lambda cid=client_id: _create(stub, cid))  # type: ignore[misc]
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in info.violations] == ["client_id"]
    info = _error(lambda: _create(stub, client.id, decision_role=99))
    assert [v.field for v in info.violations] == ["decision_role"]
    assert _rows(contacts_service) == before

    info = _error(lambda: _get(stub, MISSING))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "contact_not_found"
    assert _error(lambda: _get(stub, "not-an-id")).code == grpc.StatusCode.NOT_FOUND
    for call in (
        lambda: _update(stub, C(id=MISSING, first_name="X"), ["first_name"]),
        lambda: stub.ArchiveContact(contacts_pb2.ArchiveContactRequest(id=MISSING), timeout=5),
        lambda: stub.DeleteContact(contacts_pb2.DeleteContactRequest(id=MISSING), timeout=5),
    ):
        assert _error(call).code == grpc.StatusCode.NOT_FOUND
    assert _rows(contacts_service) == before


def test_duplicates_are_refused_unless_forced_and_a_retry_creates_one(
    contacts_service: ServiceRuntime, stub: Stub
) -> None:
    client = _client(stub)
    first = _create(stub, client.id, email="ana@example.com", phones=["+57 300 123 4567", "+57 301 000 0000"])
    before = _rows(contacts_service)
    info = _error(lambda: _create(stub, client.id, first_name="Otra", email="ANA@example.com"))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.reason == "duplicate_contact"
    assert info.metadata == {"existing_id": first.id, "field": "email"}
    info = _error(lambda: _create(stub, client.id, first_name="Otra", phones=["301 000 0000"]))
    assert info.metadata == {"existing_id": first.id, "field": "phones"}
    assert _rows(contacts_service) == before

    forced = _create(stub, client.id, first_name="Otra", email="ana@example.com", force=True)
    assert forced.id != first.id
    a = _create(stub, client.id, first_name="Luis", request_id="req-1")
    b = _create(stub, client.id, first_name="Luis", request_id="req-1")
    assert a == b and _rows(contacts_service)[0] == 3

    # On update, a phone another contact has is refused; the forced duplicate can still be edited.
    info = _error(lambda: _update(stub, C(id=a.id, phones=["+57 300 123 4567"]), ["phones"]))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.metadata["existing_id"] == first.id
    assert _update(stub, C(id=forced.id, job_title="Gerente"), ["job_title"]).job_title == "Gerente"


def test_a_client_has_at_most_one_primary_contact(
    contacts_service: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    client, other = _client(stub), _client(stub, "Otra")
    a = _create(stub, client.id, first_name="A", primary=True)
    b = _create(stub, client.id, first_name="B", primary=True)
    demoted = _get(stub, a.id)
    assert (demoted.primary, demoted.version, b.primary) == (False, 2, True)
    event = wait_for_event(nats_server.url, events_pb2.ContactUpdated, lambda e: e.contact.id == a.id)
    assert event.contact == demoted and list(event.changed_fields) == ["primary"]

    c = _create(stub, client.id, first_name="C")
    promoted = _update(stub, C(id=c.id, primary=True), ["primary"])
    assert promoted.primary and not _get(stub, b.id).primary

    # A primary contact moved to another client takes that client's primary place.
    d = _create(stub, other.id, first_name="D", primary=True)
    moved = _update(stub, C(id=c.id, client_id=other.id), ["client_id"])
    assert (moved.client_id, moved.primary, _get(stub, d.id).primary) == (other.id, True, False)
    assert contacts_service.db is not None
    with contacts_service.db.read() as s:
        primaries = s.execute(
            select(contacts.c.client_id, func.count()).where(contacts.c.is_primary).group_by(contacts.c.client_id)
        ).all()
    assert sorted(primaries) == sorted([(other.id, 1)])  # `client` has none left: c moved away


def test_updates_check_the_mask_the_version_and_the_new_client(contacts_service: ServiceRuntime, stub: Stub) -> None:
    client = _client(stub)
    archived = _client(stub, "Archivada")
    stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=archived.id), timeout=5)
    made = _create(stub, client.id, email="a@example.com")
    changed = _update(stub, C(id=made.id, last_name=" Peña ", email="B@example.com"), ["last_name", "email"], 1)
    assert (changed.last_name, changed.email, changed.version) == ("Peña", "b@example.com", 2)

    before = _rows(contacts_service)
    info = _error(lambda: _update(stub, C(id=made.id, first_name="Tarde"), ["first_name"], version=1))
    assert info.code == grpc.StatusCode.ABORTED and info.reason == "version_mismatch"
    info = _error(lambda: _update(stub, C(id=made.id, client_id=archived.id), ["client_id"]))
    assert [v.field for v in info.violations] == ["client_id"]
    info = _error(lambda: _update(stub, C(id=made.id, client_id=MISSING), ["client_id"]))
    assert [v.field for v in info.violations] == ["client_id"]
    info = _error(lambda: _update(stub, C(id=made.id), ["archived", "colour"]))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and len(info.violations) == 2
    info = _error(lambda: _update(stub, C(id=made.id, email="nope"), ["email"]))
    assert [v.field for v in info.violations] == ["email"]
    assert _get(stub, made.id) == changed and _rows(contacts_service) == before

    # The same values again change nothing and publish nothing.
    assert _update(stub, C(id=made.id, last_name="Peña"), ["last_name"]) == changed
    assert _rows(contacts_service) == before


def test_archive_hides_the_contact_and_delete_removes_it(
    contacts_service: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    client = _client(stub)
    kept = _create(stub, client.id, first_name="Queda")
    gone = _create(stub, client.id, first_name="Se va", phones=["+57 301 000 0000"])
    archived = stub.ArchiveContact(contacts_pb2.ArchiveContactRequest(id=kept.id), timeout=5).contact
    assert archived.archived and archived.version == 2
    before = _rows(contacts_service)
    assert stub.ArchiveContact(contacts_pb2.ArchiveContactRequest(id=kept.id), timeout=5).contact == archived
    assert _rows(contacts_service) == before
    event = wait_for_event(nats_server.url, events_pb2.ContactArchived, lambda e: e.contact.id == kept.id)
    assert event.contact == archived
    assert _list(stub, client_id=client.id) == [gone.id]
    assert _list(stub, client_id=client.id, include_archived=True) == [kept.id, gone.id]

    # A client with contacts (archived ones too) is not deleted: it is referred to.
    info = _error(lambda: stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=client.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.metadata["referenced_by"] == "contacts"

    stub.DeleteContact(contacts_pb2.DeleteContactRequest(id=gone.id), timeout=5)
    assert _error(lambda: _get(stub, gone.id)).code == grpc.StatusCode.NOT_FOUND
    assert _rows(contacts_service)[:2] == (1, 0)
    event = wait_for_event(nats_server.url, events_pb2.ContactDeleted, lambda e: e.contact_id == gone.id)
    assert event.client_id == client.id
    # Its phone is free again.
    assert _create(stub, client.id, first_name="Nueva", phones=["+57 301 000 0000"]).phones == ["+573010000000"]


def test_list_filters_pages_and_total(contacts_service: ServiceRuntime, stub: Stub) -> None:
    a, b = _client(stub, "Uno"), _client(stub, "Dos")
    maker = contacts_pb2.DECISION_ROLE_DECISION_MAKER
    made = [
        _create(stub, a.id, owner_id="u1", first_name="Ana", last_name="Peña", decision_role=maker),
        _create(stub, a.id, owner_id="u2", first_name="Luis", email="luis.pena@correo.example"),
        _create(stub, b.id, owner_id="u1", first_name="Marta", decision_role=maker),
        _create(stub, b.id, owner_id="u3", first_name="Pedro", last_name="Gómez"),
        _create(stub, a.id, owner_id="u1", first_name="Sofía"),
    ]
    ids = [c.id for c in made]
    assert _list(stub) == ids
    assert _list(stub, client_id=a.id) == [ids[0], ids[1], ids[4]]
    assert _list(stub, owner_ids=["u1", "u3"]) == [ids[0], ids[2], ids[3], ids[4]]
    assert _list(stub, decision_role=maker) == [ids[0], ids[2]]
    assert _list(stub, query="PEÑA") == [ids[0]]
    assert _list(stub, query="pena") == [ids[1]]  # accents are kept: "pena" is not "peña"
    assert _list(stub, query="ana peña") == [ids[0]]
    assert _list(stub, query="a", client_id=a.id, owner_ids=["u1"]) == [ids[0], ids[4]]

    after = Timestamp()
    after.FromDatetime(made[2].create_time.ToDatetime(tzinfo=UTC))
    assert _list(stub, created_after=after) == ids[2:]
    assert _list(stub, created_before=after) == ids[:2]
    future = Timestamp()
    future.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    assert _list(stub, created_after=future) == []

    page = stub.ListContacts(
        contacts_pb2.ListContactsRequest(page_size=2, client_id=a.id, include_total_size=True), timeout=5
    )
    assert (len(page.contacts), page.total_size) == (2, 3) and page.next_page_token
    last = stub.ListContacts(
        contacts_pb2.ListContactsRequest(page_size=2, client_id=a.id, page_token=page.next_page_token), timeout=5
    )
    assert [c.id for c in last.contacts] == [ids[4]] and last.total_size == 0 and not last.next_page_token
    other = contacts_pb2.ListContactsRequest(page_size=2, client_id=b.id, page_token=page.next_page_token)
    assert [v.field for v in _error(lambda: stub.ListContacts(other, timeout=5)).violations] == ["page_token"]
    bad = contacts_pb2.ListContactsRequest(decision_role=42)
    assert [v.field for v in _error(lambda: stub.ListContacts(bad, timeout=5)).violations] == ["decision_role"]


def test_batch_get_contacts_names_the_missing_ids(stub: Stub) -> None:
    client = _client(stub)
    made = [_create(stub, client.id, first_name=f"Persona {i}", phones=[f"+57300123450{i}"]) for i in range(3)]
    ids = [made[2].id, MISSING, made[0].id, "not-an-id", made[2].id]
    res = stub.BatchGetContacts(contacts_pb2.BatchGetContactsRequest(ids=ids), timeout=5)
    assert [c.id for c in res.contacts] == sorted([made[0].id, made[2].id])
    assert list(res.missing_ids) == [MISSING, "not-an-id"]
    by_id = {c.id: c for c in res.contacts}
    assert by_id[made[2].id] == made[2] and by_id[made[2].id].client_id == client.id
    with pytest.raises(grpc.RpcError) as err:
        stub.BatchGetContacts(contacts_pb2.BatchGetContactsRequest(ids=[MISSING] * 1001), timeout=5)
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "ids"
