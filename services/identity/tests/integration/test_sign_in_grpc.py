"""Sign-in over real gRPC, on SQLite and PostgreSQL: Login's JWT verifies with the published key
and carries the agreed claims; wrong credentials all look the same; failed attempts are limited
per account and per address (in the database, so even parallel guesses stop at the limit);
refresh tokens rotate and a reused one ends the session; sessions end on logout, deactivation and
password change, with their events on JetStream; a wrong current password at ChangePassword counts
as a failed sign-in; sign-ins delete sessions (and their refresh tokens) that ended a day ago."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest
from sqlalchemy import func, select, update

from crm.identity.v1 import events_pb2, identity_pb2
from crm.identity.v1.identity_pb2_grpc import IdentityServiceStub
from crm_identity.adapters import repository
from crm_identity.adapters.password_hashing import PasswordHashing
from crm_identity.adapters.tables import login_attempts, refresh_tokens, sessions, users
from crm_identity.adapters.token_signing import generate_signing_key, verify_access_token
from crm_identity.bootstrap import SPEC
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import wait_for_event

MakeUser = Callable[..., identity_pb2.User]
PASSWORD = "correct horse battery"  # what make_user gives
UNKNOWN_ID = "0190f0e0-0000-7000-8000-000000000000"


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _login(
    stub: IdentityServiceStub, email: str, password: str = PASSWORD, address: str = "10.0.0.1"
) -> identity_pb2.LoginResponse:
    req = identity_pb2.LoginRequest(email=email, password=password, client_address=address, user_agent="pytest")
    return stub.Login(req, timeout=5)


def _refresh(stub: IdentityServiceStub, token: str) -> identity_pb2.RefreshSessionResponse:
    return stub.RefreshSession(identity_pb2.RefreshSessionRequest(refresh_token=token), timeout=5)


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _session(stub: IdentityServiceStub, session_id: str) -> identity_pb2.Session:
    return stub.GetSession(identity_pb2.GetSessionRequest(id=session_id), timeout=5).session


@pytest.fixture
def identity_with(
    database_url: str, start_service: Callable[..., ServiceRuntime], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[ServiceRuntime, IdentityServiceStub]]]:
    """Starts the service with some CRM_IDENTITY_* settings (e.g. login_max_failures_per_address=3)."""
    channels: list[grpc.Channel] = []

    def _start(**settings: object) -> tuple[ServiceRuntime, IdentityServiceStub]:
        for name, value in settings.items():
            monkeypatch.setenv(f"CRM_IDENTITY_{name.upper()}", str(value))
        rt = start_service(SPEC, database_url)
        channels.append(grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}"))
        return rt, IdentityServiceStub(channels[-1])

    yield _start
    for channel in channels:
        channel.close()


def test_login_returns_a_jwt_that_verifies_with_the_published_key(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    ana = make_user("ana@example.com")
    before = datetime.now(UTC)
    res = _login(stub, "  ANA@Example.com ")
    keys = stub.ListSigningKeys(identity_pb2.ListSigningKeysRequest(), timeout=5).signing_keys
    assert len(keys) == 1 and keys[0].algorithm == "EdDSA" and "PUBLIC KEY" in keys[0].public_key_pem
    assert jwt.get_unverified_header(res.access_token)["kid"] == keys[0].key_id
    claims = verify_access_token(res.access_token, keys[0].public_key_pem)
    assert claims["sub"] == ana.id and claims["sid"] == res.session.id
    assert claims["iss"] == "crm-identity" and claims["aud"] == "crm-api" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 900 and res.access_token_expire_time.seconds == claims["exp"]
    refresh_expiry = res.refresh_token_expire_time.ToDatetime(UTC)
    assert timedelta(days=14) - timedelta(seconds=5) <= refresh_expiry - before <= timedelta(days=14, seconds=5)
    assert res.session.user_id == ana.id and res.session.client_address == "10.0.0.1"
    assert res.session.user_agent == "pytest" and not res.session.HasField("revoke_time")
    assert _session(stub, res.session.id) == res.session
    assert res.user.id == ana.id and res.user.HasField("last_login_time")
    stored = stub.GetUser(identity_pb2.GetUserRequest(id=ana.id), timeout=5).user
    assert stored.last_login_time == res.user.last_login_time and stored.version == 1  # bookkeeping, not an edit
    assert len(res.refresh_token) >= 43
    assert identity.db is not None
    with identity.db.read() as s:  # only the refresh token's hash is stored
        stored_hashes = list(s.scalars(select(refresh_tokens.c.token_hash)))
    assert stored_hashes == [hashlib.sha256(res.refresh_token.encode()).hexdigest()]

    # A newer key signs from then on; both are published, newest first.
    with identity.db.uow() as uow:
        newer = generate_signing_key(datetime.now(UTC) + timedelta(seconds=1))
        repository.add_signing_key(uow.session, newer)
        uow.commit()
    keys = stub.ListSigningKeys(identity_pb2.ListSigningKeysRequest(), timeout=5).signing_keys
    assert [k.key_id for k in keys] == [newer.key_id, _kid(res.access_token)]
    again = _login(stub, "ana@example.com")
    assert jwt.get_unverified_header(again.access_token)["kid"] == newer.key_id
    assert verify_access_token(again.access_token, newer.public_key_pem)["sid"] == again.session.id


def test_wrong_credentials_all_give_the_same_answer(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    make_user("ana@example.com")
    make_user("sinclave@example.com", password="")
    gone = make_user("gone@example.com")
    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=gone.id), timeout=5)
    answers = [
        _error(lambda: _login(stub, "nobody@example.com")),
        _error(lambda: _login(stub, "ana@example.com", "wrong password!")),
        _error(lambda: _login(stub, "sinclave@example.com", "")),
        _error(lambda: _login(stub, "gone@example.com")),
        _error(lambda: _login(stub, "not an address")),
    ]
    assert {(a.code, a.message, a.reason) for a in answers} == {
        (grpc.StatusCode.UNAUTHENTICATED, "invalid e-mail or password", "invalid_credentials")
    }


def test_login_upgrades_an_outdated_password_hash(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    ana = make_user("ana@example.com")
    old = PasswordHashing(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    assert identity.db is not None
    with identity.db.uow() as uow:
        uow.session.execute(update(users).where(users.c.id == ana.id).values(password_hash=old))
        uow.commit()
    _login(stub, "ana@example.com")
    with identity.db.read() as s:
        upgraded = s.scalar(select(users.c.password_hash).where(users.c.id == ana.id))
    assert upgraded != old and "m=1024,t=1,p=1" in upgraded  # the service's (test) parameters
    _login(stub, "ana@example.com")


def _attempts(rt: ServiceRuntime, email_key: str) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(
            s.scalar(select(func.count()).select_from(login_attempts).where(login_attempts.c.email_key == email_key))
            or 0
        )


def test_failed_logins_are_limited_per_account(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    make_user("ana@example.com")
    make_user("beto@example.com")
    # Failures below the limit are cleared by a success.
    for _ in range(4):
        assert (
            _error(lambda: _login(stub, "ana@example.com", "wrong password!")).code == grpc.StatusCode.UNAUTHENTICATED
        )
    _login(stub, "ana@example.com")
    assert _attempts(identity, "ana@example.com") == 0

    for _ in range(5):
        assert (
            _error(lambda: _login(stub, "ANA@example.com", "wrong password!")).code == grpc.StatusCode.UNAUTHENTICATED
        )
    # The sixth attempt is refused before the password is looked at: the right one does not get in.
    locked = _error(lambda: _login(stub, "ana@example.com"))
    assert locked.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert locked.message == "too many failed sign-in attempts; retry later"
    assert 890 <= int(locked.metadata["retry_after_seconds"]) <= 900
    assert _attempts(identity, "ana@example.com") == 5  # refused attempts are not counted
    _login(stub, "beto@example.com")  # another account, from the same address, is not locked
    # An admin setting a new password for the locked-out user opens the account again.
    ana = stub.ListUsers(identity_pb2.ListUsersRequest(query="ana@"), timeout=5).users[0]
    stub.ChangePassword(identity_pb2.ChangePasswordRequest(user_id=ana.id, new_password="nueva clave 2026"), timeout=5)
    assert _attempts(identity, "ana@example.com") == 0
    _login(stub, "ana@example.com", "nueva clave 2026")
    for _ in range(5):
        _error(lambda: _login(stub, "ana@example.com", "wrong password!"))

    # Once the failures are older than the window they are purged, and the account opens again.
    assert identity.db is not None
    with identity.db.uow() as uow:
        uow.session.execute(
            update(login_attempts).values(attempted_at=login_attempts.c.attempted_at - timedelta(seconds=901))
        )
        uow.commit()
    _login(stub, "beto@example.com")  # any sign-in purges attempts older than the window
    assert _attempts(identity, "ana@example.com") == 0
    _login(stub, "ana@example.com", "nueva clave 2026")


def test_failed_logins_are_limited_per_address(
    identity_with: Callable[..., tuple[ServiceRuntime, IdentityServiceStub]],
) -> None:
    _rt, stub = identity_with(login_max_failures_per_address=3)
    stub.CreateUser(
        identity_pb2.CreateUserRequest(
            user=identity_pb2.User(email="ana@example.com", display_name="Ana", role=identity_pb2.ROLE_REP),
            password=PASSWORD,
        ),
        timeout=5,
    )
    for i in range(3):  # three different accounts, each below its own limit
        _error(lambda i=i: _login(stub, f"guess{i}@example.com", address="203.0.113.9"))  # type: ignore[misc]
    locked = _error(lambda: _login(stub, "ana@example.com", address="203.0.113.9"))
    assert locked.code == grpc.StatusCode.RESOURCE_EXHAUSTED and int(locked.metadata["retry_after_seconds"]) > 0
    _login(stub, "ana@example.com", address="198.51.100.7")


def test_parallel_guesses_stop_at_the_limit(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    make_user("ana@example.com")
    with ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(lambda _: _error(lambda: _login(stub, "ana@example.com", "wrong password!")), range(12))
        )
    codes = [a.code for a in answers]
    assert codes.count(grpc.StatusCode.UNAUTHENTICATED) == 5
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 7


def test_refresh_rotates_and_a_reused_token_ends_the_session(
    stub: IdentityServiceStub, make_user: MakeUser, nats_server: NatsServer
) -> None:
    ana = make_user("ana@example.com")
    first = _login(stub, "ana@example.com")
    second = _refresh(stub, first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert second.session.id == first.session.id and second.session.HasField("last_refresh_time")
    assert second.refresh_token_expire_time.ToDatetime() >= first.refresh_token_expire_time.ToDatetime()
    assert second.user.id == ana.id
    keys = stub.ListSigningKeys(identity_pb2.ListSigningKeysRequest(), timeout=5).signing_keys
    assert verify_access_token(second.access_token, keys[0].public_key_pem)["sid"] == first.session.id
    third = _refresh(stub, second.refresh_token)

    reused = _error(lambda: _refresh(stub, first.refresh_token))
    assert reused.code == grpc.StatusCode.UNAUTHENTICATED and reused.reason == "invalid_token"
    assert reused.metadata == {"revoked_session_id": first.session.id}
    ended = _session(stub, first.session.id)
    assert ended.HasField("revoke_time") and ended.revoke_reason == "refresh_token_reused"
    # Whoever holds the newest token is out too: the whole session ended.
    assert _error(lambda: _refresh(stub, third.refresh_token)).code == grpc.StatusCode.UNAUTHENTICATED
    event = wait_for_event(nats_server.url, events_pb2.SessionRevoked, lambda e: e.session.id == first.session.id)
    assert event.session.revoke_reason == "refresh_token_reused" and event.session.user_id == ana.id
    assert _error(lambda: _refresh(stub, "made-up")).code == grpc.StatusCode.UNAUTHENTICATED


def test_refresh_fails_once_the_session_expired(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    make_user("ana@example.com")
    res = _login(stub, "ana@example.com")
    assert identity.db is not None
    with identity.db.uow() as uow:
        uow.session.execute(
            update(sessions)
            .where(sessions.c.id == res.session.id)
            .values(expire_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        uow.commit()
    assert _error(lambda: _refresh(stub, res.refresh_token)).code == grpc.StatusCode.UNAUTHENTICATED


def test_refresh_slides_but_never_past_the_maximum_age(
    identity_with: Callable[..., tuple[ServiceRuntime, IdentityServiceStub]],
) -> None:
    rt, stub = identity_with(refresh_token_ttl_seconds=3600, session_max_age_seconds=5400)
    stub.CreateUser(
        identity_pb2.CreateUserRequest(
            user=identity_pb2.User(email="ana@example.com", display_name="Ana", role=identity_pb2.ROLE_REP),
            password=PASSWORD,
        ),
        timeout=5,
    )
    res = _login(stub, "ana@example.com")
    created = res.session.create_time.ToDatetime(UTC)
    assert res.refresh_token_expire_time.ToDatetime(UTC) - created == timedelta(hours=1)
    # Pretend the sign-in was 50 minutes ago: the next refresh slides to 40 minutes from now at most.
    assert rt.db is not None
    earlier = created - timedelta(minutes=50)
    with rt.db.uow() as uow:
        uow.session.execute(update(sessions).where(sessions.c.id == res.session.id).values(created_at=earlier))
        uow.commit()
    renewed = _refresh(stub, res.refresh_token)
    assert renewed.refresh_token_expire_time.ToDatetime(UTC) == earlier + timedelta(seconds=5400)


def test_revoke_session(stub: IdentityServiceStub, make_user: MakeUser, nats_server: NatsServer) -> None:
    make_user("ana@example.com")
    res = _login(stub, "ana@example.com")
    other = _login(stub, "ana@example.com")
    ended = stub.RevokeSession(identity_pb2.RevokeSessionRequest(id=res.session.id), timeout=5).session
    assert ended.HasField("revoke_time") and ended.revoke_reason == "logout"
    again = stub.RevokeSession(identity_pb2.RevokeSessionRequest(id=res.session.id, reason="other"), timeout=5).session
    assert again == ended == _session(stub, res.session.id)
    assert _error(lambda: _refresh(stub, res.refresh_token)).code == grpc.StatusCode.UNAUTHENTICATED
    _refresh(stub, other.refresh_token)  # the other session lives on
    event = wait_for_event(nats_server.url, events_pb2.SessionRevoked, lambda e: e.session.id == res.session.id)
    assert event.session.revoke_reason == "logout"
    for call in (
        lambda: stub.RevokeSession(identity_pb2.RevokeSessionRequest(id=UNKNOWN_ID), timeout=5),
        lambda: stub.GetSession(identity_pb2.GetSessionRequest(id="junk"), timeout=5),
    ):
        info = _error(call)
        assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "session_not_found"


def test_deactivation_ends_every_session_and_login_then_fails(
    stub: IdentityServiceStub, make_user: MakeUser, nats_server: NatsServer
) -> None:
    ana = make_user("ana@example.com")
    one, two = _login(stub, "ana@example.com"), _login(stub, "ana@example.com")
    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=ana.id), timeout=5)
    for res in (one, two):
        ended = _session(stub, res.session.id)
        assert ended.HasField("revoke_time") and ended.revoke_reason == "deactivated"
        assert _error(lambda r=res: _refresh(stub, r.refresh_token)).code == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[misc]
    assert _error(lambda: _login(stub, "ana@example.com")).reason == "invalid_credentials"
    event = wait_for_event(nats_server.url, events_pb2.UserSessionsRevoked, lambda e: e.user_id == ana.id)
    assert event.reason == "deactivated" and event.revoke_time.seconds > 0
    stub.ReactivateUser(identity_pb2.ReactivateUserRequest(id=ana.id), timeout=5)
    _login(stub, "ana@example.com")


def test_change_password(stub: IdentityServiceStub, make_user: MakeUser, nats_server: NatsServer) -> None:
    ana = make_user("ana@example.com")
    res = _login(stub, "ana@example.com")

    def change(new: str, current: str = "") -> None:
        req = identity_pb2.ChangePasswordRequest(user_id=ana.id, current_password=current, new_password=new)
        stub.ChangePassword(req, timeout=5)

    for new, current, field in [
        ("a brand new password", "wrong password!", "current_password"),
        ("short", PASSWORD, "new_password"),
        ("ANA@example.com", PASSWORD, "new_password"),
    ]:
        info = _error(lambda n=new, c=current: change(n, c))  # type: ignore[misc]
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in info.violations] == [field]
    _refresh(stub, res.refresh_token)  # nothing happened: the session lives

    # An admin reset (no current password): sessions end, and the user must choose a new one.
    fresh = _login(stub, "ana@example.com")
    change("a temporary password")
    ended = _session(stub, fresh.session.id)
    assert ended.HasField("revoke_time") and ended.revoke_reason == "password_changed"
    assert _error(lambda: _login(stub, "ana@example.com")).reason == "invalid_credentials"
    signed_in = _login(stub, "ana@example.com", "a temporary password")
    assert signed_in.user.password_change_required and signed_in.user.version == 2
    revoked = wait_for_event(nats_server.url, events_pb2.UserSessionsRevoked, lambda e: e.user_id == ana.id)
    assert revoked.reason == "password_changed"
    flagged = wait_for_event(nats_server.url, events_pb2.UserUpdated, lambda e: e.user.id == ana.id)
    assert list(flagged.changed_fields) == ["password_change_required"] and flagged.user.password_change_required

    # The user's own change (with the current password) clears the flag, and ends that session too.
    change("my own new password", "a temporary password")
    assert _session(stub, signed_in.session.id).revoke_reason == "password_changed"
    after = _login(stub, "ana@example.com", "my own new password").user
    assert not after.password_change_required and after.version == 3
    info = _error(
        lambda: stub.ChangePassword(
            identity_pb2.ChangePasswordRequest(user_id=UNKNOWN_ID, new_password="x" * 12), timeout=5
        )
    )
    assert info.code == grpc.StatusCode.NOT_FOUND


def _password_hash(rt: ServiceRuntime, user_id: str) -> str:
    assert rt.db is not None
    with rt.db.read() as s:
        return str(s.scalar(select(users.c.password_hash).where(users.c.id == user_id)))


def test_wrong_current_passwords_count_as_failed_sign_ins(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    ana = make_user("Ana@example.com")

    def change(current: str, new: str = "a brand new password") -> None:
        req = identity_pb2.ChangePasswordRequest(user_id=ana.id, current_password=current, new_password=new)
        stub.ChangePassword(req, timeout=5)

    for _ in range(3):
        info = _error(lambda: change("wrong password!"))
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in info.violations] == [
            "current_password"
        ]
    assert _attempts(identity, "ana@example.com") == 3
    for _ in range(2):  # the same limit as sign-ins: 5 failures in all
        assert _error(lambda: _login(stub, "ana@example.com", "wrong password!")).reason == "invalid_credentials"
    stored = _password_hash(identity, ana.id)

    # At the limit the current password is not even checked: the right one is refused too.
    locked = _error(lambda: change(PASSWORD))
    assert locked.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert locked.message == "too many failed sign-in attempts; retry later"
    assert 890 <= int(locked.metadata["retry_after_seconds"]) <= 900
    assert _error(lambda: _login(stub, "ana@example.com")).code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _password_hash(identity, ana.id) == stored and _attempts(identity, "ana@example.com") == 5

    # Once the failures leave the window, the right current password changes it and clears them.
    assert identity.db is not None
    with identity.db.uow() as uow:
        uow.session.execute(
            update(login_attempts).values(attempted_at=login_attempts.c.attempted_at - timedelta(seconds=901))
        )
        uow.commit()
    change(PASSWORD)
    assert _attempts(identity, "ana@example.com") == 0
    _login(stub, "ana@example.com", "a brand new password")


def _session_ids(rt: ServiceRuntime) -> set[str]:
    assert rt.db is not None
    with rt.db.read() as s:
        return set(s.scalars(select(sessions.c.id)))


def _token_sessions(rt: ServiceRuntime) -> list[str]:
    """The session of each stored refresh token."""
    assert rt.db is not None
    with rt.db.read() as s:
        return sorted(s.scalars(select(refresh_tokens.c.session_id)))


def _end_sessions(
    rt: ServiceRuntime, ago: timedelta, *, revoked: Sequence[str] = (), expired: Sequence[str] = ()
) -> None:
    assert rt.db is not None
    when = datetime.now(UTC) - ago
    with rt.db.uow() as uow:
        uow.session.execute(update(sessions).where(sessions.c.id.in_(revoked)).values(revoked_at=when))
        uow.session.execute(update(sessions).where(sessions.c.id.in_(expired)).values(expire_at=when))
        uow.commit()


def test_sign_in_deletes_sessions_that_ended_over_a_day_ago(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    make_user("ana@example.com")
    live = _login(stub, "ana@example.com")
    _refresh(stub, live.refresh_token)  # a live session's used token stays, with its current one
    rotated = _login(stub, "ana@example.com")
    _refresh(stub, rotated.refresh_token)
    rotated_long_ago = rotated.session.id
    revoked_long_ago, expired_long_ago, revoked_lately, expired_lately = (
        _login(stub, "ana@example.com").session.id for _ in range(4)
    )
    day = timedelta(days=1)
    _end_sessions(identity, day + timedelta(minutes=5), revoked=[revoked_long_ago, rotated_long_ago])
    _end_sessions(identity, day + timedelta(minutes=5), expired=[expired_long_ago])
    _end_sessions(identity, day - timedelta(minutes=5), revoked=[revoked_lately], expired=[expired_lately])

    _error(lambda: _login(stub, "ana@example.com", "wrong password!"))  # any sign-in, even a failed one

    stays = {live.session.id, revoked_lately, expired_lately}
    assert _session_ids(identity) == stays
    assert _token_sessions(identity) == sorted([live.session.id, live.session.id, revoked_lately, expired_lately])
    # Reuse detection on the live session still works.
    reused = _error(lambda: _refresh(stub, live.refresh_token))
    assert reused.metadata == {"revoked_session_id": live.session.id}


def test_ended_sessions_are_deleted_a_bounded_batch_at_a_time(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    make_user("ana@example.com")
    ended = [_login(stub, "ana@example.com").session.id for _ in range(3)]
    _end_sessions(identity, timedelta(days=2), revoked=ended)
    assert identity.db is not None
    cutoff = datetime.now(UTC) - timedelta(days=1)
    with identity.db.uow() as uow:
        repository.purge_ended_sessions(uow.session, cutoff, batch=2)
        uow.commit()
    # Two tokens went, then the two sessions nothing refers to any more; the third waits.
    assert len(_token_sessions(identity)) == 1 and _session_ids(identity) == set(_token_sessions(identity))
    with identity.db.uow() as uow:
        repository.purge_ended_sessions(uow.session, cutoff, batch=2)
        uow.commit()
    assert _session_ids(identity) == set() and _token_sessions(identity) == []
