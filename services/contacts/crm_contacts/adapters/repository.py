"""Storing and reading clients: the translation between table rows and domain objects."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Result, Text, bindparam, cast, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_contacts.adapters.search import count_rows, page_rows
from crm_contacts.adapters.tables import client_phones, clients, contact_phones, contacts, prospects
from crm_contacts.domain.clients import Address, Client, ClientKind
from crm_contacts.domain.importing import KnownClient, tax_key
from crm_contacts.domain.search import needles
from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked

# Every column of this service that refers to a client, by what it belongs to: a client that is
# referred to cannot be deleted.
CLIENT_REFERENCES: tuple[tuple[str, Column[str]], ...] = (
    ("contacts", contacts.c.client_id),
    ("prospects", prospects.c.converted_client_id),
)


def _row_to_client(row: Any) -> Client:
    return Client(
        id=row.id,
        kind=ClientKind(row.kind),
        name=row.name,
        owner_id=row.owner_id,
        legal_name=row.legal_name,
        tax_country=row.tax_country,
        tax_id=row.tax_id,
        industry=row.industry,
        segment_tags=tuple(row.segment_tags or ()),
        email=row.email,
        phones=tuple(row.phones or ()),
        website=row.website,
        address=Address(row.street, row.city, row.region, row.postal_code, row.country_code),
        source=row.source,
        archived=row.archived,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _values(client: Client) -> dict[str, Any]:
    assert client.kind is not None, "only a validated client is stored"
    return {
        "kind": client.kind.value,
        "name": client.name,
        "legal_name": client.legal_name,
        "tax_country": client.tax_country,
        "tax_id": client.tax_id,
        "industry": client.industry,
        "segment_tags": list(client.segment_tags),
        "email": client.email,
        "email_domain": client.email_domain,
        "phones": list(client.phones),
        "website": client.website,
        "street": client.address.street,
        "city": client.address.city,
        "region": client.address.region,
        "postal_code": client.address.postal_code,
        "country_code": client.address.country_code,
        "owner_id": client.owner_id,
        "source": client.source,
        "archived": client.archived,
        "search_text": client.search_text,
        "updated_at": client.updated_at,
        "version": client.version,
    }


def _add_phones(session: Session, new: Sequence[Client]) -> None:
    """The client_phones rows (the duplicate-check index) of clients just stored."""
    rows = [{"client_id": c.id, "position": i, "phone": p} for c in new for i, p in enumerate(c.phones)]
    if rows:
        session.execute(insert(client_phones), rows)


def add_client(session: Session, client: Client) -> None:
    session.execute(insert(clients).values(id=client.id, created_at=client.created_at, **_values(client)))
    _add_phones(session, [client])


def update_client(session: Session, client: Client, read_version: int) -> bool:
    """Stores the changed client if its row is still at `read_version`; False if another change
    came first (nothing written)."""
    result = session.execute(
        update(clients).where(clients.c.id == client.id, clients.c.version == read_version).values(**_values(client))
    )
    if rows_changed(result) != 1:
        return False
    session.execute(delete(client_phones).where(client_phones.c.client_id == client.id))
    _add_phones(session, [client])
    return True


def delete_client(session: Session, client_id: str) -> None:
    session.execute(delete(client_phones).where(client_phones.c.client_id == client_id))
    session.execute(delete(clients).where(clients.c.id == client_id))


def client_referenced_by(session: Session, client_id: str) -> list[str]:
    """What in this service refers to the client (see CLIENT_REFERENCES); empty = nothing."""
    return [
        owner
        for owner, column in CLIENT_REFERENCES
        if session.scalar(select(column).where(column == client_id).limit(1)) is not None
    ]


def get_client(session: Session, client_id: str, *, for_update: bool = False) -> Client | None:
    """The client, or None; `for_update` locks its row (PostgreSQL) until the transaction ends."""
    stmt = select(clients).where(clients.c.id == client_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _row_to_client(row)


# Built once (other services' reference checks call it on every write of theirs).
_CLIENTS_BY_IDS = select(clients).where(clients.c.id.in_(bindparam("ids", expanding=True)))


def get_clients(session: Session, client_ids: Collection[str]) -> list[Client]:
    """The clients of these ids that exist, in id order (a few queries however many ids)."""
    found: list[Client] = []
    for chunk in chunked(client_ids):
        found += [_row_to_client(row) for row in session.execute(_CLIENTS_BY_IDS, {"ids": chunk})]
    return sorted(found, key=lambda c: c.id)


def find_duplicates(
    session: Session, client: Client, fields: Sequence[str] = ("email", "phones", "tax_id")
) -> list[tuple[str, str]]:
    """(field, id of another client) for each of `fields` ("email", "phones", "tax_id") whose
    normalised value another client already has (any one of the client's phones)."""
    found: list[tuple[str, str]] = []
    others = clients.c.id != client.id
    if client.email and "email" in fields:
        hit = session.scalar(select(clients.c.id).where(clients.c.email == client.email, others).limit(1))
        if hit:
            found.append(("email", hit))
    if client.phones and "phones" in fields:
        hit = session.scalar(
            select(client_phones.c.client_id)
            .where(client_phones.c.phone.in_(client.phones), client_phones.c.client_id != client.id)
            .order_by(client_phones.c.client_id)
            .limit(1)
        )
        if hit:
            found.append(("phones", hit))
    if client.tax_id and "tax_id" in fields:
        hit = session.scalar(
            select(clients.c.id)
            .where(clients.c.tax_country == client.tax_country, clients.c.tax_id == client.tax_id, others)
            .limit(1)
        )
        if hit:
            found.append(("tax_id", hit))
    return found


def find_matching_client(
    session: Session, *, tax_country: str, tax_id: str, email_domain: str, for_update: bool = False
) -> Client | None:
    """The oldest non-archived client with this normalised tax id, or else (when `email_domain` is
    given) with an e-mail at this domain; None when there is none. `for_update` locks its row."""
    candidates: list[ColumnElement[bool]] = []
    if tax_id:
        candidates.append((clients.c.tax_country == tax_country) & (clients.c.tax_id == tax_id))
    if email_domain:
        candidates.append(clients.c.email_domain == email_domain)
    for condition in candidates:
        stmt = select(clients).where(condition, clients.c.archived.is_(False)).order_by(clients.c.id).limit(1)
        row = session.execute(stmt.with_for_update() if for_update else stmt).first()
        if row is not None:
            return _row_to_client(row)
    return None


def _conditions(
    *,
    query: str = "",
    owner_ids: Sequence[str] = (),
    segment_tag: str = "",
    city: str = "",
    country_code: str = "",
    include_archived: bool = False,
    industry: str = "",
    source: str = "",
    kind: ClientKind | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[ColumnElement[bool]], tuple[str, ...]]:
    """What a list's filters ask of a client row: conditions, and needles its search text must hold
    one of (domain.search.needles)."""
    conditions: list[ColumnElement[bool]] = []
    if not include_archived:
        conditions.append(clients.c.archived.is_(False))
    if owner_ids:
        conditions.append(clients.c.owner_id.in_(owner_ids))
    if city:
        conditions.append(clients.c.city == city)
    if country_code:
        conditions.append(clients.c.country_code == country_code.upper())
    if industry:
        conditions.append(clients.c.industry == industry)
    if source:
        conditions.append(clients.c.source == source)
    if kind:
        conditions.append(clients.c.kind == kind.value)
    if created_after:
        conditions.append(clients.c.created_at >= created_after)
    if created_before:
        conditions.append(clients.c.created_at < created_before)
    if segment_tag:
        # Tags are normalised lower-case words stored as a JSON array: match the quoted tag.
        tag = segment_tag.strip().lower().replace('"', "")
        conditions.append(cast(clients.c.segment_tags, Text).like(f'%"{tag}"%'))
    return conditions, needles(query)


def list_clients(session: Session, *, limit: int, after_id: str | None, **filters: Any) -> list[Client]:
    """Clients matching `filters` (see _conditions) in id order (ids are time-ordered, so: oldest
    first), keyset-paginated."""
    conditions, wanted = _conditions(**filters)
    rows = page_rows(session, clients, conditions, wanted, after_id=after_id, limit=limit)
    return [_row_to_client(r) for r in rows]


def count_clients(session: Session, **filters: Any) -> int:
    """How many clients match `filters` (see _conditions)."""
    conditions, wanted = _conditions(**filters)
    return count_rows(session, clients, conditions, wanted)


# --- Bulk paths (imports) ------------------------------------------------------------------------


def add_clients(session: Session, new: Sequence[Client]) -> None:
    """Inserts many new clients, and their phones, with one executemany each."""
    if new:
        session.execute(insert(clients), [{"id": c.id, "created_at": c.created_at, **_values(c)} for c in new])
        _add_phones(session, new)


def client_ids_with(
    session: Session, *, emails: Collection[str] = (), tax_ids: Collection[str] = (), phones: Collection[str] = ()
) -> dict[tuple[str, str], str]:
    """{(field, value): id of a client that has it} for the given normalised e-mails, tax ids
    (importing.tax_key: "CO:900123456-7") and phones, in a few queries per thousands of values."""
    found: dict[tuple[str, str], str] = {}

    def note(field: str, rows: Iterable[tuple[str, str]]) -> None:
        for value, client_id in rows:
            key = (field, value)
            found[key] = min(found.get(key, client_id), client_id)

    for chunk in chunked(emails):
        note("email", session.execute(select(clients.c.email, clients.c.id).where(clients.c.email.in_(chunk))))
    by_country: dict[str, set[str]] = {}
    for key in tax_ids:
        country, _, value = key.partition(":")
        by_country.setdefault(country, set()).add(value)
    for country, values in by_country.items():
        for chunk in chunked(values):
            rows: Result[str, str] = session.execute(
                select(clients.c.tax_id, clients.c.id).where(
                    clients.c.tax_country == country, clients.c.tax_id.in_(chunk)
                )
            )
            note("tax_id", ((tax_key(country, value), client_id) for value, client_id in rows))
    for chunk in chunked(phones):
        note(
            "phone",
            session.execute(
                select(client_phones.c.phone, client_phones.c.client_id).where(client_phones.c.phone.in_(chunk))
            ),
        )
    return found


def clients_for_contacts(
    session: Session, *, ids: Collection[str] = (), tax_ids: Collection[str] = (), emails: Collection[str] = ()
) -> list[KnownClient]:
    """The clients that contact rows name by id, by tax id (of any country) or by e-mail."""
    columns = (clients.c.id, clients.c.country_code, clients.c.tax_country, clients.c.tax_id, clients.c.email)
    found: dict[str, KnownClient] = {}
    for column, values in ((clients.c.id, ids), (clients.c.tax_id, tax_ids), (clients.c.email, emails)):
        for chunk in chunked(values):
            for row in session.execute(select(*columns, clients.c.archived).where(column.in_(chunk))):
                found[row.id] = KnownClient(
                    row.id, row.country_code, row.tax_country, row.tax_id, row.email, bool(row.archived)
                )
    return list(found.values())


def contact_ids_with(
    session: Session, *, emails: Collection[str] = (), phones: Collection[str] = ()
) -> dict[tuple[str, str], str]:
    """{(field, value): id of a contact that has it} for the given normalised e-mails and phones,
    in a few queries per thousands of values."""
    found: dict[tuple[str, str], str] = {}
    lookups = (
        ("email", emails, contacts.c.email, contacts.c.id),
        ("phone", phones, contact_phones.c.phone, contact_phones.c.contact_id),
    )
    for field, values, column, id_column in lookups:
        for chunk in chunked(values):
            matches: Result[str, str] = session.execute(select(column, id_column).where(column.in_(chunk)))
            for value, contact_id in matches:
                key = (field, value)
                found[key] = min(found.get(key, contact_id), contact_id)
    return found
