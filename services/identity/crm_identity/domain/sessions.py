"""Sessions and their refresh tokens: when a refresh token expires, and the opaque tokens
themselves (only their SHA-256 is ever stored). Pure Python."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

REASON_LOGOUT = "logout"
REASON_DEACTIVATED = "deactivated"
REASON_PASSWORD_CHANGED = "password_changed"
REASON_REFRESH_TOKEN_REUSED = "refresh_token_reused"
REASON_MAX = 100
# An ended (revoked or expired) session and its refresh tokens are deleted this long after it
# ended. Until then a used token presented again is still recognised, and named in the answer.
ENDED_SESSION_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    client_address: str
    user_agent: str
    created_at: datetime
    last_refresh_at: datetime | None
    expire_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str = ""


def refresh_expiry(now: datetime, created_at: datetime, ttl: timedelta, max_age: timedelta) -> datetime:
    """Sliding: `ttl` after the latest sign-in or refresh, but never past `max_age` after sign-in."""
    return min(now + ttl, created_at + max_age)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a bearer secret: its SHA-256 in hex. The tokens carry 256 random bits,
    so a fast hash is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()
