"""Migration 0004 on SQLite and PostgreSQL: stored tax ids that pass their country's rule are
rewritten in its normal form (and a client's search text with them); an invalid one, and one of a
country without a rule, are left exactly as they were."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from crm_contacts.adapters.tables import clients, prospects
from crm_platform.db import Database, run_migrations

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _client_row(i: int, country: str, tax_id: str) -> dict[str, object]:
    return {
        "id": f"0192d6e0-0000-7000-8000-00000000000{i}",
        "kind": "company",
        "name": f"Cliente {i}",
        "segment_tags": [],
        "phones": [],
        "owner_id": "u1",
        "tax_country": country,
        "tax_id": tax_id,
        "search_text": f"cliente {i} {tax_id.casefold()}",
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }


def test_valid_tax_ids_take_their_normal_form_and_invalid_ones_stay(database_url: str) -> None:
    db = Database(database_url, "contacts")
    try:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", "crm_contacts:migrations")
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            conn.commit()
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(clients),
                [
                    _client_row(1, "CO", "9001234568"),  # valid, compact
                    _client_row(2, "CO", "900.123.456-7"),  # wrong check digit: kept
                    _client_row(3, "AR", "20267565393"),  # valid CUIT
                    _client_row(4, "US", "12-3456789"),  # no rule: kept
                ],
            )
            conn.execute(
                sa.insert(prospects),
                {
                    "id": "0192d6e0-0000-7000-8000-0000000000a1",
                    "company_name": "Prospecto",
                    "phones": [],
                    "source": "web",
                    "status": "new",
                    "owner_id": "u1",
                    "tax_country": "CL",
                    "tax_id": "12.345.678-5",
                    "search_text": "prospecto",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "version": 1,
                },
            )

        run_migrations(db, "crm_contacts:migrations")

        with db.engine.connect() as conn:
            stored = dict(conn.execute(sa.select(clients.c.name, clients.c.tax_id)).all())
            search = conn.execute(sa.select(clients.c.search_text).where(clients.c.name == "Cliente 1")).scalar_one()
            prospect = conn.execute(sa.select(prospects.c.tax_id)).scalar_one()
        assert stored == {
            "Cliente 1": "900123456-8",
            "Cliente 2": "900.123.456-7",
            "Cliente 3": "20-26756539-3",
            "Cliente 4": "12-3456789",
        }
        assert search == "cliente 1 900123456-8"
        assert prospect == "12345678-5"
    finally:
        db.dispose()
