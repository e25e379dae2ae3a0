"""API tokens over real gRPC, on SQLite and PostgreSQL: the plaintext is answered once and only
its hash stored; verify, list, revoke (only the named owner's, when one is named); a retried
create answers the same token without the plaintext; unknown, expired, revoked tokens and
inactive users are refused alike; events."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select, update

from crm.identity.v1 import events_pb2, identity_pb2
from crm.identity.v1.identity_pb2_grpc import IdentityServiceStub
from crm_identity.adapters.tables import api_tokens
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_platform.testing import wait_for_event

MakeUser = Callable[..., identity_pb2.User]
UNKNOWN_ID = "0190f0e0-0000-7000-8000-000000000000"


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _create(
    stub: IdentityServiceStub, user_id: str, name: str = "ERP sync", **kw: object
) -> identity_pb2.CreateApiTokenResponse:
    return stub.CreateApiToken(identity_pb2.CreateApiTokenRequest(user_id=user_id, name=name, **kw), timeout=5)


def _verify(stub: IdentityServiceStub, token: str) -> identity_pb2.VerifyApiTokenResponse:
    return stub.VerifyApiToken(identity_pb2.VerifyApiTokenRequest(plaintext_token=token), timeout=5)


def _count(rt: ServiceRuntime) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(api_tokens)) or 0)


def test_create_verify_list_revoke(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser, nats_server: NatsServer
) -> None:
    ana = make_user("ana@example.com")
    made = _create(stub, ana.id, "  Mailchimp webhook ")
    token, plaintext = made.api_token, made.plaintext_token
    assert plaintext.startswith("crm_pat_") and len(plaintext) > 40 and token.prefix == plaintext[:12]
    assert token.name == "Mailchimp webhook" and token.user_id == ana.id and not token.HasField("expire_time")
    assert identity.db is not None
    with identity.db.read() as s:
        row = s.execute(select(api_tokens)).one()
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in {str(v) for v in row}

    checked = _verify(stub, plaintext)
    assert checked.user.id == ana.id and checked.api_token.id == token.id
    assert checked.api_token.HasField("last_use_time")
    # A use is recorded at most once a minute: a second check within it writes nothing.
    assert _verify(stub, plaintext).api_token.last_use_time == checked.api_token.last_use_time
    with identity.db.uow() as uow:  # a minute later, the next use is recorded
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        uow.session.execute(update(api_tokens).values(last_used_at=an_hour_ago))
        uow.commit()
    assert _verify(stub, plaintext).api_token.last_use_time.ToDatetime(UTC) > an_hour_ago + timedelta(minutes=59)

    other = _create(stub, make_user("beto@example.com").id).api_token
    listed = stub.ListApiTokens(identity_pb2.ListApiTokensRequest(user_id=ana.id), timeout=5).api_tokens
    assert [t.id for t in listed] == [token.id]
    everyone = stub.ListApiTokens(identity_pb2.ListApiTokensRequest(page_size=1), timeout=5)
    rest = stub.ListApiTokens(
        identity_pb2.ListApiTokensRequest(page_size=1, page_token=everyone.next_page_token), timeout=5
    )
    assert [t.id for t in [*everyone.api_tokens, *rest.api_tokens]] == [token.id, other.id]

    revoked = stub.RevokeApiToken(identity_pb2.RevokeApiTokenRequest(id=token.id), timeout=5).api_token
    assert revoked.HasField("revoke_time")
    assert stub.RevokeApiToken(identity_pb2.RevokeApiTokenRequest(id=token.id), timeout=5).api_token == revoked
    refused = _error(lambda: _verify(stub, plaintext))
    assert (refused.code, refused.reason) == (grpc.StatusCode.UNAUTHENTICATED, "invalid_token")
    assert stub.ListApiTokens(identity_pb2.ListApiTokensRequest(user_id=ana.id), timeout=5).api_tokens == []
    with_revoked = identity_pb2.ListApiTokensRequest(user_id=ana.id, include_revoked=True)
    assert [t.id for t in stub.ListApiTokens(with_revoked, timeout=5).api_tokens] == [token.id]

    created = wait_for_event(nats_server.url, events_pb2.ApiTokenCreated, lambda e: e.api_token.id == token.id)
    assert created.api_token == token
    gone = wait_for_event(nats_server.url, events_pb2.ApiTokenRevoked, lambda e: e.api_token.id == token.id)
    assert gone.api_token.HasField("revoke_time")
    info = _error(lambda: stub.RevokeApiToken(identity_pb2.RevokeApiTokenRequest(id=UNKNOWN_ID), timeout=5))
    assert (info.code, info.reason) == (grpc.StatusCode.NOT_FOUND, "api_token_not_found")


def test_a_retried_create_answers_the_same_token_without_its_plaintext(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    ana = make_user("ana@example.com")
    first = _create(stub, ana.id, request_id="tok-1")
    again = _create(stub, ana.id, request_id="tok-1")
    assert again.api_token == first.api_token and first.plaintext_token and again.plaintext_token == ""
    assert _count(identity) == 1
    # The same request id from another user is another request.
    beto = make_user("beto@example.com")
    assert _create(stub, beto.id, request_id="tok-1").api_token.user_id == beto.id


def test_refused_tokens_and_bad_requests(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    ana = make_user("ana@example.com")
    soon = Timestamp()
    soon.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    made = _create(stub, ana.id, expire_time=soon)
    assert made.api_token.expire_time == soon
    assert _verify(stub, made.plaintext_token).user.id == ana.id

    assert identity.db is not None
    with identity.db.uow() as uow:  # now it has expired
        uow.session.execute(update(api_tokens).values(expire_at=datetime.now(UTC) - timedelta(seconds=1)))
        uow.commit()
    live = _create(stub, ana.id, "still valid").plaintext_token
    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=ana.id), timeout=5)
    for plaintext in (made.plaintext_token, live, "crm_pat_made-up", "garbage", ""):
        info = _error(lambda p=plaintext: _verify(stub, p))  # type: ignore[misc]
        assert (info.code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "invalid_token"), plaintext
    before = _count(identity)

    past = Timestamp()
    past.FromDatetime(datetime.now(UTC) - timedelta(minutes=1))
    beto = make_user("beto@example.com")
    for kwargs, code, field in [
        ({"user_id": beto.id, "name": " "}, grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ({"user_id": beto.id, "name": "x" * 101}, grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ({"user_id": beto.id, "name": "n", "expire_time": past}, grpc.StatusCode.INVALID_ARGUMENT, "expire_time"),
        ({"user_id": UNKNOWN_ID, "name": "n"}, grpc.StatusCode.NOT_FOUND, None),
        ({"user_id": ana.id, "name": "n"}, grpc.StatusCode.FAILED_PRECONDITION, None),
    ]:
        info = _error(lambda k=kwargs: stub.CreateApiToken(identity_pb2.CreateApiTokenRequest(**k), timeout=5))  # type: ignore[misc]
        assert info.code == code, kwargs
        if field:
            assert [v.field for v in info.violations] == [field]
    assert _count(identity) == before


def test_revoke_naming_the_owner_refuses_another_users_token(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    ana, beto = make_user("ana@example.com"), make_user("beto@example.com")
    made = _create(stub, ana.id)
    assert identity.db is not None

    def revoke(owner: str) -> identity_pb2.ApiToken:
        return stub.RevokeApiToken(
            identity_pb2.RevokeApiTokenRequest(id=made.api_token.id, user_id=owner), timeout=5
        ).api_token

    def state() -> tuple[object, int]:
        with identity.db.read() as s:  # type: ignore[union-attr]
            revoked_at = s.scalar(select(api_tokens.c.revoked_at))
            return revoked_at, int(s.scalar(select(func.count()).select_from(outbox_events)) or 0)

    before = state()
    for owner in (beto.id, UNKNOWN_ID, "junk"):
        info = _error(lambda o=owner: revoke(o))  # type: ignore[misc]
        assert (info.code, info.reason) == (grpc.StatusCode.NOT_FOUND, "api_token_not_found"), owner
        assert info.message == f"API token '{made.api_token.id}' not found"
    assert state() == before and before[0] is None  # not revoked, no event
    assert _verify(stub, made.plaintext_token).user.id == ana.id

    revoked = revoke(ana.id)
    assert revoked.HasField("revoke_time") and revoked.user_id == ana.id
    assert revoke(ana.id) == revoked
    # Revoked or not, another user's token is not found (not answered as it is).
    assert _error(lambda: revoke(beto.id)).code == grpc.StatusCode.NOT_FOUND
