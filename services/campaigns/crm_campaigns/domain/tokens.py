"""Signed unsubscribe tokens: `<member id>.<HMAC-SHA256 of it, truncated to 128 bits>`, base64url.
Only the campaigns service holds the key; a token names one member and cannot be forged or
turned into another's. Pure Python."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _sig(key: bytes, member_id: str) -> str:
    digest = hmac.new(key, f"unsubscribe:{member_id}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsubscribe_token(key: bytes, member_id: str) -> str:
    return f"{member_id}.{_sig(key, member_id)}"


def member_of_token(key: bytes, token: str) -> str | None:
    """The member id a genuine token names; None for a forged or malformed one."""
    member_id, dot, sig = token.strip().partition(".")
    if not dot or not member_id or len(token) > 200:
        return None
    return member_id if hmac.compare_digest(sig, _sig(key, member_id)) else None
