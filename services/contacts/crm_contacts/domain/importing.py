"""Importing clients, contacts and prospects from the rows of a table (a CSV or XLSX file): which
column holds which field (headers matched case-insensitively, accents, spaces and punctuation
ignored, Spanish and English names), a row turned into a validated record or into the problems
that keep it out, and the keys (e-mail, tax id, phone) that make a row a duplicate.
Pure Python: no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TypeVar

from babel import Locale

from crm_contacts.domain import clients, contacts, prospects
from crm_contacts.domain.clients import Client, ClientKind
from crm_contacts.domain.common import Address, normalise_email, normalised_tax_id
from crm_contacts.domain.contacts import Contact, DecisionRole
from crm_contacts.domain.prospects import CAMPAIGN_SOURCES, Prospect, ProspectSource, ProspectStatus
from crm_contacts.domain.tax_ids import tax_id_forms
from crm_platform import importing as platform_importing
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.ids import is_valid_id
from crm_platform.importing import Columns, RowProblem, normalise_header

# Data rows a file may hold (the header not counted).
MAX_ROWS = 200_000
R = TypeVar("R")
S = TypeVar("S", bound=Client | Contact | Prospect)


class ImportKind(StrEnum):
    CLIENTS = "clients"
    CONTACTS = "contacts"
    PROSPECTS = "prospects"


@dataclass(frozen=True)
class ImportOptions:
    default_owner_id: str = ""
    # Empty: any owner may be named.
    allowed_owner_ids: frozenset[str] = frozenset()
    # Prospects only: the source of rows that name none (None: IMPORT), and the campaign that rows
    # from a campaign source (campaign, trade fair, ads, RD Station) came from.
    default_source: ProspectSource | None = None
    source_campaign_id: str = ""


def check_options(kind: ImportKind, options: ImportOptions) -> None:
    """InvalidArgument naming the request field when the options cannot apply to any row."""
    owner = options.default_owner_id
    if owner and options.allowed_owner_ids and owner not in options.allowed_owner_ids:
        raise InvalidArgument.field("default_owner_id", f"'{owner}' is not a user you may assign records to")
    campaign = options.source_campaign_id
    if kind == ImportKind.PROSPECTS and campaign:
        if not is_valid_id(campaign):
            raise InvalidArgument.field("source_campaign_id", f"'{campaign}' is not a campaign id")
        if options.default_source not in CAMPAIGN_SOURCES:
            raise InvalidArgument.field(
                "source_campaign_id", "needs a default_source of campaign, trade fair, ads or RD Station"
            )


# --- Columns -------------------------------------------------------------------------------------

_EMAIL = ("email", "correo", "correoelectronico", "mail", "emailaddress", "direcciondecorreo")
_PHONES = (
    "phones",
    "phone",
    "telefono",
    "telefonos",
    "tel",
    "celular",
    "movil",
    "mobile",
    "whatsapp",
    "fijo",
    "telefonofijo",
    "phonenumber",
    "numerodetelefono",
)
_TAX_ID = (
    "taxid",
    "nit",
    "rfc",
    "rut",
    "cuit",
    "cuil",
    "ruc",
    "nif",
    "cif",
    "idfiscal",
    "identificacionfiscal",
    "numerofiscal",
    "vat",
    "vatnumber",
)
_TAX_COUNTRY = ("taxcountry", "paisfiscal", "paisnit", "paisdelnit")
_OWNER = ("ownerid", "owner", "propietario", "idpropietario", "responsable")
_COUNTRY = ("country", "countrycode", "pais", "codigopais")
_ADDRESS = {
    "street": ("street", "address", "direccion", "calle", "domicilio"),
    "city": ("city", "ciudad", "municipio", "localidad"),
    "region": ("region", "departamento", "provincia", "state"),
    "postal_code": ("postalcode", "codigopostal", "cp", "zip", "zipcode"),
    "country": _COUNTRY,
}
_INDUSTRY = ("industry", "industria", "sector", "actividad", "actividadeconomica")
_FIRST_NAME = ("firstname", "nombre", "nombres", "name", "primernombre")
_LAST_NAME = ("lastname", "apellido", "apellidos", "surname")
_JOB_TITLE = ("jobtitle", "cargo", "puesto", "title", "position", "titulo")
_SOURCE = ("source", "fuente", "origen")

_FIELDS: dict[ImportKind, dict[str, Sequence[str]]] = {
    ImportKind.CLIENTS: {
        "name": (
            "name",
            "nombre",
            "nombrecomercial",
            "cliente",
            "nombrecliente",
            "clientname",
            "empresa",
            "companyname",
            "compania",
        ),
        "legal_name": ("legalname", "razonsocial", "nombrelegal"),
        "kind": ("kind", "tipo", "tipocliente", "tipodecliente", "clientkind", "tipopersona", "tipodepersona"),
        "tax_id": _TAX_ID,
        "tax_country": _TAX_COUNTRY,
        "industry": _INDUSTRY,
        "segment_tags": (
            "segmenttags",
            "segmento",
            "segmentos",
            "etiquetas",
            "etiqueta",
            "tags",
            "segment",
            "segments",
        ),
        "email": _EMAIL,
        "phones": _PHONES,
        "website": ("website", "sitioweb", "web", "paginaweb", "url"),
        **_ADDRESS,
        "region": (*_ADDRESS["region"], "estado"),
        "owner_id": _OWNER,
        "source": _SOURCE,
    },
    ImportKind.PROSPECTS: {
        "company_name": (
            "companyname",
            "company",
            "empresa",
            "compania",
            "nombreempresa",
            "organizacion",
            "razonsocial",
        ),
        "first_name": _FIRST_NAME,
        "last_name": _LAST_NAME,
        "job_title": _JOB_TITLE,
        "email": _EMAIL,
        "phones": _PHONES,
        "tax_id": _TAX_ID,
        "tax_country": _TAX_COUNTRY,
        "industry": _INDUSTRY,
        **_ADDRESS,
        "owner_id": _OWNER,
        "source": _SOURCE,
    },
    ImportKind.CONTACTS: {
        "first_name": _FIRST_NAME,
        "last_name": _LAST_NAME,
        "job_title": _JOB_TITLE,
        "email": _EMAIL,
        "phones": _PHONES,
        "decision_role": ("decisionrole", "rol", "role", "roldecision", "rolenladecision", "roldedecision"),
        "primary": ("primary", "principal", "contactoprincipal", "esprincipal"),
        "owner_id": _OWNER,
        # The client the contact belongs to: by id, or by its tax id (with its country) or e-mail.
        "client_id": ("clientid", "idcliente", "clienteid", "idempresa"),
        "client_tax_id": (*_TAX_ID, "clienttaxid", "nitcliente", "nitempresa", "rutcliente", "rfccliente"),
        "client_tax_country": (*_COUNTRY, *_TAX_COUNTRY, "clienttaxcountry"),
        "client_email": ("clientemail", "correocliente", "emailcliente", "correoempresa", "emailempresa"),
    },
}
_CLIENT_REFERENCES = frozenset({"client_id", "client_tax_id", "client_email"})
# Fields that several columns may fill (Teléfono, Celular ...): their values are joined.
_MULTI = frozenset({"phones", "segment_tags"})
# Splits a cell holding several phones or tags.
_PHONE_SEPARATORS = re.compile(r"[;/|,\n]")
_TAG_SEPARATORS = re.compile(r"[;,|/\n]")


def map_columns(kind: ImportKind, header: Sequence[str], header_row: int = 1) -> Columns:
    """The import fields the header's columns hold (crm_platform.importing.map_columns with this
    kind's aliases); a contacts file must also name each contact's client."""
    columns = platform_importing.map_columns(_FIELDS[kind], header, header_row, what=kind.value, multi=_MULTI)
    if kind == ImportKind.CONTACTS and not columns.indexes.keys() & _CLIENT_REFERENCES:
        raise InvalidArgument.field(
            "content",
            "a contacts file needs a column naming each contact's client: client_id, its tax id (NIT, RFC, RUT, "
            "CUIT ...) or its e-mail (correo cliente)",
        )
    return columns


# --- Values --------------------------------------------------------------------------------------

_CLIENT_KINDS = {
    **dict.fromkeys(("company", "empresa", "compania", "juridica", "personajuridica", "organizacion"), "company"),
    **dict.fromkeys(("person", "persona", "natural", "personanatural", "individual", "personafisica"), "person"),
}
_SOURCES = {
    **dict.fromkeys(("web", "website", "sitioweb", "paginaweb", "formularioweb"), ProspectSource.WEB),
    **dict.fromkeys(("referral", "referido", "referencia", "recomendacion"), ProspectSource.REFERRAL),
    **dict.fromkeys(("campaign", "campana"), ProspectSource.CAMPAIGN),
    **dict.fromkeys(("tradefair", "feria", "feriacomercial", "evento"), ProspectSource.TRADE_FAIR),
    **dict.fromkeys(("ads", "anuncios", "publicidad", "pauta", "googleads"), ProspectSource.ADS),
    **dict.fromkeys(("rdstation", "rd"), ProspectSource.RD_STATION),
    **dict.fromkeys(("import", "importacion", "importado"), ProspectSource.IMPORT),
}
_ROLES = {
    **dict.fromkeys(
        ("decisionmaker", "decisor", "tomadordedecision", "tomadordedecisiones", "decide"), DecisionRole.DECISION_MAKER
    ),
    **dict.fromkeys(("influencer", "influenciador", "influyente", "influye"), DecisionRole.INFLUENCER),
    **dict.fromkeys(("user", "usuario"), DecisionRole.USER),
    **dict.fromkeys(("other", "otro"), DecisionRole.OTHER),
}
_BOOLEANS = {
    **dict.fromkeys(("si", "yes", "true", "verdadero", "1", "x"), True),
    **dict.fromkeys(("no", "false", "falso", "0"), False),
}


@cache
def _country_names() -> dict[str, str]:
    """Country names in Spanish and English (normalised as headers are) → ISO 3166-1 alpha-2."""
    names: dict[str, str] = {}
    for lang in ("en", "es"):
        for code, name in Locale(lang).territories.items():
            if len(code) == 2 and code.isalpha():
                names[normalise_header(name)] = code
    names.update({"eeuu": "US", "eua": "US", "usa": "US", "uk": "GB", "mexico": "MX"})
    return names


def country_code(value: str) -> str:
    """'Colombia', 'México', 'co' → 'CO'; anything else as given (the record's rules refuse it)."""
    value = value.strip()
    if len(value) == 2:
        return value.upper()
    return _country_names().get(normalise_header(value), value) if value else ""


def _choice(
    value: str, choices: Mapping[str, R], name: str, row: int, problems: list[RowProblem], accepted: str
) -> R | None:
    """The choice a cell names (None when blank); an unknown word is a problem of the row."""
    if not value:
        return None
    found = choices.get(normalise_header(value))
    if found is None:
        problems.append(RowProblem(row, name, f"'{value}' is not one of: {accepted}"))
    return found


def _owner(columns: Columns, cells: Sequence[str], row: int, options: ImportOptions, problems: list[RowProblem]) -> str:
    owner = columns.value(cells, "owner_id") or options.default_owner_id
    if owner and options.allowed_owner_ids and owner not in options.allowed_owner_ids:
        problems.append(RowProblem(row, "owner_id", f"'{owner}' is not a user you may assign records to"))
    return owner


def _address(columns: Columns, cells: Sequence[str]) -> Address:
    return Address(
        street=columns.value(cells, "street"),
        city=columns.value(cells, "city"),
        region=columns.value(cells, "region"),
        postal_code=columns.value(cells, "postal_code"),
        country_code=country_code(columns.value(cells, "country")),
    )


_VIOLATION_FIELDS = {
    "address.street": "street",
    "address.city": "city",
    "address.region": "region",
    "address.postal_code": "postal_code",
    "address.country_code": "country",
    "tax_id.value": "tax_id",
}


def _checked(validate: Callable[[R], R], draft: R, columns: Columns, row: int, problems: list[RowProblem]) -> R | None:
    """The draft through its record's rules; each violation becomes a problem naming the import
    field (phones[2] → phones, address.city → city ...). None when the row has any problem."""
    try:
        record = validate(draft)
    except InvalidArgument as exc:
        for v in exc.violations:
            name = _VIOLATION_FIELDS.get(v.field, v.field.split("[", 1)[0])
            if name == "tax_id.country_code":
                name = "tax_country" if columns.has("tax_country") else "country"
            problems.append(RowProblem(row, name, v.description))
        return None
    return None if problems else record


def client_from_row(
    columns: Columns, row: int, cells: Sequence[str], options: ImportOptions
) -> tuple[Client | None, list[RowProblem]]:
    """The row as a validated client (id and times not yet given), or its problems."""
    problems: list[RowProblem] = []
    kind = _choice(
        columns.value(cells, "kind"), _CLIENT_KINDS, "kind", row, problems, "empresa (company), persona (person)"
    )
    draft = Client(
        id="",
        kind=ClientKind(kind) if kind else ClientKind.COMPANY,
        name=columns.value(cells, "name"),
        owner_id=_owner(columns, cells, row, options, problems),
        legal_name=columns.value(cells, "legal_name"),
        tax_country=country_code(columns.value(cells, "tax_country")),
        tax_id=columns.value(cells, "tax_id"),
        industry=columns.value(cells, "industry"),
        segment_tags=columns.values(cells, "segment_tags", _TAG_SEPARATORS),
        email=columns.value(cells, "email"),
        phones=columns.values(cells, "phones", _PHONE_SEPARATORS),
        website=columns.value(cells, "website"),
        address=_address(columns, cells),
        source=columns.value(cells, "source"),
    )
    return _checked(clients.validated, draft, columns, row, problems), problems


def prospect_from_row(
    columns: Columns, row: int, cells: Sequence[str], options: ImportOptions
) -> tuple[Prospect | None, list[RowProblem]]:
    """The row as a validated new prospect (status new; id and times not yet given), or its
    problems. A row naming no source gets the import's default (IMPORT when none); a row from a
    campaign source gets the import's campaign."""
    problems: list[RowProblem] = []
    accepted = "web, referido, campaña, feria, anuncios, RD Station, importación"
    named = _choice(columns.value(cells, "source"), _SOURCES, "source", row, problems, accepted)
    source = named or options.default_source or ProspectSource.IMPORT
    draft = Prospect(
        id="",
        owner_id=_owner(columns, cells, row, options, problems),
        company_name=columns.value(cells, "company_name"),
        first_name=columns.value(cells, "first_name"),
        last_name=columns.value(cells, "last_name"),
        job_title=columns.value(cells, "job_title"),
        email=columns.value(cells, "email"),
        phones=columns.values(cells, "phones", _PHONE_SEPARATORS),
        tax_country=country_code(columns.value(cells, "tax_country")),
        tax_id=columns.value(cells, "tax_id"),
        industry=columns.value(cells, "industry"),
        address=_address(columns, cells),
        source=source,
        source_campaign_id=options.source_campaign_id if source in CAMPAIGN_SOURCES else "",
        status=ProspectStatus.NEW,
    )
    return _checked(prospects.validated, draft, columns, row, problems), problems


# --- Contacts: the client each row names ---------------------------------------------------------


@dataclass(frozen=True)
class ClientReference:
    """How a contact row names its client: by id, or by its tax id (and country) or e-mail."""

    client_id: str = ""
    tax_country: str = ""
    tax_id: str = ""
    email: str = ""
    # The stored forms the tax id may have (tax_ids.tax_id_forms): as given and normalised.
    tax_forms: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnownClient:
    """What importing contacts needs of a stored client."""

    id: str
    # The client's address country: its contacts' phones written without +country are read by it.
    country_code: str = ""
    tax_country: str = ""
    tax_id: str = ""
    email: str = ""
    archived: bool = False


def client_reference(
    columns: Columns, cells: Sequence[str], problems: list[FieldViolation] | None = None
) -> ClientReference:
    """The row's client reference, normalised as clients store their tax id and e-mail."""
    found = problems if problems is not None else []
    tax_country, tax_id = normalised_tax_id(
        country_code(columns.value(cells, "client_tax_country")), columns.value(cells, "client_tax_id"), "", []
    )
    return ClientReference(
        client_id=columns.value(cells, "client_id"),
        tax_country=tax_country,
        tax_id=tax_id,
        email=normalise_email(columns.value(cells, "client_email"), "client_email", found),
        tax_forms=tax_id_forms(tax_country, columns.value(cells, "client_tax_id")),
    )


class ClientDirectory:
    """The stored clients that a chunk of contact rows name, looked up by each row's reference."""

    def __init__(self, known: Iterable[KnownClient]):
        self._by_id: dict[str, KnownClient] = {}
        self._by_tax: dict[str, list[KnownClient]] = {}
        self._by_email: dict[str, list[KnownClient]] = {}
        for client in known:
            self._by_id[client.id] = client
            if client.tax_id:
                self._by_tax.setdefault(client.tax_id, []).append(client)
            if client.email:
                self._by_email.setdefault(client.email, []).append(client)

    def find(self, ref: ClientReference) -> tuple[KnownClient | None, FieldViolation | None]:
        """The client the reference names, or the problem (naming the reference's column) why none."""
        if ref.client_id:
            client = self._by_id.get(ref.client_id)
            if client is None:
                return None, FieldViolation("client_id", f"client '{ref.client_id}' does not exist")
            return self._usable(client, "client_id")
        if ref.tax_id:
            candidates = {c.id: c for form in ref.tax_forms or (ref.tax_id,) for c in self._by_tax.get(form, ())}
            matches = [c for c in candidates.values() if not ref.tax_country or c.tax_country == ref.tax_country]
            what = f"tax id '{ref.tax_id}'" + (f" of {ref.tax_country}" if ref.tax_country else "")
            return self._one(matches, "client_tax_id", what, "" if ref.tax_country else " or give its country")
        if ref.email:
            return self._one(self._by_email.get(ref.email, []), "client_email", f"e-mail '{ref.email}'", "")
        return None, FieldViolation("client_id", "is required: give the client's id, tax id or e-mail")

    def _one(
        self, matches: Sequence[KnownClient], name: str, what: str, hint: str
    ) -> tuple[KnownClient | None, FieldViolation | None]:
        if not matches:
            return None, FieldViolation(name, f"no client has {what}")
        if len(matches) > 1:
            return None, FieldViolation(name, f"{len(matches)} clients have {what}: name the client by client_id{hint}")
        return self._usable(matches[0], name)

    @staticmethod
    def _usable(client: KnownClient, name: str) -> tuple[KnownClient | None, FieldViolation | None]:
        if client.archived:
            return None, FieldViolation(name, f"client '{client.id}' is archived: no contacts are added to it")
        return client, None


def contact_from_row(
    columns: Columns,
    row: int,
    cells: Sequence[str],
    options: ImportOptions,
    directory: ClientDirectory,
    primaries: dict[str, int],
) -> tuple[Contact | None, list[RowProblem]]:
    """The row as a validated contact of the client it names (id and times not yet given), or its
    problems. `primaries` (client id → row) holds the clients an earlier row of the file made a
    primary contact for: a second one for the same client is a problem of its row."""
    problems: list[RowProblem] = []
    violations: list[FieldViolation] = []
    client, missing = directory.find(client_reference(columns, cells, violations))
    problems += [RowProblem(row, v.field, v.description) for v in violations]
    if missing is not None and not violations:
        problems.append(RowProblem(row, missing.field, missing.description))
    role = _choice(
        columns.value(cells, "decision_role"),
        _ROLES,
        "decision_role",
        row,
        problems,
        "decisor (decision maker), influenciador (influencer), usuario (user), otro (other)",
    )
    primary = _choice(columns.value(cells, "primary"), _BOOLEANS, "primary", row, problems, "sí, no") or False
    if primary and client is not None and client.id in primaries:
        problems.append(
            RowProblem(row, "primary", f"row {primaries[client.id]} already makes a primary contact of this client")
        )
    draft = Contact(
        id="",
        # A placeholder id for a row whose client is not found: its other fields are still checked.
        client_id=client.id if client else "00000000-0000-0000-0000-000000000000",
        owner_id=_owner(columns, cells, row, options, problems),
        first_name=columns.value(cells, "first_name"),
        last_name=columns.value(cells, "last_name"),
        job_title=columns.value(cells, "job_title"),
        email=columns.value(cells, "email"),
        phones=columns.values(cells, "phones", _PHONE_SEPARATORS),
        decision_role=role,
        primary=primary,
    )
    # As when a contact is created one by one: phones without +country are of the client's country.
    country = client.country_code if client else ""
    contact = _checked(lambda c: contacts.validated(c, country), draft, columns, row, problems)
    if contact is not None and contact.primary:
        primaries[contact.client_id] = row
    return contact, problems


# --- Duplicates ----------------------------------------------------------------------------------


def tax_key(country: str, value: str) -> str:
    """How a tax id is keyed for duplicate checks: its country and normalised value together."""
    return f"{country}:{value}"


def duplicate_keys(record: Client | Contact | Prospect) -> list[tuple[str, str]]:
    """(field, normalised value) pairs that make another record a duplicate of this one, in the
    order they are reported: e-mail, tax id (clients only: the people of one company share its
    tax id), each phone."""
    keys = [("email", record.email)] if record.email else []
    if isinstance(record, Client) and record.tax_id:
        keys.append(("tax_id", tax_key(record.tax_country, record.tax_id)))
    keys += [("phone", p) for p in record.phones]
    return keys


def first_duplicate(keys: Sequence[tuple[str, str]], *known: Mapping[tuple[str, str], str]) -> tuple[str, str] | None:
    """(field, id of the record) for the first of `keys` (in their order) that a record of any
    of the `known` maps (key → record id) has; None when no key is known."""
    for key in keys:
        for records in known:
            if key in records:
                return key[0], records[key]
    return None


def keys_by_field(keys: Collection[tuple[str, str]]) -> dict[str, set[str]]:
    """The values of `keys` grouped by field (what one bulk lookup per field asks for)."""
    grouped: dict[str, set[str]] = {}
    for name, value in keys:
        grouped.setdefault(name, set()).add(value)
    return grouped


def stamped(record: S, record_id: str, now: datetime) -> S:
    """A validated record as it is first stored: its id, created and updated now, version 1."""
    return replace(record, id=record_id, created_at=now, updated_at=now, version=1)
