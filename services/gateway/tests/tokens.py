"""Access tokens made in tests with the identity service's own signing key (read from its
database), to present the gateway with expired or otherwise wrong but well-signed tokens."""

from __future__ import annotations

from typing import Any

import jwt
from sqlalchemy import select

from crm_identity.adapters.tables import signing_keys

from .conftest import Stack


def forge(stack: Stack, claims: dict[str, Any]) -> str:
    assert stack.identity.db is not None
    with stack.identity.db.read() as s:
        row = s.execute(
            select(signing_keys.c.key_id, signing_keys.c.private_key_pem).order_by(signing_keys.c.created_at.desc())
        ).first()
    assert row is not None
    return jwt.encode(claims, row.private_key_pem, algorithm="EdDSA", headers={"kid": row.key_id})
