"""The campaigns service's own tables (none yet beyond the platform tables)."""

import sqlalchemy as sa

metadata = sa.MetaData()
