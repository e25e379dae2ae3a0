"""Access tokens: signed with a generated Ed25519 key, they verify with the public PEM and carry
exactly the agreed claims; a wrong audience, an expired token, a tampered one or another key fail."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from crm_identity.adapters.token_signing import generate_signing_key, sign_access_token, verify_access_token
from crm_platform.ids import is_valid_id


def _now() -> datetime:
    """The real clock, read when a test runs (verification checks expiry against it; a time taken
    at import could be minutes old by then in a long run)."""
    return datetime.now(UTC)


def test_claims_round_trip() -> None:
    key = generate_signing_key(_now())
    access = sign_access_token(key, user_id="u-1", session_id="s-1", now=_now(), ttl=timedelta(minutes=15))
    claims = verify_access_token(access.token, key.public_key_pem)
    assert set(claims) == {"iss", "aud", "sub", "sid", "iat", "exp", "jti"}
    assert claims["iss"] == "crm-identity" and claims["aud"] == "crm-api"
    assert claims["sub"] == "u-1" and claims["sid"] == "s-1"
    assert claims["exp"] - claims["iat"] == 900 and is_valid_id(claims["jti"])
    assert int(access.expire_at.timestamp()) == claims["exp"]
    header = jwt.get_unverified_header(access.token)
    assert header["alg"] == "EdDSA" and header["kid"] == key.key_id
    other = sign_access_token(key, user_id="u-1", session_id="s-1", now=_now(), ttl=timedelta(minutes=15))
    assert jwt.decode(other.token, options={"verify_signature": False})["jti"] != claims["jti"]


def test_wrong_audience_fails() -> None:
    key = generate_signing_key(_now())
    token = jwt.encode(
        {"iss": "crm-identity", "aud": "someone-else", "sub": "u", "sid": "s", "iat": 1, "exp": 2**40, "jti": "j"},
        key.private_key_pem,
        algorithm="EdDSA",
    )
    with pytest.raises(jwt.InvalidAudienceError):
        verify_access_token(token, key.public_key_pem)


def test_expired_token_fails() -> None:
    key = generate_signing_key(_now())
    access = sign_access_token(
        key, user_id="u", session_id="s", now=_now() - timedelta(hours=1), ttl=timedelta(minutes=15)
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_access_token(access.token, key.public_key_pem)


def test_tampered_token_and_other_key_fail() -> None:
    key = generate_signing_key(_now())
    access = sign_access_token(key, user_id="u-1", session_id="s-1", now=_now(), ttl=timedelta(minutes=15))
    header, payload, signature = access.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "u-admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(jwt.InvalidSignatureError):
        verify_access_token(f"{header}.{forged}.{signature}", key.public_key_pem)
    with pytest.raises(jwt.InvalidSignatureError):
        verify_access_token(access.token, generate_signing_key(_now()).public_key_pem)
