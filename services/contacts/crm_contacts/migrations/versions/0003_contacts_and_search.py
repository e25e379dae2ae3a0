"""Contacts and their phones; client phones indexed for duplicate checks and client e-mail domains
(for conversions that reuse a client); archived prospects and whether a conversion created its
client; text search indexes over clients, contacts and prospects.

The search column (`search_text`: case-folded names, e-mail, tax id) is indexed by trigrams: on
PostgreSQL a GIN index with pg_trgm's operator class over `search_key`, a generated column holding
that text with spaces and punctuation turned into a letter (so that trigrams span them), which
answers LIKE '%...%'; on SQLite an
FTS5 table with the trigram tokenizer over the table's rows (external content, keyed by the
implicit rowid), and `<table>_search_late`, the ids of rows inserted after a row with a greater id
(the search reads matches in rowid order and needs to know which rows are not in id order), both
kept by triggers. A later migration that rebuilds one of these tables on SQLite (Alembic's batch
mode copies it into a new table) drops its triggers and may renumber its rowids: it must create
the triggers again and rebuild the FTS table (`INSERT INTO <table>_search(<table>_search) VALUES
('rebuild')`), as `_create_fts` does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED_TABLES = ("clients", "contacts", "prospects")
_BATCH = 2000


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _clients()
    _prospects()
    _contacts()
    for table in SEARCHED_TABLES:
        if sqlite:
            _create_fts(table)
        else:
            _create_trigram_index(table)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _phones_table(name: str, owner: str, owner_table: str) -> None:
    op.create_table(
        name,
        sa.Column(f"{owner}_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            [f"{owner}_id"], [f"{owner_table}.id"], name=f"fk_{name}_{owner}_id", ondelete="CASCADE"
        ),
    )
    op.create_index(f"ix_{name}_phone", name, ["phone"])


def _clients() -> None:
    op.add_column("clients", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("clients", sa.Column("email_domain", sa.String(255), nullable=False, server_default=""))
    # search_text (name, legal name, e-mail, tax id) replaces name_search (the name alone).
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_name_search")
        batch.drop_column("name_search")
    op.create_index("ix_clients_email_domain", "clients", ["email_domain"])
    _phones_table("client_phones", "client", "clients")
    _backfill_clients()


def _backfill_clients() -> None:
    """Search text, e-mail domain and phone rows of the clients stored before this migration."""
    bind = op.get_bind()
    clients = sa.table(
        "clients",
        sa.column("id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("legal_name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("tax_id", sa.String()),
        sa.column("phones", sa.JSON()),
        sa.column("search_text", sa.Text()),
        sa.column("email_domain", sa.String()),
    )
    phones = sa.table("client_phones", sa.column("client_id"), sa.column("position"), sa.column("phone"))
    after = ""
    while True:
        rows = bind.execute(
            sa.select(
                clients.c.id, clients.c.name, clients.c.legal_name, clients.c.email, clients.c.tax_id, clients.c.phones
            )
            .where(clients.c.id > after)
            .order_by(clients.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(clients)
            .where(clients.c.id == sa.bindparam("b_id"))
            .values(search_text=sa.bindparam("b_search_text"), email_domain=sa.bindparam("b_email_domain")),
            [
                {
                    "b_id": r.id,
                    "b_search_text": " ".join(v for v in (r.name, r.legal_name, r.email, r.tax_id) if v).casefold(),
                    "b_email_domain": r.email.rpartition("@")[2].lower() if "@" in r.email else "",
                }
                for r in rows
            ],
        )
        phone_rows = [
            {"client_id": r.id, "position": i, "phone": p} for r in rows for i, p in enumerate(r.phones or ())
        ]
        if phone_rows:
            bind.execute(sa.insert(phones), phone_rows)
        after = rows[-1].id


def _prospects() -> None:
    op.add_column(
        "prospects", sa.Column("converted_client_created", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("prospects", sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()))


def _contacts() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("job_title", sa.String(500), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("decision_role", sa.String(20), nullable=False, server_default=""),
        sa.Column("is_primary", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_contacts_client_id"),
    )
    op.create_index("ix_contacts_client_id", "contacts", ["client_id", "id"])
    op.create_index("ix_contacts_owner_id", "contacts", ["owner_id", "id"])
    op.create_index("ix_contacts_email", "contacts", ["email"])
    op.create_index(
        "uq_contacts_primary",
        "contacts",
        ["client_id"],
        unique=True,
        sqlite_where=sa.text("is_primary"),
        postgresql_where=sa.text("is_primary"),
    )
    _phones_table("contact_phones", "contact", "contacts")


# pg_trgm makes trigrams of words only; with spaces and punctuation seen as a letter, a trigram
# spans them. The server keeps that text in `search_key` (a generated column: the ORM never writes
# it), so that checking an index candidate is a plain LIKE (adapters/search.py turns needles the
# same way).
_WORD_JOINERS = " .,;:@-_/&+#!?()'"


def _create_trigram_index(table: str) -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    joiners = _WORD_JOINERS.replace("'", "''")
    op.execute(
        f"ALTER TABLE {table} ADD COLUMN search_key text GENERATED ALWAYS AS "
        f"(translate(search_text, '{joiners}', '{'q' * len(_WORD_JOINERS)}')) STORED"
    )
    op.execute(f"CREATE INDEX ix_{table}_search_trgm ON {table} USING gin (search_key gin_trgm_ops)")


def _create_fts(table: str) -> None:
    fts = f"{table}_search"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', content_rowid='rowid', "
        "tokenize='trigram')"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.rowid, new.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF search_text ON {table} "
        "WHEN old.search_text IS NOT new.search_text BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.rowid, new.search_text); END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    late = f"{table}_search_late"
    op.execute(f"CREATE TABLE {late} (id VARCHAR(36) NOT NULL PRIMARY KEY)")
    op.execute(
        f"CREATE TRIGGER {late}_insert AFTER INSERT ON {table} WHEN new.id < (SELECT max(id) FROM {table}) BEGIN "
        f"INSERT OR IGNORE INTO {late}(id) VALUES (new.id); END"
    )
    op.execute(f"CREATE TRIGGER {late}_delete AFTER DELETE ON {table} BEGIN DELETE FROM {late} WHERE id = old.id; END")
    op.execute(
        f"INSERT INTO {late}(id) SELECT id FROM (SELECT id, max(id) OVER (ORDER BY rowid ROWS BETWEEN UNBOUNDED "
        f"PRECEDING AND 1 PRECEDING) AS before FROM {table}) WHERE id < before"
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in SEARCHED_TABLES:
        if sqlite:
            for trigger in (
                "search_insert",
                "search_delete",
                "search_update",
                "search_late_insert",
                "search_late_delete",
            ):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {table}_search")
            op.execute(f"DROP TABLE IF EXISTS {table}_search_late")
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_trgm")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_key")
    op.drop_table("contact_phones")
    op.drop_table("contacts")
    with op.batch_alter_table("prospects") as batch:
        batch.drop_column("archived")
        batch.drop_column("converted_client_created")
    op.drop_table("client_phones")
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("name_search", sa.String(200), nullable=False, server_default=""))
        batch.drop_index("ix_clients_email_domain")
        batch.drop_column("email_domain")
        batch.drop_column("search_text")
    op.execute("UPDATE clients SET name_search = lower(name)")
    op.create_index("ix_clients_name_search", "clients", ["name_search"])
