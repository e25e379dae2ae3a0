"""List pagination shared by every service (AIP-158): page_size 0 → default, negative →
INVALID_ARGUMENT, above the maximum → capped; page tokens are opaque, URL-safe, and encode the
sort key of the last row returned (keyset pagination: stable under concurrent inserts, and as
fast on page 1,000 as on page 1). A token is bound to the filters it was issued for."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from crm_platform.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument.field("page_size", "must not be negative")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def _fingerprint(filters: Any) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:12]


def encode_token(last_key: list[Any], filters: Any = None) -> str:
    raw = json.dumps({"k": last_key, "f": _fingerprint(filters)}, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, filters: Any = None) -> list[Any] | None:
    """The last key of the previous page, or None for the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        key = data["k"]
        fingerprint = data["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.field("page_token", "is not a token this list issued") from None
    if fingerprint != _fingerprint(filters):
        raise InvalidArgument.field("page_token", "was issued for different filters")
    if not isinstance(key, list):
        raise InvalidArgument.field("page_token", "is not a token this list issued")
    return key
