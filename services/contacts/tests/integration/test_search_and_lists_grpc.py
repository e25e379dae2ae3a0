"""Text search and list filters over real gRPC, on both backends: clients found by a fragment of
their name, legal name, e-mail or tax id (accents kept, case ignored), together with the other
filters and across pages, through each of the search's three ways (a scan of the first rows, the
trigram index, a scan to the end: adapters/search.py), with total counts; the search indexes kept
in step with changes; the new client and prospect filters; client duplicates by phone; archived
prospects."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import inspect, text

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters import repository, search
from crm_contacts.adapters.tables import clients
from crm_contacts.bootstrap import SPEC
from crm_contacts.domain.clients import Client, ClientKind
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import wait_for_event

Stub = contacts_pb2_grpc.ContactsServiceStub
CL = contacts_pb2.Client
P = contacts_pb2.Prospect
MISSING = "0190f0e0-0000-7000-8000-000000000000"


@pytest.fixture
def service(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(service: ServiceRuntime) -> Stub:
    return Stub(grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}"))


@pytest.fixture(params=["first_rows", "index", "probe", "scan"])
def search_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Makes every search of the test take one way (adapters/search.py): found among the first rows
    (the default with this few rows); or through the index: on SQLite the walk in rowid order
    (every way below), on PostgreSQL every match read and sorted ("index"), the page read from the
    probe's ids ("probe"), or a scan in list order after a probe found "too many" ("scan")."""
    if request.param != "first_rows":
        monkeypatch.setattr(search, "PREFIX_ROWS", 1)
    if request.param in ("probe", "scan"):
        monkeypatch.setattr(search, "SPREAD_MIN", 0)
    if request.param == "scan":
        monkeypatch.setattr(search, "CANDIDATES_MAX", 0)
    yield request.param


def _client(stub: Stub, name: str, owner_id: str = "u1", **kw: object) -> CL:
    return stub.CreateClient(
        contacts_pb2.CreateClientRequest(client=CL(name=name, owner_id=owner_id, **kw)), timeout=5
    ).client


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _clients(stub: Stub, page_size: int = 2, **kw: object) -> list[str]:
    """Ids of every page of the client list, read `page_size` at a time."""
    seen: list[str] = []
    token = ""
    while True:
        req = contacts_pb2.ListClientsRequest(page_size=page_size, page_token=token, **kw)
        page = stub.ListClients(req, timeout=5)
        seen += [c.id for c in page.clients]
        token = page.next_page_token
        if not token:
            return seen


def _total(stub: Stub, **kw: object) -> int:
    req = contacts_pb2.ListClientsRequest(page_size=1, include_total_size=True, **kw)
    return stub.ListClients(req, timeout=5).total_size


def _prospects(stub: Stub, **kw: object) -> list[str]:
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListProspects(contacts_pb2.ListProspectsRequest(page_size=2, page_token=token, **kw), timeout=5)
        seen += [p.id for p in page.prospects]
        token = page.next_page_token
        if not token:
            return seen


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def test_clients_are_found_by_name_legal_name_email_and_tax_id_fragments(
    service: ServiceRuntime, stub: Stub, search_way: str
) -> None:
    def tax(value: str) -> contacts_pb2.TaxId:
        return contacts_pb2.TaxId(country_code="CO", value=value)

    made = [
        _client(
            stub,
            "Distribuidora Peña",
            legal_name="Comercial Andina S.A.S.",
            email="compras@dpz.example",
            tax_id=tax("900.123.456-8"),
        ),
        _client(
            stub,
            "Ferretería Sol",
            "u2",
            email="ventas@sol.example",
            tax_id=tax("800.555.111-3"),
            address=contacts_pb2.Address(city="Cali"),
        ),
        _client(
            stub, "Peñalosa Hermanos", "u2", email="info@hermanos.example", address=contacts_pb2.Address(city="Cali")
        ),
        _client(stub, "Panadería Luna", email="pan_luna@correo.example"),
        _client(stub, "PEÑA & CÍA", "u3", email="x@pcia.example"),
    ]
    ids = [c.id for c in made]
    assert _clients(stub, query="peña") == [ids[0], ids[2], ids[4]]
    assert _clients(stub, query="PEÑA") == [ids[0], ids[2], ids[4]]
    assert _clients(stub, query="pena") == []  # accents are kept
    assert _clients(stub, query="andina s.a") == [ids[0]]  # legal name
    assert _clients(stub, query="@sol.exa") == [ids[1]]  # e-mail
    assert _clients(stub, query="900.123") == [ids[0]]  # tax id, as people write it
    assert _clients(stub, query="555111") == [ids[1]]  # tax id, as stored
    assert _clients(stub, query="n_l") == [ids[3]]  # "_" is a character, not a wildcard
    assert _clients(stub, query="%") == []
    assert _clients(stub, query="& cí") == [ids[4]]
    assert _clients(stub, query="zz") == [] and _clients(stub, query="zzqx") == []
    assert _clients(stub, query="a", page_size=1) == ids  # a short needle, one per page

    # With the other filters, across pages, and counted.
    assert _clients(stub, page_size=1, query="peña", owner_ids=["u1", "u2"]) == [ids[0], ids[2]]
    assert _clients(stub, page_size=1, query="e", city="Cali") == [ids[1], ids[2]]
    assert _total(stub, query="peña") == 3 and _total(stub, query="peña", owner_ids=["u3"]) == 1
    assert _total(stub, query="a") == 5 and _total(stub, query="nada") == 0
    page = stub.ListClients(contacts_pb2.ListClientsRequest(page_size=2, query="peña"), timeout=5)
    again = contacts_pb2.ListClientsRequest(page_size=2, query="sol", page_token=page.next_page_token)
    assert [v.field for v in _error(lambda: stub.ListClients(again, timeout=5)).violations] == ["page_token"]
    too_long = contacts_pb2.ListClientsRequest(query="x" * 201)
    assert [v.field for v in _error(lambda: stub.ListClients(too_long, timeout=5)).violations] == ["query"]

    # The index follows changes: a new name is found, the old one no more; a deleted client is gone.
    stub.UpdateClient(
        contacts_pb2.UpdateClientRequest(
            client=CL(id=ids[3], name="Panadería Estrella"), update_mask=FieldMask(paths=["name"])
        ),
        timeout=5,
    )
    assert _clients(stub, query="estrella") == [ids[3]] and _clients(stub, query="panadería luna") == []
    stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=ids[4]), timeout=5)
    assert _clients(stub, query="peña") == [ids[0], ids[2]]
    stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=ids[2]), timeout=5)
    assert _clients(stub, query="peña") == [ids[0]]
    assert _clients(stub, query="peña", include_archived=True) == [ids[0], ids[2]]


def test_a_client_stored_out_of_id_order_is_found_in_its_place(
    service: ServiceRuntime, stub: Stub, search_way: str
) -> None:
    """An id made before a row with a greater id was stored (an import's, beside a create) is
    listed in id order all the same (SQLite reads matches in insertion order otherwise)."""
    first, last = _client(stub, "Sol Uno"), _client(stub, "Sol Tres")
    late_id = str(uuid.UUID(int=uuid.UUID(first.id).int + 1))  # right after the first, stored last
    assert first.id < late_id < last.id
    now = datetime.now(UTC)
    late = Client(id=late_id, kind=ClientKind.COMPANY, name="Sol Dos", owner_id="u1", created_at=now, updated_at=now)
    assert service.db is not None
    with service.db.uow() as uow:
        repository.add_client(uow.session, late)
        uow.commit()
    for page_size in (1, 2, 3):
        assert _clients(stub, page_size=page_size, query="sol ") == [first.id, late_id, last.id]
    assert _total(stub, query="sol ") == 3
    stub.DeleteClient(contacts_pb2.DeleteClientRequest(id=late_id), timeout=5)
    assert _clients(stub, query="sol ") == [first.id, last.id]


def test_the_search_indexes_exist_and_are_used(service: ServiceRuntime, stub: Stub) -> None:
    assert service.db is not None
    engine = service.db.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            tables = set(inspect(conn).get_table_names())
            searched = ("clients", "contacts", "prospects")
            assert {f"{t}_search{late}" for t in searched for late in ("", "_late")} <= tables
            triggers = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))}
            assert {f"{t}_search_late_{op}" for t in searched for op in ("insert", "delete")} <= triggers
            assert {
                f"{t}_search_{op}"
                for t in ("clients", "contacts", "prospects")
                for op in ("insert", "update", "delete")
            } <= triggers
        else:
            # The probe's query, as the service runs it, is answered by the trigram index.
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            conn.execute(text("SET LOCAL enable_indexscan = off"))
            probe = search.pg_probe(clients, ["peña s.a"]).compile(engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {probe}")))
            assert "ix_clients_search_trgm" in plan, plan
            # search_key, which the index is built on, is kept by the server.
            _client(stub, "Peña S.A.", email="compras@pena.example")
            keys = conn.execute(text("SELECT search_key FROM clients")).scalars().all()
            assert keys == ["peñaqsqaqqcomprasqpenaqexample"]


def test_client_filters_and_duplicate_phones(service: ServiceRuntime, stub: Stub) -> None:
    person = contacts_pb2.CLIENT_KIND_PERSON
    a = _client(stub, "Uno", industry="retail", source="feria", phones=["+57 300 123 4567"])
    b = _client(stub, "Dos", industry="retail", kind=person)
    c = _client(stub, "Tres", industry="tech", source="feria")
    assert _clients(stub, industry="retail") == [a.id, b.id]
    assert _clients(stub, source="feria") == [a.id, c.id]
    assert _clients(stub, kind=person) == [b.id]
    assert _clients(stub, industry="retail", source="feria") == [a.id]
    since = b.create_time.ToDatetime(tzinfo=UTC)
    assert _clients(stub, created_after=_ts(since)) == [b.id, c.id]
    assert _clients(stub, created_before=_ts(since)) == [a.id]
    assert _clients(stub, created_after=_ts(datetime.now(UTC) + timedelta(hours=1))) == []
    assert _total(stub, industry="retail") == 2
    bad = contacts_pb2.ListClientsRequest(kind=9)
    assert [v.field for v in _error(lambda: stub.ListClients(bad, timeout=5)).violations] == ["kind"]

    # The same phone (normalised) is a duplicate, unless forced; on update too.
    local = contacts_pb2.Address(country_code="CO")
    info = _error(lambda: _client(stub, "Cuatro", phones=["300 123 4567"], address=local))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.metadata == {"existing_id": a.id, "field": "phones"}
    req = contacts_pb2.UpdateClientRequest(
        client=CL(id=c.id, phones=["+573001234567"]), update_mask=FieldMask(paths=["phones"])
    )
    info = _error(lambda: stub.UpdateClient(req, timeout=5))
    assert info.metadata["existing_id"] == a.id
    forced = stub.CreateClient(
        contacts_pb2.CreateClientRequest(
            client=CL(name="Cinco", owner_id="u1", phones=["+573001234567"]), force_duplicate=True
        ),
        timeout=5,
    ).client
    assert list(forced.phones) == ["+573001234567"]
    # A phone freed by an update is no duplicate any more.
    stub.UpdateClient(
        contacts_pb2.UpdateClientRequest(client=CL(id=a.id), update_mask=FieldMask(paths=["phones"])), timeout=5
    )
    stub.UpdateClient(
        contacts_pb2.UpdateClientRequest(client=CL(id=forced.id), update_mask=FieldMask(paths=["phones"])), timeout=5
    )
    assert list(_client(stub, "Seis", phones=["+573001234567"]).phones) == ["+573001234567"]


def test_archived_prospects_and_the_new_prospect_filters(
    service: ServiceRuntime, stub: Stub, nats_server: NatsServer, search_way: str
) -> None:
    def create(**kw: object) -> P:
        kw.setdefault("owner_id", "u1")
        return stub.CreateProspect(contacts_pb2.CreateProspectRequest(prospect=P(**kw)), timeout=5).prospect

    made = [
        create(
            company_name="Sol de Cali", industry="retail", address=contacts_pb2.Address(city="Cali", country_code="co")
        ),
        create(company_name="Luna", industry="tech", address=contacts_pb2.Address(city="Lima", country_code="PE")),
        create(company_name="Solar", industry="retail", address=contacts_pb2.Address(city="Cali", country_code="CO")),
        create(company_name="Estrella", first_name="Ana", last_name="Peña"),
    ]
    ids = [p.id for p in made]
    archived = stub.ArchiveProspect(contacts_pb2.ArchiveProspectRequest(id=ids[2]), timeout=5).prospect
    assert archived.archived and archived.version == 2
    assert stub.ArchiveProspect(contacts_pb2.ArchiveProspectRequest(id=ids[2]), timeout=5).prospect == archived
    event = wait_for_event(nats_server.url, events_pb2.ProspectArchived, lambda e: e.prospect.id == ids[2])
    assert event.prospect == archived
    missing = contacts_pb2.ArchiveProspectRequest(id=MISSING)
    assert _error(lambda: stub.ArchiveProspect(missing, timeout=5)).code == grpc.StatusCode.NOT_FOUND

    assert _prospects(stub) == [ids[0], ids[1], ids[3]]
    assert _prospects(stub, include_archived=True) == ids
    assert _prospects(stub, city="Cali", include_archived=True) == [ids[0], ids[2]]
    assert _prospects(stub, country_code="pe") == [ids[1]]
    assert _prospects(stub, industry="retail") == [ids[0]]
    assert _prospects(stub, query="sol") == [ids[0]]
    assert _prospects(stub, query="sol", include_archived=True) == [ids[0], ids[2]]
    assert _prospects(stub, query="ana peña") == [ids[3]]
    since = made[1].create_time.ToDatetime(tzinfo=UTC)
    assert _prospects(stub, created_after=_ts(since)) == [ids[1], ids[3]]
    assert _prospects(stub, created_before=_ts(since), include_archived=True) == [ids[0]]
    page = stub.ListProspects(
        contacts_pb2.ListProspectsRequest(page_size=1, query="a", include_total_size=True), timeout=5
    )
    assert page.total_size == 3 and len(page.prospects) == 1
