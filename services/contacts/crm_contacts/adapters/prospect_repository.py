"""Storing and reading prospects (a row each, plus one row per phone): the translation between
table rows and domain objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from crm_contacts.adapters.rows import contains, utc
from crm_contacts.adapters.tables import prospect_phones, prospects
from crm_contacts.domain.common import Address
from crm_contacts.domain.prospects import Prospect, ProspectSource, ProspectStatus


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
        rows = session.execute(
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
    if result.rowcount != 1:  # type: ignore[attr-defined]
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


def list_prospects(
    session: Session,
    *,
    limit: int,
    after_id: str | None,
    query: str = "",
    owner_ids: Sequence[str] = (),
    status: ProspectStatus | None = None,
    source: ProspectSource | None = None,
    source_campaign_id: str = "",
) -> list[Prospect]:
    """Prospects in id order (ids are time-ordered, so: oldest first), keyset-paginated."""
    conditions = []
    if after_id:
        conditions.append(prospects.c.id > after_id)
    if owner_ids:
        conditions.append(prospects.c.owner_id.in_(owner_ids))
    if status:
        conditions.append(prospects.c.status == status.value)
    if source:
        conditions.append(prospects.c.source == source.value)
    if source_campaign_id:
        conditions.append(prospects.c.source_campaign_id == source_campaign_id)
    if query.strip():
        conditions.append(contains(prospects.c.search_text, query))
    rows = list(session.execute(select(prospects).where(*conditions).order_by(prospects.c.id).limit(limit)))
    phones = _phones_of(session, [r.id for r in rows])
    return [_row_to_prospect(r, phones[r.id]) for r in rows]
