"""Access tokens: Ed25519 signing keys and the JWTs (EdDSA) signed with them. The gateway verifies
these tokens with the public keys alone; `verify_access_token` is the same check, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crm_platform.ids import new_id

ISSUER = "crm-identity"
AUDIENCE = "crm-api"
ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "iat", "exp", "jti"]


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    algorithm: str
    private_key_pem: str
    public_key_pem: str
    created_at: datetime


def generate_signing_key(now: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return SigningKey(new_id(), ALGORITHM, private_pem, public_pem, now)


@dataclass(frozen=True)
class AccessToken:
    token: str
    expire_at: datetime


def sign_access_token(key: SigningKey, *, user_id: str, session_id: str, now: datetime, ttl: timedelta) -> AccessToken:
    issued = int(now.timestamp())
    expires = issued + int(ttl.total_seconds())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "sid": session_id,
        "iat": issued,
        "exp": expires,
        "jti": new_id(),
    }
    token = jwt.encode(claims, key.private_key_pem, algorithm=key.algorithm, headers={"kid": key.key_id})
    return AccessToken(token, datetime.fromtimestamp(expires, now.tzinfo))


def verify_access_token(token: str, public_key_pem: str, *, leeway: float = 0) -> dict[str, Any]:
    """The claims of a token signed by the key, for this audience and issuer, not expired; else
    jwt.InvalidTokenError (or a subclass)."""
    return jwt.decode(
        token,
        public_key_pem,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": REQUIRED_CLAIMS},
        leeway=leeway,
    )
