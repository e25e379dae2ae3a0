"""Storing and reading clients: the translation between table rows and domain objects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Text, and_, cast, insert, or_, select
from sqlalchemy.orm import Session

from crm_contacts.adapters.tables import clients
from crm_contacts.domain.clients import Address, Client, ClientKind


def _utc(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


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
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        version=row.version,
    )


def add_client(session: Session, client: Client) -> None:
    session.execute(
        insert(clients).values(
            id=client.id,
            kind=client.kind.value,
            name=client.name,
            name_search=client.name.casefold(),
            legal_name=client.legal_name,
            tax_country=client.tax_country,
            tax_id=client.tax_id,
            industry=client.industry,
            segment_tags=list(client.segment_tags),
            email=client.email,
            phones=list(client.phones),
            website=client.website,
            street=client.address.street,
            city=client.address.city,
            region=client.address.region,
            postal_code=client.address.postal_code,
            country_code=client.address.country_code,
            owner_id=client.owner_id,
            source=client.source,
            archived=client.archived,
            created_at=client.created_at,
            updated_at=client.updated_at,
            version=client.version,
        )
    )


def get_client(session: Session, client_id: str) -> Client | None:
    row = session.execute(select(clients).where(clients.c.id == client_id)).first()
    return None if row is None else _row_to_client(row)


def find_duplicates(session: Session, client: Client) -> list[tuple[str, str]]:
    """(field, existing client id) for each normalised e-mail, phone or tax id already in use."""
    found: list[tuple[str, str]] = []
    if client.email:
        hit = session.scalar(select(clients.c.id).where(clients.c.email == client.email).limit(1))
        if hit:
            found.append(("email", hit))
    if client.tax_id:
        hit = session.scalar(
            select(clients.c.id)
            .where(clients.c.tax_country == client.tax_country, clients.c.tax_id == client.tax_id)
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
    owner_id: str = "",
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
    if owner_id:
        conditions.append(clients.c.owner_id == owner_id)
    if city:
        conditions.append(clients.c.city == city)
    if country_code:
        conditions.append(clients.c.country_code == country_code.upper())
    if query:
        needle = query.strip().casefold()
        like = f"%{needle.replace('%', '').replace('_', '')}%"
        conditions.append(
            or_(clients.c.name_search.like(like), clients.c.email.like(like), clients.c.tax_id == needle.upper())
        )
    stmt = select(clients).where(and_(*conditions)).order_by(clients.c.id)
    if segment_tag:
        # Tags are normalised lower-case words stored as a JSON array: match the quoted tag.
        tag = segment_tag.strip().lower().replace('"', "")
        stmt = stmt.where(cast(clients.c.segment_tags, Text).like(f'%"{tag}"%'))
    return [_row_to_client(r) for r in session.execute(stmt.limit(limit))]
