"""Import rules and file reading, without a database: header aliases (Spanish and English, any case,
accents and spaces ignored), CSV delimiter sniffing and encodings, XLSX cells as text (a phone
stored as a number stays a phone), whole-file refusals naming `content`, and a row turned into a
record or into the exact problems that keep it out."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from crm_contacts.domain.clients import ClientKind
from crm_contacts.domain.contacts import DecisionRole
from crm_contacts.domain.importing import (
    ClientDirectory,
    ImportKind,
    ImportOptions,
    KnownClient,
    check_options,
    client_from_row,
    contact_from_row,
    country_code,
    duplicate_keys,
    first_duplicate,
    map_columns,
    prospect_from_row,
)
from crm_contacts.domain.prospects import ProspectSource, ProspectStatus
from crm_platform.errors import InvalidArgument
from crm_platform.import_files import FileFormat, cell_text, detect_format, read_table, sniff_delimiter
from crm_platform.importing import MAX_LISTED_PROBLEMS, ImportReport, RowProblem, normalise_header

OWNER = "0190f0e0-0000-7000-8000-0000000000a1"
OTHER = "0190f0e0-0000-7000-8000-0000000000a2"
CAMPAIGN = "0190f0e0-0000-7000-8000-00000000c001"
OPTIONS = ImportOptions(default_owner_id=OWNER)


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _content_error(call: object) -> str:
    with pytest.raises(InvalidArgument) as err:
        call()  # type: ignore[operator]
    assert [v.field for v in err.value.violations] == ["content"]
    return err.value.violations[0].description


# --- Headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "normalised"),
    [("Razón Social", "razonsocial"), (" E-mail ", "email"), ("TELÉFONO 2", "telefono2"), ("País", "pais")],
)
def test_header_names_lose_case_accents_spaces_and_punctuation(header: str, normalised: str) -> None:
    assert normalise_header(header) == normalised


def test_client_headers_in_spanish_and_english_map_to_fields() -> None:
    header = [
        "Nombre",
        "Razón social",
        "NIT",
        "País",
        "Correo electrónico",
        "Teléfono",
        "Celular",
        "Ciudad",
        "Departamento",
        "Sector",
        "Etiquetas",
        "Propietario",
        "Fuente",
        "website",
        "",
    ]
    columns = map_columns(ImportKind.CLIENTS, header)
    assert dict(columns.indexes) == {
        "name": (0,),
        "legal_name": (1,),
        "tax_id": (2,),
        "country": (3,),
        "email": (4,),
        "phones": (5, 6),
        "city": (7,),
        "region": (8,),
        "industry": (9,),
        "segment_tags": (10,),
        "owner_id": (11,),
        "source": (12,),
        "website": (13,),
    }
    assert columns.problems == ()


def test_the_same_word_names_the_field_of_each_kind() -> None:
    assert map_columns(ImportKind.CLIENTS, ["nombre", "empresa_x"]).indexes == {"name": (0,)}
    prospect = map_columns(ImportKind.PROSPECTS, ["Nombre", "Apellido", "Empresa", "Cargo", "RUT"])
    assert dict(prospect.indexes) == {
        "first_name": (0,),
        "last_name": (1,),
        "company_name": (2,),
        "job_title": (3,),
        "tax_id": (4,),
    }
    contact = map_columns(ImportKind.CONTACTS, ["nombre", "NIT", "pais", "correo cliente", "client_id"])
    assert dict(contact.indexes) == {
        "first_name": (0,),
        "client_tax_id": (1,),
        "client_tax_country": (2,),
        "client_email": (3,),
        "client_id": (4,),
    }


def test_unknown_and_repeated_columns_are_header_problems_and_ignored() -> None:
    columns = map_columns(ImportKind.CLIENTS, ["name", "Color favorito", "email", "Correo", "Teléfono 2"], 1)
    assert dict(columns.indexes) == {"name": (0,), "email": (2,), "phones": (4,)}
    assert [(p.row, p.field) for p in columns.problems] == [(1, "Color favorito"), (1, "Correo")]
    assert "unknown column 'Color favorito'" in columns.problems[0].message


def test_a_header_without_any_known_column_is_refused_naming_content() -> None:
    message = _content_error(lambda: map_columns(ImportKind.CLIENTS, ["foo", "bar"]))
    assert "'foo', 'bar'" in message and "no known column" in message


# --- CSV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("nombre,correo,telefono\n", ","),
        ("nombre;correo;telefono\nAcme;a@b.co;1,2\n", ";"),
        ("nombre\tcorreo\n", "\t"),
        ('"Nombre, completo";correo;ciudad\n', ";"),
        ("nombre\n", ","),
    ],
)
def test_the_delimiter_is_the_one_that_splits_the_header(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_csv_with_bom_semicolons_quotes_and_blank_rows() -> None:
    content = '\ufeffNombre;Correo\n"Peña; Hnos";"ventas@pena.co"\n\n;\n"Línea\ndos";x@y.co\n'.encode()
    table = read_table(content, FileFormat.CSV, 100)
    assert table.header == ("Nombre", "Correo") and table.header_row == 1
    assert table.data_rows == 2
    # Blank rows keep their place in the numbering; a quoted line break stays inside its cell.
    assert list(table.rows()) == [(2, ("Peña; Hnos", "ventas@pena.co")), (5, ("Línea\ndos", "x@y.co"))]
    assert list(table.rows()) == list(table.rows())


def test_csv_in_windows_1252_is_read() -> None:
    table = read_table("nombre,ciudad\nPeña,Bogotá\n".encode("cp1252"), FileFormat.CSV, 10)
    assert list(table.rows()) == [(2, ("Peña", "Bogotá"))]


@pytest.mark.parametrize(
    ("content", "file_format", "expected"),
    [
        (b"", FileFormat.CSV, "empty"),
        (b" \n\n", FileFormat.CSV, "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", FileFormat.CSV, "not text"),
        (b'nombre\n"abierta,\nfin\n', FileFormat.CSV, "cannot be read as CSV (line"),
        (b"PK\x03\x04garbage", FileFormat.CSV, "XLSX workbook"),
        (b"nombre,correo\n", FileFormat.XLSX, "not an XLSX workbook"),
        (b"PK\x03\x04not really a zip", FileFormat.XLSX, "cannot be read as XLSX"),
    ],
)
def test_unreadable_files_are_refused_naming_content(content: bytes, file_format: FileFormat, expected: str) -> None:
    assert expected in _content_error(lambda: read_table(content, file_format, 10))


def test_a_file_over_the_row_limit_is_refused() -> None:
    content = b"nombre\n" + b"a\n" * 4
    assert read_table(content, FileFormat.CSV, 4).data_rows == 4
    assert "more than 3 data rows" in _content_error(lambda: read_table(content, FileFormat.CSV, 3))


def test_format_from_the_file_name_else_from_the_content() -> None:
    assert detect_format(b"a,b", "clientes.XLSX") == FileFormat.XLSX
    assert detect_format(b"PK\x03\x04", "clientes.csv") == FileFormat.CSV
    assert detect_format(b"PK\x03\x04", "") == FileFormat.XLSX
    assert detect_format(b"a;b", "") == FileFormat.CSV


# --- XLSX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3001234567, "3001234567"),
        (3001234567.0, "3001234567"),
        (573001234567.0, "573001234567"),
        (0.25, "0.25"),
        (1e-5, "0.00001"),
        (True, "true"),
        (None, ""),
        (" Acme ", "Acme"),
        (datetime(2026, 3, 1), "2026-03-01"),
        (datetime(2026, 3, 1, 9, 30), "2026-03-01 09:30:00"),
        (date(2026, 3, 1), "2026-03-01"),
    ],
)
def test_xlsx_cells_read_as_a_user_sees_them(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_xlsx_first_sheet_with_a_phone_stored_as_a_number() -> None:
    content = _xlsx(
        [["Nombre", "Teléfono", "País"], ["Acme", 3001234567, "Colombia"], [None, None, None], ["Beta", 6017654321.0]]
    )
    table = read_table(content, FileFormat.XLSX, 10)
    assert table.header == ("Nombre", "Teléfono", "País") and table.data_rows == 2
    rows = list(table.rows())
    assert rows == [(2, ("Acme", "3001234567", "Colombia")), (4, ("Beta", "6017654321"))]
    columns = map_columns(ImportKind.CLIENTS, table.header)
    client, problems = client_from_row(columns, *rows[0], OPTIONS)
    assert problems == [] and client is not None
    assert client.phones == ("+573001234567",) and client.address.country_code == "CO"


# --- Rows ----------------------------------------------------------------------------------------

CLIENT_HEADER = ["Nombre", "Tipo", "NIT", "País", "Correo", "Teléfono", "Etiquetas", "Propietario"]


def _client_row(cells: list[str], options: ImportOptions = OPTIONS, row: int = 2) -> tuple[object, list[RowProblem]]:
    return client_from_row(map_columns(ImportKind.CLIENTS, CLIENT_HEADER), row, cells, options)


def test_a_good_client_row_is_normalised_by_the_client_rules() -> None:
    cells = ["  Café Ñandú ", "Persona", "900.123.456-8", "colombia", "Ventas@Nandu.CO", "300 123 4567 / 601 765 4321"]
    client, problems = _client_row([*cells, "Retail; pymes, Retail", ""])
    assert problems == []
    assert client is not None and client.kind == ClientKind.PERSON and client.name == "Café Ñandú"  # type: ignore[attr-defined]
    assert (client.tax_country, client.tax_id, client.email) == ("CO", "900123456-8", "ventas@nandu.co")  # type: ignore[attr-defined]
    assert client.phones == ("+573001234567", "+576017654321")  # type: ignore[attr-defined]
    assert client.segment_tags == ("retail", "pymes") and client.owner_id == OWNER  # type: ignore[attr-defined]
    assert duplicate_keys(client) == [  # type: ignore[arg-type]
        ("email", "ventas@nandu.co"),
        ("tax_id", "CO:900123456-8"),
        ("phone", "+573001234567"),
        ("phone", "+576017654321"),
    ]


def test_every_problem_of_a_bad_client_row_names_its_field() -> None:
    client, problems = _client_row(
        ["", "Cooperativa", "", "Narnia", "no-es-correo", "12 / 300 123 4567", "", ""], row=7
    )
    assert client is None
    assert sorted((p.row, p.field) for p in problems) == [
        (7, "country"),
        (7, "email"),
        (7, "kind"),
        (7, "name"),
        # No country to read them by: neither phone is understood.
        (7, "phones"),
        (7, "phones"),
    ]


def test_owner_from_the_row_or_the_default_and_only_an_allowed_one() -> None:
    allowed = ImportOptions(default_owner_id=OWNER, allowed_owner_ids=frozenset({OWNER}))
    base = ["Acme", "", "", "CO", "", "", ""]
    assert _client_row([*base, ""], allowed)[1] == []
    client, problems = _client_row([*base, OTHER], allowed)
    assert client is None and [(p.field, p.message) for p in problems] == [
        ("owner_id", f"'{OTHER}' is not a user you may assign records to")
    ]
    client, problems = _client_row([*base, OTHER])
    assert problems == [] and client.owner_id == OTHER  # type: ignore[attr-defined]
    assert [p.field for p in _client_row([*base, ""], ImportOptions())[1]] == ["owner_id"]


def test_prospect_rows_get_the_default_source_and_the_campaign_of_campaign_sources() -> None:
    columns = map_columns(ImportKind.PROSPECTS, ["Empresa", "Nombre", "Correo", "Fuente", "Teléfono", "País"])
    options = ImportOptions(
        default_owner_id=OWNER, default_source=ProspectSource.TRADE_FAIR, source_campaign_id=CAMPAIGN
    )
    fair, problems = prospect_from_row(columns, 2, ["Acme", "Ana", "ana@acme.co", "", "3001234567", "CO"], options)
    assert problems == [] and fair is not None
    assert (fair.source, fair.source_campaign_id, fair.status) == (
        ProspectSource.TRADE_FAIR,
        CAMPAIGN,
        ProspectStatus.NEW,
    )
    web, problems = prospect_from_row(columns, 3, ["Beta", "", "", "Web", "", ""], options)
    assert problems == [] and web is not None and (web.source, web.source_campaign_id) == (ProspectSource.WEB, "")
    plain, _ = prospect_from_row(columns, 4, ["Gamma", "", "", "", "", ""], OPTIONS)
    assert plain is not None and plain.source == ProspectSource.IMPORT
    bad, problems = prospect_from_row(columns, 5, ["", "", "x@", "radio", "", ""], OPTIONS)
    assert bad is None and sorted(p.field for p in problems) == ["company_name", "email", "source"]
    # Prospects of one company share its tax id: only e-mail and phones make a duplicate.
    assert duplicate_keys(fair) == [("email", "ana@acme.co"), ("phone", "+573001234567")]


def test_options_that_cannot_apply_are_refused_naming_the_request_field() -> None:
    with pytest.raises(InvalidArgument) as err:
        check_options(ImportKind.CLIENTS, ImportOptions(default_owner_id=OTHER, allowed_owner_ids=frozenset({OWNER})))
    assert [v.field for v in err.value.violations] == ["default_owner_id"]
    with pytest.raises(InvalidArgument) as err:
        check_options(ImportKind.PROSPECTS, ImportOptions(source_campaign_id=CAMPAIGN))
    assert [v.field for v in err.value.violations] == ["source_campaign_id"]
    with pytest.raises(InvalidArgument) as err:
        check_options(ImportKind.PROSPECTS, ImportOptions(default_source=ProspectSource.ADS, source_campaign_id="x"))
    assert [v.field for v in err.value.violations] == ["source_campaign_id"]


@pytest.mark.parametrize(
    ("value", "code"), [("Colombia", "CO"), ("México", "MX"), ("mx", "MX"), ("Estados Unidos", "US"), ("Peru", "PE")]
)
def test_country_names_in_spanish_or_english_become_codes(value: str, code: str) -> None:
    assert country_code(value) == code


def test_the_first_key_in_order_that_any_known_record_has_is_the_duplicate() -> None:
    keys = [("email", "a@b.co"), ("tax_id", "CO:1"), ("phone", "+1")]
    assert first_duplicate(keys, {("phone", "+1"): "stored"}, {("tax_id", "CO:1"): "row-2"}) == ("tax_id", "row-2")
    assert first_duplicate(keys, {("email", "x@b.co"): "stored"}) is None


# --- Contacts ------------------------------------------------------------------------------------

CONTACT_HEADER = ["Nombre", "Correo", "Teléfono", "NIT", "País", "Correo cliente", "client_id", "Rol", "Principal"]
ACME = KnownClient("0190f0e0-0000-7000-8000-0000000000c1", "CO", "CO", "900123456-8", "compras@acme.co")
ACME_MX = KnownClient("0190f0e0-0000-7000-8000-0000000000c2", "MX", "MX", "900123456-8", "")
SHUT = KnownClient("0190f0e0-0000-7000-8000-0000000000c3", "CO", "CO", "800", "shut@x.co", archived=True)
DIRECTORY = ClientDirectory([ACME, ACME_MX, SHUT])


def _contact_row(cells: list[str], primaries: dict[str, int] | None = None, row: int = 2) -> tuple[object, list]:
    columns = map_columns(ImportKind.CONTACTS, CONTACT_HEADER)
    return contact_from_row(columns, row, cells, OPTIONS, DIRECTORY, {} if primaries is None else primaries)


@pytest.mark.parametrize(
    ("reference", "client_id"),
    [
        (["900.123.456-8", "Colombia", "", ""], ACME.id),
        (["900123456-8", "MX", "", ""], ACME_MX.id),
        (["", "", "Compras@ACME.co", ""], ACME.id),
        (["", "", "", ACME_MX.id], ACME_MX.id),
    ],
)
def test_a_contact_row_names_its_client_by_tax_id_email_or_id(reference: list[str], client_id: str) -> None:
    contact, problems = _contact_row(["Ana", "ana@acme.co", "3001234567", *reference, "", ""])
    assert problems == [] and contact.client_id == client_id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("reference", "field", "message"),
    [
        (["900123456-8", "", "", ""], "client_tax_id", "2 clients have tax id '900123456-8'"),
        (["1", "CO", "", ""], "client_tax_id", "no client has tax id '1' of CO"),
        (["800", "", "", ""], "client_tax_id", "is archived"),
        (["", "", "nadie@x.co", ""], "client_email", "no client has e-mail 'nadie@x.co'"),
        (["", "", "no es correo", ""], "client_email", "not a valid e-mail"),
        (["", "", "", "0190f0e0-0000-7000-8000-0000000000ff"], "client_id", "does not exist"),
        (["", "", "", ""], "client_id", "is required"),
    ],
)
def test_a_client_not_found_once_is_a_problem_naming_the_reference(
    reference: list[str], field: str, message: str
) -> None:
    contact, problems = _contact_row(["Ana", "", "", *reference, "", ""])
    assert contact is None and [p.field for p in problems] == [field]
    assert message in problems[0].message


def test_contact_phones_are_read_as_numbers_of_the_client_country() -> None:
    contact, problems = _contact_row(["Ana", "", "55 1234 5678", "900123456-8", "MX", "", "", "Influenciador", "no"])
    assert problems == [] and contact.phones == ("+525512345678",)  # type: ignore[attr-defined]
    assert contact.decision_role == DecisionRole.INFLUENCER and not contact.primary  # type: ignore[attr-defined]


def test_one_primary_contact_per_client_in_a_file() -> None:
    primaries: dict[str, int] = {}
    first, problems = _contact_row(["Ana", "", "", "", "", "", ACME.id, "", "Sí"], primaries, row=2)
    assert problems == [] and first.primary and primaries == {ACME.id: 2}  # type: ignore[attr-defined]
    second, problems = _contact_row(["Luis", "", "", "", "", "", ACME.id, "decisor", "x"], primaries, row=5)
    assert second is None and [(p.row, p.field) for p in problems] == [(5, "primary")]
    assert "row 2 already" in problems[0].message
    other, problems = _contact_row(["Eva", "", "", "", "", "", ACME_MX.id, "", "1"], primaries, row=6)
    assert problems == [] and other.primary  # type: ignore[attr-defined]


def test_bad_contact_fields_are_named_even_when_the_client_is_missing() -> None:
    contact, problems = _contact_row(["", "mal", "12", "1", "CO", "", "", "jefe", "quizás"], row=9)
    assert contact is None
    assert sorted(p.field for p in problems) == [
        "client_tax_id",
        "decision_role",
        "email",
        "first_name",
        "phones",
        "primary",
    ]


def test_a_contacts_file_without_a_client_column_is_refused() -> None:
    message = _content_error(lambda: map_columns(ImportKind.CONTACTS, ["Nombre", "Correo"]))
    assert "naming each contact's client" in message


def test_problems_past_the_listed_ones_are_counted_in_a_last_problem() -> None:
    report = ImportReport()
    report.add_problems([RowProblem(1, "Color", "unknown column")])
    report.add_problems([RowProblem(row, "email", "bad") for row in range(2, MAX_LISTED_PROBLEMS + 4)])
    listed = report.listed_problems()
    assert len(listed) == MAX_LISTED_PROBLEMS + 1
    assert listed[-2] == RowProblem(MAX_LISTED_PROBLEMS, "email", "bad")
    assert (listed[-1].row, listed[-1].field) == (MAX_LISTED_PROBLEMS + 1, "")
    assert listed[-1].message.startswith("3 more problems")
