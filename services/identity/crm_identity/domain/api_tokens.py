"""API tokens: long-lived bearer secrets for scripts and integrations, shown once and stored as a
SHA-256 hash with a short prefix to tell them apart. Pure Python."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from crm_identity.domain.sessions import token_digest
from crm_platform.errors import InvalidArgument

TOKEN_PREFIX = "crm_pat_"
PREFIX_LENGTH = 12
NAME_MAX = 100
# VerifyApiToken records a use at most this often, so that a busy token is not a write per request.
LAST_USE_RESOLUTION_SECONDS = 60


@dataclass(frozen=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    expire_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expire_at is None or self.expire_at > now)


@dataclass(frozen=True)
class NewSecret:
    plaintext: str
    prefix: str
    digest: str


def new_secret() -> NewSecret:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewSecret(plaintext, plaintext[:PREFIX_LENGTH], token_digest(plaintext))


def validated_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument.field("name", "is required")
    if len(name) > NAME_MAX:
        raise InvalidArgument.field("name", f"must be at most {NAME_MAX} characters")
    return name
