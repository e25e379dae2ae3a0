"""Storing and reading clients: the translation between table rows and domain objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Text, cast, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from crm_contacts.adapters.rows import contains, utc
from crm_contacts.adapters.tables import clients, prospects
from crm_contacts.domain.clients import Address, Client, ClientKind

# Every column of this service that refers to a client, by what it belongs to: a client that is
# referred to cannot be deleted. Contacts (client_id) join this list when they are stored here.
CLIENT_REFERENCES: tuple[tuple[str, Column[str]], ...] = (("prospects", prospects.c.converted_client_id),)


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
        "name_search": client.name.casefold(),
        "legal_name": client.legal_name,
        "tax_country": client.tax_country,
        "tax_id": client.tax_id,
        "industry": client.industry,
        "segment_tags": list(client.segment_tags),
        "email": client.email,
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
        "updated_at": client.updated_at,
        "version": client.version,
    }


def add_client(session: Session, client: Client) -> None:
    session.execute(insert(clients).values(id=client.id, created_at=client.created_at, **_values(client)))


def update_client(session: Session, client: Client, read_version: int) -> bool:
    """Stores the changed client if its row is still at `read_version`; False if another change
    came first (nothing written)."""
    result = session.execute(
        update(clients).where(clients.c.id == client.id, clients.c.version == read_version).values(**_values(client))
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def delete_client(session: Session, client_id: str) -> None:
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


def find_duplicates(
    session: Session, client: Client, fields: Sequence[str] = ("email", "tax_id")
) -> list[tuple[str, str]]:
    """(field, id of another client) for each of `fields` ("email", "tax_id") whose normalised
    value another client already has."""
    found: list[tuple[str, str]] = []
    others = clients.c.id != client.id
    if client.email and "email" in fields:
        hit = session.scalar(select(clients.c.id).where(clients.c.email == client.email, others).limit(1))
        if hit:
            found.append(("email", hit))
    if client.tax_id and "tax_id" in fields:
        hit = session.scalar(
            select(clients.c.id)
            .where(clients.c.tax_country == client.tax_country, clients.c.tax_id == client.tax_id, others)
            .limit(1)
        )
        if hit:
            found.append(("tax_id", hit))
    return found


def list_clients(
    session: Session,
    *,
    limit: int,
    after_id: str | None,
    query: str = "",
    owner_ids: Sequence[str] = (),
    segment_tag: str = "",
    city: str = "",
    country_code: str = "",
    include_archived: bool = False,
) -> Sequence[Client]:
    """Clients in id order (ids are time-ordered, so: oldest first), keyset-paginated."""
    conditions = []
    if after_id:
        conditions.append(clients.c.id > after_id)
    if not include_archived:
        conditions.append(clients.c.archived.is_(False))
    if owner_ids:
        conditions.append(clients.c.owner_id.in_(owner_ids))
    if city:
        conditions.append(clients.c.city == city)
    if country_code:
        conditions.append(clients.c.country_code == country_code.upper())
    if query:
        conditions.append(
            or_(
                contains(clients.c.name_search, query),
                contains(clients.c.email, query),
                clients.c.tax_id == query.strip().upper(),
            )
        )
    stmt = select(clients).where(*conditions).order_by(clients.c.id)
    if segment_tag:
        # Tags are normalised lower-case words stored as a JSON array: match the quoted tag.
        tag = segment_tag.strip().lower().replace('"', "")
        stmt = stmt.where(cast(clients.c.segment_tags, Text).like(f'%"{tag}"%'))
    return [_row_to_client(r) for r in session.execute(stmt.limit(limit))]
