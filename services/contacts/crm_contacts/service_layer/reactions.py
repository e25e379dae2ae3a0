"""How the contacts service reacts to other services' events (inside the consumer's unit of work,
which records each event id as processed in the same transaction)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from crm_contacts.adapters import prospect_repository
from crm_contacts.contract import convert
from crm_platform.db import UnitOfWork
from crm_platform.versioning import touched


def on_deal_created(uow: UnitOfWork, deal_id: str, prospect_id: str) -> None:
    """A deal opened by a prospect's conversion (`prospect_id`, its source prospect; "" for a deal
    of no conversion) is remembered on the prospect (converted_deal_id), so the prospect leads to
    it; the first deal of a conversion counts, later ones change nothing."""
    if not prospect_id:
        return
    current = prospect_repository.get_prospect(uow.session, prospect_id, for_update=True)
    if current is None or current.converted_deal_id:
        return
    after = touched(replace(current, converted_deal_id=deal_id), datetime.now(UTC))
    if not prospect_repository.update_prospect(uow.session, after, current.version):
        raise RuntimeError(f"prospect {prospect_id} changed under its row lock")  # the consumer retries the event
    uow.add_event(convert.prospect_updated(after, ["converted_deal_id"]))
