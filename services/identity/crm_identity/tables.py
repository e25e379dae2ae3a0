"""The identity service's table metadata, under the name the platform's migration test and the
Alembic env look for; the tables themselves are defined in adapters/tables.py."""

from crm_identity.adapters.tables import metadata

__all__ = ["metadata"]
