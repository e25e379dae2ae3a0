"""Tax ids in their country's normal form (crm_contacts.domain.tax_ids): each stored client's and
prospect's tax id that passes its country's rule is rewritten in that rule's normal form (9001234568
→ 900123456-8), and a client's search text is recomputed to hold it. A tax id that breaks its
country's rule is left exactly as it is: the migration cannot know the right one; the record keeps
it until someone edits it, and an edit then has to give a valid one. Two clients whose ids were
written differently (900123456-8 and 9001234568) both stay: the duplicate check finds them from now
on, and merging them is a person's decision.

It calls the domain's rule rather than a frozen copy: the rule is the library's (python-stdnum),
and a migration that wrote another normal form than the service's would split duplicates again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_contacts.domain.tax_ids import normal_tax_id_or_given

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def _search_text(*values: str) -> str:
    return " ".join(v for v in values if v).casefold()


def _normalise(table: sa.TableClause, with_search: bool) -> None:
    bind = op.get_bind()
    after = ""
    while True:
        rows = bind.execute(
            sa.select(table).where(table.c.id > after, table.c.tax_id != "").order_by(table.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for r in rows:
            value = normal_tax_id_or_given(r.tax_country, r.tax_id)
            if value == r.tax_id:
                continue
            change = {"b_id": r.id, "b_tax_id": value}
            if with_search:
                change["b_search_text"] = _search_text(r.name, r.legal_name, r.email, value)
            changed.append(change)
        if changed:
            values = {"tax_id": sa.bindparam("b_tax_id")}
            if with_search:
                values["search_text"] = sa.bindparam("b_search_text")
            bind.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id")).values(**values), changed)
        after = rows[-1].id


def upgrade() -> None:
    def columns() -> tuple[sa.ColumnClause[str], ...]:
        return (sa.column("id", sa.String()), sa.column("tax_country", sa.String()), sa.column("tax_id", sa.String()))

    clients = sa.table(
        "clients",
        *columns(),
        sa.column("name", sa.String()),
        sa.column("legal_name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("search_text", sa.Text()),
    )
    _normalise(clients, with_search=True)
    _normalise(sa.table("prospects", *columns()), with_search=False)


def downgrade() -> None:
    """The earlier forms are not kept: a downgrade leaves the normal forms (still valid ids)."""
