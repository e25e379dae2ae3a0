"""The names of records that reports refer to by id (users, clients, contacts, stages, pipelines,
campaigns), read from the reporting service's own read models, for an export that reads like a
report rather than a database dump."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_reporting.adapters import tables as t

_CHUNK = 500


def _name_of(kind: str) -> tuple[sa.Table, sa.ColumnElement[str]]:
    if kind == "user":
        return t.rm_users, t.rm_users.c.display_name
    if kind == "client":
        return t.rm_clients, t.rm_clients.c.name
    if kind == "contact":
        contact = t.rm_contacts
        return contact, sa.func.trim(contact.c.first_name + " " + contact.c.last_name)
    if kind == "stage":
        return t.rm_stages, t.rm_stages.c.name
    if kind == "pipeline":
        return t.rm_pipelines, t.rm_pipelines.c.name
    if kind == "campaign":
        return t.rm_campaigns, t.rm_campaigns.c.name
    raise ValueError(f"no names of {kind} records")


def names(session: Session, kind: str, ids: Collection[str]) -> dict[str, str]:
    """{id: name} of the given records of `kind` that the read models know (a record deleted
    since keeps its last name: its row stays, marked deleted)."""
    table, name = _name_of(kind)
    wanted = sorted(i for i in ids if i)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows: Sequence[tuple[str, str | None]] = session.execute(
            sa.select(table.c.id, name).where(table.c.id.in_(chunk))
        ).all()
        for record_id, value in rows:
            if value:
                found[record_id] = value
    return found
