"""Prospects over real gRPC, with a real database and nats-server: create (normalised, idempotent,
duplicates refused unless forced), get, list with every filter and across pages, updates through
the status machine, delete, and the events each change publishes. Every refused call is shown
to write nothing: no prospect row, no phone row, no outbox row."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, update

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters.tables import prospect_phones, prospects
from crm_contacts.bootstrap import SPEC
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import client_requests, outbox_events
from crm_platform.testing import wait_for_event

Stub = contacts_pb2_grpc.ContactsServiceStub
P = contacts_pb2.Prospect
CAMPAIGN = "0190f0e0-0000-7000-8000-00000000c001"
MISSING = "0190f0e0-0000-7000-8000-000000000000"


@pytest.fixture
def contacts(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(contacts: ServiceRuntime) -> Stub:
    return Stub(grpc.insecure_channel(f"127.0.0.1:{contacts.grpc_port}"))


def _rows(rt: ServiceRuntime) -> tuple[int, int, int, int]:
    """(prospects, phones, outbox events, remembered requests): what a refused call must not add to."""
    assert rt.db is not None
    with rt.db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (prospects, prospect_phones, outbox_events, client_requests)
        )


def _create(stub: Stub, owner_id: str = "u1", request_id: str = "", force: bool = False, **kw: object) -> P:
    kw.setdefault("company_name", "Acme")
    req = contacts_pb2.CreateProspectRequest(
        prospect=P(owner_id=owner_id, **kw), request_id=request_id, force_duplicate=force
    )
    return stub.CreateProspect(req, timeout=5).prospect


def _get(stub: Stub, prospect_id: str) -> P:
    return stub.GetProspect(contacts_pb2.GetProspectRequest(id=prospect_id), timeout=5).prospect


def _update(stub: Stub, prospect: P, paths: list[str], version: int = 0) -> P:
    req = contacts_pb2.UpdateProspectRequest(
        prospect=prospect, update_mask=FieldMask(paths=paths), expected_version=version
    )
    return stub.UpdateProspect(req, timeout=5).prospect


def _status(stub: Stub, prospect_id: str, status: int, reason: str = "") -> P:
    paths = ["status", "disqualified_reason"] if reason else ["status"]
    return _update(stub, P(id=prospect_id, status=status, disqualified_reason=reason), paths)


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _list(stub: Stub, **kw: object) -> list[str]:
    """Ids of every page of the list, read two at a time."""
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListProspects(contacts_pb2.ListProspectsRequest(page_size=2, page_token=token, **kw), timeout=5)
        seen += [p.id for p in page.prospects]
        token = page.next_page_token
        if not token:
            return seen


def test_create_normalises_starts_new_and_publishes(
    contacts: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    made = _create(
        stub,
        company_name=" Café Ñandú ",
        first_name="Ana",
        email="Ana@Example.COM",
        phones=["300 123 4567"],
        address=contacts_pb2.Address(city="Medellín", country_code="co"),
        source=contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR,
        source_campaign_id=CAMPAIGN,
    )
    assert made.id and made.version == 1 and made.status == contacts_pb2.PROSPECT_STATUS_NEW
    assert (made.company_name, made.email, list(made.phones)) == ("Café Ñandú", "ana@example.com", ["+573001234567"])
    assert made.address.country_code == "CO" and made.create_time.seconds > 0
    assert _get(stub, made.id) == made

    event = wait_for_event(nats_server.url, events_pb2.ProspectCreated, lambda e: e.prospect.id == made.id)
    assert event.prospect == made and event.meta.producer == "contacts"


def test_bad_input_is_refused_naming_the_field_and_writes_nothing(contacts: ServiceRuntime, stub: Stub) -> None:
    before = _rows(contacts)
    info = _error(lambda: _create(stub, owner_id="", company_name="", email="nope", phones=["12"], request_id="r-1"))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in info.violations} == {"company_name", "owner_id", "email", "phones[0]"}
    info = _error(lambda: _create(stub, status=contacts_pb2.PROSPECT_STATUS_QUALIFIED))
    assert [v.field for v in info.violations] == ["status"]
    info = _error(lambda: _create(stub, source=99))
    assert [v.field for v in info.violations] == ["source"]
    assert _rows(contacts) == before

    info = _error(lambda: _get(stub, MISSING))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "prospect_not_found"
    assert _error(lambda: _get(stub, "not-an-id")).code == grpc.StatusCode.NOT_FOUND


def test_a_retried_create_with_the_same_request_id_creates_one_prospect(contacts: ServiceRuntime, stub: Stub) -> None:
    a = _create(stub, request_id="req-1", email="a@example.com")
    b = _create(stub, request_id="req-1", email="a@example.com")
    assert a == b and _rows(contacts)[0] == 1


def test_the_same_email_or_phone_is_a_duplicate_unless_forced(contacts: ServiceRuntime, stub: Stub) -> None:
    first = _create(stub, email="lead@example.com", phones=["+57 300 123 4567", "+57 301 000 0000"])
    before = _rows(contacts)
    info = _error(lambda: _create(stub, company_name="Otra", email="LEAD@example.com"))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.reason == "duplicate_prospect"
    assert info.metadata == {"existing_id": first.id, "field": "email"}
    info = _error(
        lambda: _create(
            stub, company_name="Otra", phones=["3010000000"], address=contacts_pb2.Address(country_code="CO")
        )
    )
    assert info.metadata == {"existing_id": first.id, "field": "phones"}
    assert _rows(contacts) == before

    forced = _create(stub, company_name="Otra", email="lead@example.com", force=True)
    assert forced.id != first.id and _rows(contacts)[0] == 2

    # On update too: a phone another prospect has is refused (there is no force on update).
    other = _create(stub, company_name="Tercera", phones=["+57 302 000 0000"])
    before = _rows(contacts)
    info = _error(lambda: _update(stub, P(id=other.id, phones=["+57 302 000 0000", "+57 300 123 4567"]), ["phones"]))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.metadata["existing_id"] == first.id
    assert _get(stub, other.id) == other and _rows(contacts) == before
    # The forced duplicate can still be edited without tripping over its own e-mail.
    assert _update(stub, P(id=forced.id, job_title="Gerente"), ["job_title"]).job_title == "Gerente"


def test_list_filters_and_pages(contacts: ServiceRuntime, stub: Stub) -> None:
    web = contacts_pb2.PROSPECT_SOURCE_WEB
    fair = contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR
    made = [
        _create(stub, "u1", company_name="Ferretería Sol", source=web),
        _create(stub, "u2", company_name="", first_name="Ana", last_name="Pérez", email="ana_p@correo.example"),
        _create(stub, "u3", company_name="Sol y Luna", source=fair, source_campaign_id=CAMPAIGN),
        _create(stub, "u1", company_name="Luna Nueva", source=fair),
        _create(stub, "u2", company_name="Solar SAS", email="info@solar.example", source=web),
    ]
    ids = [p.id for p in made]
    _status(stub, ids[3], contacts_pb2.PROSPECT_STATUS_CONTACTED)

    assert _list(stub) == ids
    assert _list(stub, owner_ids=["u1", "u2"]) == [ids[0], ids[1], ids[3], ids[4]]
    assert _list(stub, owner_ids=["u3"]) == [ids[2]]
    assert _list(stub, query="SOL") == [ids[0], ids[2], ids[4]]
    assert _list(stub, query="ana pérez") == [ids[1]]
    assert _list(stub, query="ana_p@") == [ids[1]]
    assert _list(stub, query="a_p") == [ids[1]]  # "_" is a character, not a wildcard
    assert _list(stub, query="%") == []
    assert _list(stub, status=contacts_pb2.PROSPECT_STATUS_CONTACTED) == [ids[3]]
    assert _list(stub, status=contacts_pb2.PROSPECT_STATUS_NEW) == [ids[0], ids[1], ids[2], ids[4]]
    assert _list(stub, source=fair) == [ids[2], ids[3]]
    assert _list(stub, source_campaign_id=CAMPAIGN) == [ids[2]]
    assert _list(stub, owner_ids=["u1", "u2"], source=web, query="sol") == [ids[0], ids[4]]

    page = stub.ListProspects(contacts_pb2.ListProspectsRequest(page_size=2, source=web), timeout=5)
    assert page.next_page_token == ""  # exactly one page: no token
    page = stub.ListProspects(contacts_pb2.ListProspectsRequest(page_size=1, source=web), timeout=5)
    other = contacts_pb2.ListProspectsRequest(page_size=1, source=fair, page_token=page.next_page_token)
    assert [v.field for v in _error(lambda: stub.ListProspects(other, timeout=5)).violations] == ["page_token"]
    bad = contacts_pb2.ListProspectsRequest(page_size=-1)
    assert [v.field for v in _error(lambda: stub.ListProspects(bad, timeout=5)).violations] == ["page_size"]


def test_the_status_machine_over_grpc(contacts: ServiceRuntime, stub: Stub, nats_server: NatsServer) -> None:
    made = _create(stub)
    before = _rows(contacts)
    info = _error(lambda: _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_QUALIFIED))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "invalid_status_transition"
    assert info.metadata == {"from": "new", "to": "qualified"}
    info = _error(lambda: _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_CONVERTED))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    info = _error(lambda: _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_DISQUALIFIED))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.violations] == ["disqualified_reason"]
    assert _get(stub, made.id) == made and _rows(contacts) == before

    contacted = _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_CONTACTED)
    qualified = _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_QUALIFIED)
    assert (contacted.version, qualified.version) == (2, 3)
    out = _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_DISQUALIFIED, reason="sin presupuesto")
    assert (out.status, out.disqualified_reason) == (contacts_pb2.PROSPECT_STATUS_DISQUALIFIED, "sin presupuesto")
    reopened = _status(stub, made.id, contacts_pb2.PROSPECT_STATUS_NEW)
    assert (reopened.status, reopened.disqualified_reason, reopened.version) == (
        contacts_pb2.PROSPECT_STATUS_NEW,
        "",
        5,
    )

    event = wait_for_event(
        nats_server.url, events_pb2.ProspectUpdated, lambda e: e.prospect.id == made.id and e.prospect.version == 5
    )
    assert event.prospect == reopened and list(event.changed_fields) == ["status", "disqualified_reason"]


def test_updates_check_the_mask_and_the_version(contacts: ServiceRuntime, stub: Stub) -> None:
    made = _create(stub, email="a@example.com")
    before = _rows(contacts)
    info = _error(lambda: _update(stub, P(id=made.id, company_name="X"), ["company_name", "converted_client_id"]))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "'converted_client_id'" in info.violations[0].description
    info = _error(lambda: _update(stub, P(id=made.id, company_name="X"), []))
    assert [v.field for v in info.violations] == ["update_mask"]
    info = _error(lambda: _update(stub, P(id=MISSING, company_name="X"), ["company_name"]))
    assert info.code == grpc.StatusCode.NOT_FOUND

    # "*" replaces every updatable field: what the draft leaves out is cleared, and required ones must be there.
    info = _error(lambda: _update(stub, P(id=made.id, company_name="Acme Dos"), ["*"]))
    assert {v.field for v in info.violations} == {"owner_id", "status"}
    draft = P(id=made.id, company_name="Acme Dos", phones=["+57 300 123 4567"], owner_id="u1", status=made.status)
    changed = _update(stub, draft, ["*"], version=1)
    assert (changed.company_name, changed.email, list(changed.phones)) == ("Acme Dos", "", ["+573001234567"])
    after_first = _rows(contacts)
    info = _error(lambda: _update(stub, P(id=made.id, company_name="Tarde"), ["company_name"], version=1))
    assert info.code == grpc.StatusCode.ABORTED and info.reason == "version_mismatch"
    assert _get(stub, made.id) == changed and _rows(contacts) == after_first
    assert after_first[2] == before[2] + 1  # one event for the one change


def test_a_converted_prospect_cannot_be_updated_or_deleted(contacts: ServiceRuntime, stub: Stub) -> None:
    made = _create(stub)
    assert contacts.db is not None
    with contacts.db.uow() as uow:  # as ConvertProspect will leave it
        uow.session.execute(update(prospects).where(prospects.c.id == made.id).values(status="converted"))
        uow.commit()
    before = _rows(contacts)
    for call in (
        lambda: _update(stub, P(id=made.id, company_name="X"), ["company_name"]),
        lambda: stub.DeleteProspect(contacts_pb2.DeleteProspectRequest(id=made.id), timeout=5),
    ):
        info = _error(call)
        assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "prospect_converted"
    assert _rows(contacts) == before and _get(stub, made.id).company_name == "Acme"


def test_delete_removes_the_prospect_and_its_phones(
    contacts: ServiceRuntime, stub: Stub, nats_server: NatsServer
) -> None:
    kept = _create(stub, phones=["+57 300 123 4567"])
    gone = _create(stub, company_name="Se va", phones=["+57 301 000 0000", "+57 302 000 0000"])
    stub.DeleteProspect(contacts_pb2.DeleteProspectRequest(id=gone.id), timeout=5)
    assert _error(lambda: _get(stub, gone.id)).code == grpc.StatusCode.NOT_FOUND
    assert _rows(contacts)[:2] == (1, 1)
    info = _error(lambda: stub.DeleteProspect(contacts_pb2.DeleteProspectRequest(id=gone.id), timeout=5))
    assert info.code == grpc.StatusCode.NOT_FOUND
    assert _list(stub) == [kept.id]
    # Its phone is free again.
    assert _create(stub, company_name="Nueva", phones=["+57 301 000 0000"]).phones == ["+573010000000"]
    event = wait_for_event(nats_server.url, events_pb2.ProspectDeleted, lambda e: e.prospect_id == gone.id)
    assert event.meta.producer == "contacts"
