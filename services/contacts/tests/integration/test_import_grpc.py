"""ImportRecords over real gRPC, with a real database and nats-server: a CSV and an XLSX of clients
holding good rows, bad rows (invalid e-mail, bad phone, missing name, an owner the caller may not
assign) and duplicates (of stored records and of earlier rows): exact counts, the exact problem
and duplicate lists, the good rows stored as the rules normalise them, one created event each in
the outbox; importing the file again adds nothing; a dry run writes nothing; prospects get the
import's source and campaign; a file refused as a whole writes nothing."""

from __future__ import annotations

import io
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.message import Message
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, events_pb2
from crm_contacts.adapters.tables import client_phones, clients, contact_phones, prospect_phones, prospects
from crm_contacts.adapters.tables import contacts as contacts_table
from crm_contacts.bootstrap import SPEC
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_platform.testing import wait_for_event

Stub = contacts_pb2_grpc.ContactsServiceStub
OWNER = "0190f0e0-0000-7000-8000-0000000000a1"
STRANGER = "0190f0e0-0000-7000-8000-0000000000a2"
CAMPAIGN = "0190f0e0-0000-7000-8000-00000000c001"
CSV = contacts_pb2.IMPORT_FORMAT_CSV
XLSX = contacts_pb2.IMPORT_FORMAT_XLSX

# A client file as a spreadsheet shows it: the header is row 1.
CLIENT_ROWS: list[list[str]] = [
    ["Nombre", "NIT", "País", "Correo electrónico", "Teléfono", "Ciudad", "Propietario", "Color favorito"],
    ["Distribuidora Peña", "800.111.222-7", "Colombia", "Compras@Pena.co", "3001234567", "Bogotá", "", "azul"],  # 2
    ["Correo malo", "", "CO", "no-es-correo", "", "", "", ""],  # 3: invalid e-mail
    ["Teléfono malo", "", "CO", "", "12", "", "", ""],  # 4: bad phone
    ["", "", "CO", "sin-nombre@x.co", "", "", "", ""],  # 5: missing name
    ["Dueño ajeno", "", "CO", "ajeno@x.co", "", "", STRANGER, ""],  # 6: owner outside the allowed ones
    ["Acme otra vez", "900123456-8", "CO", "", "", "", "", ""],  # 7: stored client's tax id
    ["Acme correo", "", "CO", "ACME@acme.co", "", "", "", ""],  # 8: stored client's e-mail
    ["Ferretería Ñ", "", "CO", "ventas@ferre.co", "601 765 4321 / 310 555 1234", "Medellín", OWNER, ""],  # 9
    ["Peña bis", "", "CO", "", "+57 300 123 4567", "", "", ""],  # 10: row 2's phone
    ["Ferre bis", "", "CO", "VENTAS@ferre.co", "", "", "", ""],  # 11: row 9's e-mail
]
CLIENT_PROBLEMS = [(1, "Color favorito"), (3, "email"), (4, "phones"), (5, "name"), (6, "owner_id")]


@pytest.fixture
def contacts(start_service: Callable[..., ServiceRuntime], database_url: str) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(contacts: ServiceRuntime) -> Stub:
    return Stub(grpc.insecure_channel(f"127.0.0.1:{contacts.grpc_port}"))


def _csv(rows: list[list[str]], delimiter: str = ";") -> bytes:
    def cell(value: str) -> str:
        return f'"{value}"' if delimiter in value or '"' in value else value

    return ("\ufeff" + "\r\n".join(delimiter.join(cell(v) for v in row) for row in rows) + "\r\n").encode()


def _xlsx(rows: list[list[str]]) -> bytes:
    """The rows in a workbook's first sheet, as a user's spreadsheet holds them: a phone or tax
    id made only of digits is a number, an empty cell is empty."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append([int(v) if v.isdigit() else (v or None) for v in row])
    workbook.create_sheet("Otra hoja").append(["not", "read"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _import(stub: Stub, content: bytes, file_format: int = CSV, **kw: object) -> contacts_pb2.ImportRecordsResponse:
    kw.setdefault("kind", contacts_pb2.IMPORT_KIND_CLIENTS)
    kw.setdefault("default_owner_id", OWNER)
    request = contacts_pb2.ImportRecordsRequest(content=content, format=file_format, **kw)  # type: ignore[arg-type]
    return stub.ImportRecords(request, timeout=30)


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _counts(rt: ServiceRuntime) -> dict[str, int]:
    """Rows of every table an import writes to."""
    assert rt.db is not None
    with rt.db.read() as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (clients, client_phones, contacts_table, contact_phones, prospects, prospect_phones, outbox_events)
        }


def _outbox_ids(rt: ServiceRuntime, event_class: type[Message]) -> list[str]:
    """Ids of the records whose events of this type are in the outbox, in staging order."""
    assert rt.db is not None
    with rt.db.read() as s:
        payloads = s.scalars(
            select(outbox_events.c.payload)
            .where(outbox_events.c.event_type == event_class.DESCRIPTOR.full_name)
            .order_by(outbox_events.c.id)
        ).all()
    events = [event_class.FromString(p) for p in payloads]
    record = {"ClientCreated": "client", "ProspectCreated": "prospect"}.get(event_class.DESCRIPTOR.name, "contact")
    return [getattr(e, record).id for e in events]


def _stored_client(stub: Stub) -> contacts_pb2.Client:
    request = contacts_pb2.CreateClientRequest(
        client=contacts_pb2.Client(
            name="Acme",
            owner_id=OWNER,
            email="acme@acme.co",
            tax_id=contacts_pb2.TaxId(country_code="CO", value="900.123.456-8"),
        )
    )
    return stub.CreateClient(request, timeout=5).client


@pytest.mark.parametrize(("file_format", "encode"), [(CSV, _csv), (XLSX, _xlsx)], ids=["csv", "xlsx"])
def test_clients_import_reports_every_row_and_stores_the_good_ones(
    contacts: ServiceRuntime,
    stub: Stub,
    nats_server: NatsServer,
    file_format: int,
    encode: Callable[[list[list[str]]], bytes],
) -> None:
    acme = _stored_client(stub)
    before = _counts(contacts)
    content = encode(CLIENT_ROWS)
    allowed = [OWNER, "0190f0e0-0000-7000-8000-0000000000a3"]

    report = _import(stub, content, file_format, allowed_owner_ids=allowed)

    assert (report.total_rows, report.created, report.duplicates, report.failed) == (10, 2, 4, 4)
    assert [(p.row, p.field) for p in report.problems] == CLIENT_PROBLEMS
    assert report.problems[0].message == "unknown column 'Color favorito': ignored"
    assert "not a user you may assign" in report.problems[4].message
    pena_id, ferre_id = report.created_ids
    assert [(d.row, d.existing_id, d.field) for d in report.duplicate_rows] == [
        (7, acme.id, "tax_id"),
        (8, acme.id, "email"),
        (10, pena_id, "phone"),
        (11, ferre_id, "email"),
    ]

    pena = stub.GetClient(contacts_pb2.GetClientRequest(id=pena_id), timeout=5).client
    assert (pena.name, pena.email, list(pena.phones)) == ("Distribuidora Peña", "compras@pena.co", ["+573001234567"])
    assert (pena.tax_id.country_code, pena.tax_id.value) == ("CO", "800111222-7")
    assert (pena.address.city, pena.address.country_code, pena.owner_id) == ("Bogotá", "CO", OWNER)
    assert pena.kind == contacts_pb2.CLIENT_KIND_COMPANY and pena.version == 1
    ferre = stub.GetClient(contacts_pb2.GetClientRequest(id=ferre_id), timeout=5).client
    assert list(ferre.phones) == ["+576017654321", "+573105551234"] and ferre.email == "ventas@ferre.co"

    after = _counts(contacts)
    assert after["clients"] == before["clients"] + 2
    assert after["client_phones"] == before["client_phones"] + 3
    assert after["outbox_events"] == before["outbox_events"] + 2
    assert _outbox_ids(contacts, events_pb2.ClientCreated) == [acme.id, pena_id, ferre_id]
    event = wait_for_event(nats_server.url, events_pb2.ClientCreated, lambda e: e.client.id == ferre_id)
    assert event.client == ferre

    again = _import(stub, content, file_format, allowed_owner_ids=allowed)
    assert (again.total_rows, again.created, again.duplicates, again.failed) == (10, 0, 6, 4)
    assert list(again.created_ids) == []
    assert [(d.row, d.existing_id, d.field) for d in again.duplicate_rows] == [
        (2, pena_id, "email"),
        (7, acme.id, "tax_id"),
        (8, acme.id, "email"),
        (9, ferre_id, "email"),
        (10, pena_id, "phone"),
        (11, ferre_id, "email"),
    ]
    assert [(p.row, p.field) for p in again.problems] == CLIENT_PROBLEMS
    assert _counts(contacts) == after


def test_a_dry_run_reports_the_same_and_writes_nothing(contacts: ServiceRuntime, stub: Stub) -> None:
    acme = _stored_client(stub)
    before = _counts(contacts)

    report = _import(stub, _csv(CLIENT_ROWS, ","), dry_run=True, allowed_owner_ids=[OWNER])

    # It counts the rows it would create (and names them), with no ids.
    assert (report.total_rows, report.created, report.duplicates, report.failed) == (10, 2, 4, 4)
    assert report.dry_run and len(report.created_rows) == 2 and list(report.created_ids) == []
    assert [(p.row, p.field) for p in report.problems] == CLIENT_PROBLEMS
    # The earlier rows got no id: a dry run names none.
    assert [(d.row, d.existing_id, d.field) for d in report.duplicate_rows] == [
        (7, acme.id, "tax_id"),
        (8, acme.id, "email"),
        (10, "", "phone"),
        (11, "", "email"),
    ]
    assert _counts(contacts) == before


def test_prospects_get_the_import_source_and_campaign(contacts: ServiceRuntime, stub: Stub) -> None:
    stored = stub.CreateProspect(
        contacts_pb2.CreateProspectRequest(
            prospect=contacts_pb2.Prospect(
                company_name="Ya estaba", owner_id=OWNER, phones=["+573001112233"], email="ya@estaba.co"
            )
        ),
        timeout=5,
    ).prospect
    rows = [
        ["Empresa", "Nombre", "Apellido", "Cargo", "Correo", "Celular", "País", "Fuente"],
        ["Café Ñandú", "Ana", "Gómez", "Compras", "ana@nandu.co", "3001234567", "CO", ""],  # 2
        ["", "", "", "", "nadie@x.co", "", "CO", ""],  # 3: no company nor name
        ["Otra", "Luis", "", "", "", "300 111 2233", "CO", ""],  # 4: stored prospect's phone
        ["Café Ñandú", "Beto", "", "", "ANA@nandu.co", "", "CO", ""],  # 5: row 2's e-mail
        ["Web SAS", "Eva", "", "", "eva@web.co", "", "CO", "Web"],  # 6
        ["Radio SAS", "Rita", "", "", "rita@radio.co", "", "CO", "radio"],  # 7: unknown source
    ]
    before = _counts(contacts)

    report = _import(
        stub,
        _csv(rows, "\t"),
        kind=contacts_pb2.IMPORT_KIND_PROSPECTS,
        default_source=contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR,
        source_campaign_id=CAMPAIGN,
    )

    assert (report.total_rows, report.created, report.duplicates, report.failed) == (6, 2, 2, 2)
    assert [(p.row, p.field) for p in report.problems] == [(3, "company_name"), (7, "source")]
    ana_id, eva_id = report.created_ids
    assert [(d.row, d.existing_id, d.field) for d in report.duplicate_rows] == [
        (4, stored.id, "phone"),
        (5, ana_id, "email"),
    ]
    ana = stub.GetProspect(contacts_pb2.GetProspectRequest(id=ana_id), timeout=5).prospect
    assert (ana.company_name, ana.first_name, ana.last_name, ana.job_title) == ("Café Ñandú", "Ana", "Gómez", "Compras")
    assert list(ana.phones) == ["+573001234567"] and ana.status == contacts_pb2.PROSPECT_STATUS_NEW
    assert (ana.source, ana.source_campaign_id) == (contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR, CAMPAIGN)
    eva = stub.GetProspect(contacts_pb2.GetProspectRequest(id=eva_id), timeout=5).prospect
    assert (eva.source, eva.source_campaign_id) == (contacts_pb2.PROSPECT_SOURCE_WEB, "")
    after = _counts(contacts)
    assert (after["prospects"], after["prospect_phones"]) == (before["prospects"] + 2, before["prospect_phones"] + 1)
    assert _outbox_ids(contacts, events_pb2.ProspectCreated) == [stored.id, ana_id, eva_id]

    plain = _import(stub, _csv([["Empresa", "Correo"], ["Sin fuente", "sin@fuente.co"]]), kind=3)
    made = stub.GetProspect(contacts_pb2.GetProspectRequest(id=plain.created_ids[0]), timeout=5).prospect
    assert made.source == contacts_pb2.PROSPECT_SOURCE_IMPORT


@pytest.mark.parametrize(
    ("content", "file_format", "expected"),
    [
        (b"", CSV, "the file is empty"),
        (b"\x00\x01\x02garbage\xff\xfe\x00", CSV, "not text"),
        (b"foo;bar\n1;2\n", CSV, "names no known column"),
        (b"nombre,correo\nAcme,a@acme.co\n", XLSX, "not an XLSX workbook"),
        (b"PK\x03\x04\x14\x00broken", XLSX, "cannot be read as XLSX"),
        (b"nombre\n" + b"Acme\n" * 200_001, CSV, "more than 200,000 data rows"),
    ],
    ids=["empty", "binary", "no-known-column", "csv-as-xlsx", "broken-xlsx", "too-many-rows"],
)
def test_a_file_refused_as_a_whole_is_invalid_argument_and_writes_nothing(
    contacts: ServiceRuntime, stub: Stub, content: bytes, file_format: int, expected: str
) -> None:
    before = _counts(contacts)
    info = _error(lambda: _import(stub, content, file_format))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.violations] == ["content"]
    assert expected in info.violations[0].description
    assert _counts(contacts) == before


def test_requests_that_cannot_apply_are_refused_naming_the_field(contacts: ServiceRuntime, stub: Stub) -> None:
    good = _csv([["Nombre", "Correo"], ["Acme", "a@acme.co"]])
    before = _counts(contacts)
    cases = [
        ({"kind": contacts_pb2.IMPORT_KIND_UNSPECIFIED}, "kind"),
        ({"default_owner_id": ""}, "default_owner_id"),
        ({"default_owner_id": STRANGER, "allowed_owner_ids": [OWNER]}, "default_owner_id"),
        ({"kind": contacts_pb2.IMPORT_KIND_PROSPECTS, "source_campaign_id": CAMPAIGN}, "source_campaign_id"),
    ]
    for kw, field in cases:
        info = _error(lambda kw=kw: _import(stub, good, **kw))  # type: ignore[misc]
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in info.violations] == [field], kw
    assert _counts(contacts) == before


def _client(stub: Stub, name: str, tax_country: str, tax_id: str, **kw: object) -> contacts_pb2.Client:
    client = contacts_pb2.Client(
        name=name, owner_id=OWNER, tax_id=contacts_pb2.TaxId(country_code=tax_country, value=tax_id), **kw
    )  # type: ignore[arg-type]
    return stub.CreateClient(contacts_pb2.CreateClientRequest(client=client), timeout=5).client


def test_contacts_name_their_client_by_tax_id_resolved_in_bulk(contacts: ServiceRuntime, stub: Stub) -> None:
    acme = _client(stub, "Acme", "CO", "900.123.456-8", address=contacts_pb2.Address(country_code="CO"))
    mexicana = _client(stub, "Mexicana", "MX", "ABC680524P73", address=contacts_pb2.Address(country_code="MX"))
    gone = _client(stub, "Cerrada", "CO", "800999888-2")
    stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=gone.id), timeout=5)
    # Countries without a tax id rule (US, ES) keep any id: two of them share this one.
    _client(stub, "Uno Estados Unidos", "US", "111")
    spain = _client(stub, "Uno España", "ES", "111")
    old = stub.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(
                client_id=acme.id, first_name="Olga", email="old@acme.co", primary=True, owner_id=OWNER
            )
        ),
        timeout=5,
    ).contact
    rows = [
        ["Nombre", "Apellido", "Cargo", "Correo", "Teléfono", "NIT", "País", "Rol", "Principal"],
        ["Ana", "Gómez", "Gerente", "ana@acme.co", "3001234567", "900.123.456-8", "", "Decisor", "sí"],  # 2
        ["Luis", "", "", "luis@acme.co", "", "900123456-8", "CO", "", "sí"],  # 3: a second primary of Acme
        ["Eva", "", "", "eva@x.co", "", "999", "", "", ""],  # 4: no such client
        ["Pía", "", "", "pia@x.co", "", "800999888-2", "CO", "", ""],  # 5: archived client
        ["Rita", "", "", "rita@x.co", "", "111", "", "", ""],  # 6: two clients have it
        ["Rita", "", "", "rita@x.co", "", "111", "España", "", ""],  # 7: the Spanish one
        ["Beto", "", "", "OLD@acme.co", "", "900123456-8", "", "", ""],  # 8: stored contact's e-mail
        ["Carla", "", "", "carla@mx.co", "55 1234 5678", "abc680524p73", "MX", "influenciador", "no"],  # 9
        ["", "", "Sin nombre", "x@acme.co", "", "900123456-8", "", "", ""],  # 10: no name
        ["Dup", "", "", "", "+57 300 123 4567", "900123456-8", "", "", ""],  # 11: row 2's phone
    ]
    before = _counts(contacts)

    report = _import(stub, _csv(rows), kind=contacts_pb2.IMPORT_KIND_CONTACTS)

    assert (report.total_rows, report.created, report.duplicates, report.failed) == (10, 3, 2, 5)
    assert [(p.row, p.field) for p in report.problems] == [
        (3, "primary"),
        (4, "client_tax_id"),
        (5, "client_tax_id"),
        (6, "client_tax_id"),
        (10, "first_name"),
    ]
    assert "2 clients have tax id '111'" in report.problems[3].message
    ana_id, rita_id, carla_id = report.created_ids
    assert [(d.row, d.existing_id, d.field) for d in report.duplicate_rows] == [
        (8, old.id, "email"),
        (11, ana_id, "phone"),
    ]

    def get(contact_id: str) -> contacts_pb2.Contact:
        return stub.GetContact(contacts_pb2.GetContactRequest(id=contact_id), timeout=5).contact

    ana, rita, carla = get(ana_id), get(rita_id), get(carla_id)
    assert (ana.client_id, ana.first_name, ana.last_name, ana.job_title) == (acme.id, "Ana", "Gómez", "Gerente")
    assert list(ana.phones) == ["+573001234567"] and ana.primary
    assert ana.decision_role == contacts_pb2.DECISION_ROLE_DECISION_MAKER
    assert rita.client_id == spain.id and not rita.primary
    # Carla's phone is read as a number of her client's country (Mexico).
    assert (carla.client_id, list(carla.phones)) == (mexicana.id, ["+525512345678"])
    assert carla.decision_role == contacts_pb2.DECISION_ROLE_INFLUENCER
    # Ana took the place of Acme's primary contact, as a create would.
    demoted = get(old.id)
    assert not demoted.primary and demoted.version == old.version + 1

    after = _counts(contacts)
    assert (after["contacts"], after["contact_phones"]) == (before["contacts"] + 3, before["contact_phones"] + 2)
    assert _outbox_ids(contacts, events_pb2.ContactCreated) == [old.id, ana_id, rita_id, carla_id]
    assert _outbox_ids(contacts, events_pb2.ContactUpdated) == [old.id]

    again = _import(stub, _csv(rows), kind=contacts_pb2.IMPORT_KIND_CONTACTS)
    assert (again.total_rows, again.created, again.duplicates, again.failed) == (10, 0, 5, 5)
    assert [d.row for d in again.duplicate_rows] == [2, 7, 8, 9, 11]
    assert _counts(contacts) == after


def test_a_contacts_file_must_name_the_client(contacts: ServiceRuntime, stub: Stub) -> None:
    info = _error(
        lambda: _import(stub, _csv([["Nombre", "Correo"], ["Ana", "ana@x.co"]]), kind=contacts_pb2.IMPORT_KIND_CONTACTS)
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in info.violations] == ["content"]
    assert "naming each contact's client" in info.violations[0].description
