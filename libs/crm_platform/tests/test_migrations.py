"""Every service's migrations run on a fresh SQLite file and on PostgreSQL, are idempotent on
restart, and leave exactly the schema its table definitions describe."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from crm_platform.config import SERVICES
from crm_platform.db import Database, run_migrations
from crm_platform.tables import platform_metadata


def _service_tables(name: str):  # type: ignore[no-untyped-def]
    """The module declaring the service's tables: `metadata`, and optionally `include_object`, the
    Alembic hook that leaves out what its migrations make by hand and Alembic cannot compare."""
    try:
        return importlib.import_module(f"crm_{name}.adapters.tables")
    except ModuleNotFoundError:
        return importlib.import_module(f"crm_{name}.tables")


@pytest.mark.parametrize("service", list(SERVICES))
def test_migrations_create_the_declared_schema(service: str, database_url: str) -> None:
    db = Database(database_url, service)
    try:
        run_migrations(db, f"crm_{service}:migrations")
        run_migrations(db, f"crm_{service}:migrations")  # a restart migrates nothing and fails nothing
        tables = set(inspect(db.engine).get_table_names())
        assert {"outbox_events", "processed_events", "dead_letter_events", "client_requests"} <= tables
        assert "alembic_version" in tables
        with db.engine.connect() as conn:
            declared = _service_tables(service)
            opts = {"compare_type": True, "include_object": getattr(declared, "include_object", None)}
            ctx = MigrationContext.configure(conn, opts=opts)
            diffs = compare_metadata(ctx, [declared.metadata, platform_metadata])
        assert diffs == [], f"{service}: migrations and table definitions disagree: {diffs}"
    finally:
        db.dispose()
