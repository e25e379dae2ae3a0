"""Storing and reading prospects (a row each, plus one row per phone): the translation between
table rows and domain objects."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Result, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_contacts.adapters.search import count_rows, page_rows
from crm_contacts.adapters.tables import prospect_phones, prospects
from crm_contacts.domain.common import Address
from crm_contacts.domain.prospects import Prospect, ProspectSource, ProspectStatus
from crm_contacts.domain.search import needles
from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked


def _row_to_prospect(row: Any, phones: Sequence[str]) -> Prospect:
    return Prospect(
        id=row.id,
        owner_id=row.owner_id,
        company_name=row.company_name,
        first_name=row.first_name,
        last_name=row.last_name,
        job_title=row.job_title,
        email=row.email,
        phones=tuple(phones),
        tax_country=row.tax_country,
        tax_id=row.tax_id,
        industry=row.industry,
        address=Address(row.street, row.city, row.region, row.postal_code, row.country_code),
        source=ProspectSource(row.source) if row.source else None,
        source_campaign_id=row.source_campaign_id,
        status=ProspectStatus(row.status),
        disqualified_reason=row.disqualified_reason,
        converted_client_id=row.converted_client_id,
        converted_contact_id=row.converted_contact_id,
        converted_deal_id=row.converted_deal_id,
        converted_client_created=row.converted_client_created,
        archived=row.archived,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _values(prospect: Prospect) -> dict[str, Any]:
    assert prospect.status is not None, "only a validated prospect is stored"
    return {
        "company_name": prospect.company_name,
        "first_name": prospect.first_name,
        "last_name": prospect.last_name,
        "job_title": prospect.job_title,
        "email": prospect.email,
        "tax_country": prospect.tax_country,
        "tax_id": prospect.tax_id,
        "industry": prospect.industry,
        "street": prospect.address.street,
        "city": prospect.address.city,
        "region": prospect.address.region,
        "postal_code": prospect.address.postal_code,
        "country_code": prospect.address.country_code,
        "source": prospect.source.value if prospect.source else "",
        "source_campaign_id": prospect.source_campaign_id,
        "status": prospect.status.value,
        "disqualified_reason": prospect.disqualified_reason,
        "owner_id": prospect.owner_id,
        "converted_client_id": prospect.converted_client_id,
        "converted_contact_id": prospect.converted_contact_id,
        "converted_deal_id": prospect.converted_deal_id,
        "converted_client_created": prospect.converted_client_created,
        "archived": prospect.archived,
        "search_text": prospect.search_text,
        "updated_at": prospect.updated_at,
        "version": prospect.version,
    }


def _add_phones(session: Session, prospect: Prospect) -> None:
    if prospect.phones:
        session.execute(
            insert(prospect_phones),
            [{"prospect_id": prospect.id, "position": i, "phone": p} for i, p in enumerate(prospect.phones)],
        )


def _phones_of(session: Session, ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        rows: Result[str, str] = session.execute(
            select(prospect_phones.c.prospect_id, prospect_phones.c.phone)
            .where(prospect_phones.c.prospect_id.in_(ids))
            .order_by(prospect_phones.c.prospect_id, prospect_phones.c.position)
        )
        for prospect_id, phone in rows:
            found[prospect_id].append(phone)
    return found


def add_prospect(session: Session, prospect: Prospect) -> None:
    session.execute(insert(prospects).values(id=prospect.id, created_at=prospect.created_at, **_values(prospect)))
    _add_phones(session, prospect)


def update_prospect(session: Session, prospect: Prospect, read_version: int) -> bool:
    """Stores the changed prospect if its row is still at `read_version`; False if another change
    came first (nothing written)."""
    result = session.execute(
        update(prospects)
        .where(prospects.c.id == prospect.id, prospects.c.version == read_version)
        .values(**_values(prospect))
    )
    if rows_changed(result) != 1:
        return False
    session.execute(delete(prospect_phones).where(prospect_phones.c.prospect_id == prospect.id))
    _add_phones(session, prospect)
    return True


def delete_prospect(session: Session, prospect_id: str) -> None:
    session.execute(delete(prospect_phones).where(prospect_phones.c.prospect_id == prospect_id))
    session.execute(delete(prospects).where(prospects.c.id == prospect_id))


def get_prospect(session: Session, prospect_id: str, *, for_update: bool = False) -> Prospect | None:
    """The prospect, or None; `for_update` locks its row (PostgreSQL) until the transaction ends."""
    stmt = select(prospects).where(prospects.c.id == prospect_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _row_to_prospect(row, _phones_of(session, [prospect_id])[prospect_id])


def find_duplicates(
    session: Session, prospect: Prospect, fields: Sequence[str] = ("email", "phones")
) -> list[tuple[str, str]]:
    """(field, id of another prospect) for each of `fields` ("email", "phones") whose normalised
    value another prospect already has."""
    found: list[tuple[str, str]] = []
    if prospect.email and "email" in fields:
        hit = session.scalar(
            select(prospects.c.id).where(prospects.c.email == prospect.email, prospects.c.id != prospect.id).limit(1)
        )
        if hit:
            found.append(("email", hit))
    if prospect.phones and "phones" in fields:
        hit = session.scalar(
            select(prospect_phones.c.prospect_id)
            .where(prospect_phones.c.phone.in_(prospect.phones), prospect_phones.c.prospect_id != prospect.id)
            .limit(1)
        )
        if hit:
            found.append(("phones", hit))
    return found


def _conditions(
    *,
    query: str = "",
    owner_ids: Sequence[str] = (),
    status: ProspectStatus | None = None,
    source: ProspectSource | None = None,
    source_campaign_id: str = "",
    include_archived: bool = False,
    city: str = "",
    country_code: str = "",
    industry: str = "",
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[ColumnElement[bool]], tuple[str, ...]]:
    """What a list's filters ask of a prospect row: conditions, and needles its search text must hold
    one of (domain.search.needles)."""
    conditions: list[ColumnElement[bool]] = []
    if not include_archived:
        conditions.append(prospects.c.archived.is_(False))
    if owner_ids:
        conditions.append(prospects.c.owner_id.in_(owner_ids))
    if status:
        conditions.append(prospects.c.status == status.value)
    if source:
        conditions.append(prospects.c.source == source.value)
    if source_campaign_id:
        conditions.append(prospects.c.source_campaign_id == source_campaign_id)
    if city:
        conditions.append(prospects.c.city == city)
    if country_code:
        conditions.append(prospects.c.country_code == country_code.upper())
    if industry:
        conditions.append(prospects.c.industry == industry)
    if created_after:
        conditions.append(prospects.c.created_at >= created_after)
    if created_before:
        conditions.append(prospects.c.created_at < created_before)
    return conditions, needles(query)


def list_prospects(session: Session, *, limit: int, after_id: str | None, **filters: Any) -> list[Prospect]:
    """Prospects matching `filters` (see _conditions) in id order (ids are time-ordered, so:
    oldest first), keyset-paginated."""
    conditions, wanted = _conditions(**filters)
    rows = page_rows(session, prospects, conditions, wanted, after_id=after_id, limit=limit)
    phones = _phones_of(session, [r.id for r in rows])
    return [_row_to_prospect(r, phones[r.id]) for r in rows]


def count_prospects(session: Session, **filters: Any) -> int:
    """How many prospects match `filters` (see _conditions)."""
    conditions, wanted = _conditions(**filters)
    return count_rows(session, prospects, conditions, wanted)


# --- Bulk paths (imports) ------------------------------------------------------------------------


def add_prospects(session: Session, new: Sequence[Prospect]) -> None:
    """Inserts many new prospects and their phones with one executemany each."""
    if new:
        session.execute(insert(prospects), [{"id": p.id, "created_at": p.created_at, **_values(p)} for p in new])
        phones = [{"prospect_id": p.id, "position": i, "phone": ph} for p in new for i, ph in enumerate(p.phones)]
        if phones:
            session.execute(insert(prospect_phones), phones)


def prospect_ids_with(
    session: Session, *, emails: Collection[str] = (), phones: Collection[str] = ()
) -> dict[tuple[str, str], str]:
    """{(field, value): id of a prospect that has it} for the given normalised e-mails and phones,
    in a few queries per thousands of values."""
    found: dict[tuple[str, str], str] = {}
    lookups = (
        ("email", emails, prospects.c.email, prospects.c.id),
        ("phone", phones, prospect_phones.c.phone, prospect_phones.c.prospect_id),
    )
    for field, values, column, id_column in lookups:
        for chunk in chunked(values):
            matches: Result[str, str] = session.execute(select(column, id_column).where(column.in_(chunk)))
            for value, prospect_id in matches:
                key = (field, value)
                found[key] = min(found.get(key, prospect_id), prospect_id)
    return found
