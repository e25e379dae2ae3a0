"""Converting prospects over real gRPC, with a real database and nats-server: the client and primary
contact a conversion creates, its events (prospect_converted carrying the deal to open), exactly
once (a second convert, and eight racing ones, return the first result and create nothing more),
reusing a matching client on request, and the conversions refused without writing anything."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters.tables import clients, contacts, prospects
from crm_contacts.bootstrap import SPEC
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_platform.testing import wait_for_event

Stub = contacts_pb2_grpc.ContactsServiceStub
P = contacts_pb2.Prospect
MISSING = "0190f0e0-0000-7000-8000-000000000000"


@pytest.fixture
def service(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(service: ServiceRuntime) -> Stub:
    return Stub(grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}"))


def _rows(rt: ServiceRuntime) -> tuple[int, int, int]:
    """(clients, contacts, outbox events)."""
    assert rt.db is not None
    with rt.db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0) for t in (clients, contacts, outbox_events)
        )


def _converted_events(rt: ServiceRuntime) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        stmt = (
            select(func.count()).select_from(outbox_events).where(outbox_events.c.subject.like("%prospect_converted"))
        )
        return int(s.scalar(stmt) or 0)


def _prospect(stub: Stub, **kw: object) -> P:
    kw.setdefault("company_name", "Ferretería Sol")
    kw.setdefault("first_name", "Ana")
    kw.setdefault("owner_id", "u1")
    return stub.CreateProspect(contacts_pb2.CreateProspectRequest(prospect=P(**kw)), timeout=5).prospect


def _client(stub: Stub, name: str, **kw: object) -> contacts_pb2.Client:
    req = contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name=name, owner_id="u9", **kw))
    return stub.CreateClient(req, timeout=5).client


def _convert(stub: Stub, prospect_id: str, **kw: object) -> contacts_pb2.ConvertProspectResponse:
    return stub.ConvertProspect(contacts_pb2.ConvertProspectRequest(prospect_id=prospect_id, **kw), timeout=10)


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def test_a_conversion_creates_the_client_and_its_primary_contact_once(
    service: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    prospect = _prospect(
        stub,
        last_name="Peña",
        job_title="Compras",
        email="ana@ferresol.example",
        phones=["300 123 4567"],
        tax_id=contacts_pb2.TaxId(value="900.123.456-8"),
        industry="retail",
        address=contacts_pb2.Address(city="Medellín", country_code="CO"),
        source=contacts_pb2.PROSPECT_SOURCE_WEB,
    )
    amount = types_pb2.Money(amount="1500000.50", currency_code="COP")
    done = _convert(stub, prospect.id, open_deal=True, deal_title="Ferretería 2027", deal_amount=amount)
    client, contact, converted = done.client, done.contact, done.prospect
    assert done.client_created
    assert (client.kind, client.name, client.owner_id, client.industry) == (
        contacts_pb2.CLIENT_KIND_COMPANY,
        "Ferretería Sol",
        "u1",
        "retail",
    )
    assert (client.tax_id.country_code, client.tax_id.value, client.email) == (
        "CO",
        "900123456-8",
        "ana@ferresol.example",
    )
    assert (list(client.phones), client.address.city, client.source) == (["+573001234567"], "Medellín", "web")
    assert (contact.client_id, contact.first_name, contact.last_name, contact.job_title) == (
        client.id,
        "Ana",
        "Peña",
        "Compras",
    )
    assert contact.primary and contact.email == "ana@ferresol.example"
    assert converted.status == contacts_pb2.PROSPECT_STATUS_CONVERTED and converted.version == prospect.version + 1
    assert (converted.converted_client_id, converted.converted_contact_id) == (client.id, contact.id)
    assert stub.GetClient(contacts_pb2.GetClientRequest(id=client.id), timeout=5).client == client
    assert stub.GetContact(contacts_pb2.GetContactRequest(id=contact.id), timeout=5).contact == contact

    event = wait_for_event(nats_server.url, events_pb2.ProspectConverted, lambda e: e.prospect.id == prospect.id)
    assert (event.client_id, event.contact_id, event.client_created, event.prospect) == (
        client.id,
        contact.id,
        True,
        converted,
    )
    assert (event.open_deal, event.deal_title, event.deal_amount) == (True, "Ferretería 2027", amount)
    assert (
        wait_for_event(nats_server.url, events_pb2.ClientCreated, lambda e: e.client.id == client.id).client == client
    )
    assert wait_for_event(nats_server.url, events_pb2.ContactCreated, lambda e: e.contact.id == contact.id)

    # Again: the first result, nothing more written.
    before = _rows(service)
    again = _convert(stub, prospect.id)
    assert done.converted_now and not again.converted_now
    again.converted_now = True
    assert again == done
    assert _rows(service) == before and _converted_events(service) == 1

    # What the conversion produced stays: the prospect, its contact and client are not deleted.
    for call, reason in (
        (
            lambda: stub.DeleteProspect(contacts_pb2.DeleteProspectRequest(id=prospect.id), timeout=5),
            "prospect_converted",
        ),
        (lambda: stub.DeleteContact(contacts_pb2.DeleteContactRequest(id=contact.id), timeout=5), "contact_in_use"),
        (lambda: stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=client.id), timeout=5), "client_in_use"),
    ):
        info = _error(call)
        assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == reason
    assert _rows(service) == before


def test_a_prospect_without_a_company_becomes_a_person_client(service: ServiceRuntime, stub: Stub) -> None:
    prospect = _prospect(stub, company_name="", first_name="Luis", last_name="Gómez", email="luis@gmail.com")
    done = _convert(stub, prospect.id)
    assert (done.client.kind, done.client.name, done.client.email) == (
        contacts_pb2.CLIENT_KIND_PERSON,
        "Luis Gómez",
        "luis@gmail.com",
    )
    assert (done.contact.first_name, done.contact.last_name, done.contact.primary) == ("Luis", "Gómez", True)
    # A company alone has no person to be its contact.
    company = _convert(stub, _prospect(stub, company_name="Solo Empresa", first_name="", email="").id)
    assert company.client.name == "Solo Empresa" and not company.HasField("contact")
    assert company.prospect.converted_contact_id == ""


def test_racing_converts_of_one_prospect_create_one_client(service: ServiceRuntime, stub: Stub) -> None:
    prospect = _prospect(stub, email="ana@ferresol.example")
    _prospect(stub, company_name="Otra", first_name="Otro")  # a bystander, not converted
    before = _rows(service)
    start = Barrier(8)

    def convert(_: int) -> contacts_pb2.ConvertProspectResponse:
        own = Stub(grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}"))
        start.wait()
        return _convert(own, prospect.id)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(convert, range(8)))
    assert {a.client.id for a in answers} == {answers[0].client.id}
    assert {a.contact.id for a in answers} == {answers[0].contact.id}
    assert all(a.client_created for a in answers)
    clients_now, contacts_now, _ = _rows(service)
    assert (clients_now, contacts_now) == (before[0] + 1, before[1] + 1)
    assert _converted_events(service) == 1


def test_a_matching_client_is_reused_on_request(service: ServiceRuntime, stub: Stub) -> None:
    by_tax = _client(stub, "Ferretería Sol S.A.S.", tax_id=contacts_pb2.TaxId(country_code="CO", value="900123456-8"))
    primary = stub.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(client_id=by_tax.id, first_name="Jefe", owner_id="u9", primary=True)
        ),
        timeout=5,
    ).contact
    by_domain = _client(stub, "Acme", email="ventas@acme.example")
    gmail = _client(stub, "Persona", email="alguien@gmail.com")
    archived = _client(stub, "Vieja", email="info@vieja.example")
    stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=archived.id), timeout=5)

    tax = contacts_pb2.TaxId(country_code="CO", value="900.123.456-8")
    done = _convert(stub, _prospect(stub, tax_id=tax, email="ana@otra.example").id, reuse_matching_client=True)
    assert (done.client.id, done.client_created) == (by_tax.id, False)
    assert done.client == stub.GetClient(contacts_pb2.GetClientRequest(id=by_tax.id), timeout=5).client
    # The reused client keeps its primary contact.
    assert (
        not done.contact.primary
        and stub.GetContact(contacts_pb2.GetContactRequest(id=primary.id), timeout=5).contact.primary
    )
    again = _convert(stub, done.prospect.id)
    assert (again.client.id, again.client_created) == (by_tax.id, False)

    done = _convert(stub, _prospect(stub, first_name="Eva", email="eva@ACME.example").id, reuse_matching_client=True)
    assert (done.client.id, done.client_created, done.contact.primary) == (by_domain.id, False, True)

    # Free-mail domains and archived clients are never matched; without the flag nothing is reused.
    for email in ("otra@gmail.com", "x@vieja.example"):
        done = _convert(
            stub, _prospect(stub, company_name="", first_name="X", email=email).id, reuse_matching_client=True
        )
        assert done.client_created and done.client.id not in (gmail.id, archived.id)
    done = _convert(stub, _prospect(stub, first_name="Y", email="y@acme.example").id)
    assert done.client_created and done.client.id != by_domain.id


def test_conversions_refused_write_nothing(service: ServiceRuntime, stub: Stub) -> None:
    disqualified = _prospect(stub)
    stub.UpdateProspect(
        contacts_pb2.UpdateProspectRequest(
            prospect=P(id=disqualified.id, status=contacts_pb2.PROSPECT_STATUS_DISQUALIFIED, disqualified_reason="no"),
            update_mask=FieldMask(paths=["status", "disqualified_reason"]),
        ),
        timeout=5,
    )
    archived = _prospect(stub, company_name="Archivado", first_name="Z")
    stub.ArchiveProspect(contacts_pb2.ArchiveProspectRequest(id=archived.id), timeout=5)
    open_one = _prospect(stub, company_name="Abierto", first_name="W")
    before = _rows(service)

    info = _error(lambda: _convert(stub, disqualified.id))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "prospect_disqualified"
    info = _error(lambda: _convert(stub, archived.id))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "prospect_archived"
    info = _error(lambda: _convert(stub, MISSING))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "prospect_not_found"
    info = _error(lambda: _convert(stub, ""))
    assert [v.field for v in info.violations] == ["prospect_id"]
    for amount in (
        types_pb2.Money(amount="12,5", currency_code="COP"),
        types_pb2.Money(amount="10", currency_code="PESOS"),
    ):
        info = _error(lambda a=amount: _convert(stub, open_one.id, open_deal=True, deal_amount=a))  # type: ignore[misc]
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in info.violations] == ["deal_amount"]
    info = _error(lambda: _convert(stub, open_one.id, deal_title="Sin abrir"))
    assert [v.field for v in info.violations] == ["open_deal"]

    assert _rows(service) == before
    assert (
        stub.GetProspect(contacts_pb2.GetProspectRequest(id=open_one.id), timeout=5).prospect.status
        == contacts_pb2.PROSPECT_STATUS_NEW
    )
    assert service.db is not None
    with service.db.read() as s:
        assert s.scalar(select(func.count()).select_from(prospects).where(prospects.c.status == "converted")) == 0
