"""Users over real gRPC, on SQLite and PostgreSQL: create, get, list, update, deactivate,
reactivate and batch-get; every error with its status, reason and field, changing nothing; and
the user events on JetStream."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from crm.identity.v1 import events_pb2, identity_pb2
from crm.identity.v1.identity_pb2_grpc import IdentityServiceStub
from crm_identity.adapters.tables import users
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import wait_for_event

MakeUser = Callable[..., identity_pb2.User]
UNKNOWN_ID = "0190f0e0-0000-7000-8000-000000000000"


def _count(rt: ServiceRuntime) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(users)) or 0)


def _fails(call: Callable[[], object], code: grpc.StatusCode) -> object:
    with pytest.raises(grpc.RpcError) as err:
        call()
    info = decode_error(err.value)
    assert info.code == code, info
    return info


def test_create_get_list_and_batch_get(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    team = stub.CreateTeam(identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name="Ventas Norte")), timeout=5).team
    ana = make_user("Ana.Perez@Example.COM", display_name="Ana Pérez", role=identity_pb2.ROLE_MANAGER, team_id=team.id)
    assert ana.id and ana.email == "Ana.Perez@example.com" and ana.active and ana.version == 1
    assert ana.time_zone == "America/Bogota" and ana.locale == "es-CO"
    assert ana.create_time.seconds > 0 and not ana.HasField("last_login_time")
    assert stub.GetUser(identity_pb2.GetUserRequest(id=ana.id), timeout=5).user == ana

    reps = [make_user(f"rep{i}@example.com", locale="en_us", time_zone="Europe/Madrid") for i in range(5)]
    assert reps[0].locale == "en-US" and reps[0].time_zone == "Europe/Madrid"
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListUsers(identity_pb2.ListUsersRequest(page_size=2, page_token=token), timeout=5)
        seen += [u.id for u in page.users]
        token = page.next_page_token
        if not token:
            break
    assert seen[1:] == [ana.id] + [r.id for r in reps]  # the first is the admin made at first start

    def ids(**filters: object) -> list[str]:
        return [u.id for u in stub.ListUsers(identity_pb2.ListUsersRequest(**filters), timeout=5).users]

    assert ids(query="PÉREZ") == [ana.id]  # display name, any case
    assert ids(query="REP3@") == [reps[3].id]  # e-mail, any case
    assert ids(query="%") == []  # LIKE wildcards are literal
    assert ids(team_id=team.id) == [ana.id]
    assert ids(role=identity_pb2.ROLE_MANAGER) == [ana.id]
    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=reps[0].id), timeout=5)
    assert reps[0].id not in ids()
    assert reps[0].id in ids(include_inactive=True)

    batch = stub.BatchGetUsers(identity_pb2.BatchGetUsersRequest(ids=[ana.id, UNKNOWN_ID, "junk", ana.id]), timeout=5)
    assert [u.id for u in batch.users] == [ana.id]
    assert list(batch.missing_ids) == [UNKNOWN_ID, "junk"]


def test_create_errors_name_the_field_and_write_nothing(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    make_user("dup@example.com")
    before = _count(identity)

    info = _fails(lambda: make_user("DUP@Example.com"), grpc.StatusCode.ALREADY_EXISTS)
    assert info.reason == "duplicate_email"  # type: ignore[attr-defined]

    info = _fails(
        lambda: make_user("new@example.com", role=identity_pb2.ROLE_UNSPECIFIED), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert [v.field for v in info.violations] == ["user.role"]  # type: ignore[attr-defined]

    info = _fails(lambda: make_user("new@example.com", team_id=UNKNOWN_ID), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in info.violations] == ["user.team_id"]  # type: ignore[attr-defined]

    info = _fails(
        lambda: make_user("bad", display_name=" ", time_zone="Mars/Base", locale="qq-ZZ"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert {v.field for v in info.violations} == {  # type: ignore[attr-defined]
        "user.email",
        "user.display_name",
        "user.time_zone",
        "user.locale",
    }

    info = _fails(lambda: make_user("new@example.com", password="short"), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in info.violations] == ["password"]  # type: ignore[attr-defined]

    assert _count(identity) == before
    _fails(lambda: stub.GetUser(identity_pb2.GetUserRequest(id=UNKNOWN_ID), timeout=5), grpc.StatusCode.NOT_FOUND)
    info = _fails(lambda: stub.GetUser(identity_pb2.GetUserRequest(id="nope"), timeout=5), grpc.StatusCode.NOT_FOUND)
    assert info.reason == "user_not_found"  # type: ignore[attr-defined]
    info = _fails(
        lambda: stub.ListUsers(identity_pb2.ListUsersRequest(page_size=-1), timeout=5), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert [v.field for v in info.violations] == ["page_size"]  # type: ignore[attr-defined]


def test_a_retried_create_with_the_same_request_id_creates_one_user(
    identity: ServiceRuntime, stub: IdentityServiceStub
) -> None:
    before = _count(identity)
    req = identity_pb2.CreateUserRequest(
        user=identity_pb2.User(email="retry@example.com", display_name="Retry", role=identity_pb2.ROLE_REP),
        request_id="req-1",
    )
    assert stub.CreateUser(req, timeout=5).user == stub.CreateUser(req, timeout=5).user
    assert _count(identity) == before + 1


def test_update_user(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    team = stub.CreateTeam(identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name="Sur")), timeout=5).team
    ana = make_user("ana@example.com")
    make_user("taken@example.com")

    def update(paths: list[str], expected: int = 0, **fields: object) -> identity_pb2.User:
        req = identity_pb2.UpdateUserRequest(
            user=identity_pb2.User(id=ana.id, **fields), update_mask=FieldMask(paths=paths), expected_version=expected
        )
        return stub.UpdateUser(req, timeout=5).user

    changed = update(
        ["display_name", "role", "team_id", "locale"],
        expected=1,
        display_name="Ana María",
        role=identity_pb2.ROLE_MANAGER,
        team_id=team.id,
        locale="en-us",
    )
    assert (changed.display_name, changed.role, changed.team_id, changed.locale) == (
        "Ana María",
        identity_pb2.ROLE_MANAGER,
        team.id,
        "en-US",
    )
    assert changed.version == 2 and changed.email == ana.email
    assert update(["display_name"], display_name="Ana María").version == 2  # no change: no new version
    assert update(["email"], email="ANA@example.com").email == "ANA@example.com"  # own address, other case
    cleared = update(["team_id"])
    assert cleared.team_id == "" and cleared.version == 4

    for paths, fields, field, code in [
        (["email"], {"email": "Taken@Example.com"}, None, grpc.StatusCode.ALREADY_EXISTS),
        (["role"], {}, "user.role", grpc.StatusCode.INVALID_ARGUMENT),
        (["team_id"], {"team_id": UNKNOWN_ID}, "user.team_id", grpc.StatusCode.INVALID_ARGUMENT),
        (["active"], {"active": False}, "update_mask", grpc.StatusCode.INVALID_ARGUMENT),
        (["password_hash"], {}, "update_mask", grpc.StatusCode.INVALID_ARGUMENT),
        (["time_zone"], {"time_zone": "Bogota"}, "user.time_zone", grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        info = _fails(lambda p=paths, f=fields: update(p, **f), code)  # type: ignore[misc]
        if field:
            assert [v.field for v in info.violations] == [field], paths  # type: ignore[attr-defined]

    info = _fails(lambda: update(["display_name"], expected=1, display_name="Stale"), grpc.StatusCode.ABORTED)
    assert info.reason == "version_mismatch" and info.metadata["current_version"] == "4"  # type: ignore[attr-defined]
    assert stub.GetUser(identity_pb2.GetUserRequest(id=ana.id), timeout=5).user == cleared  # nothing changed
    _fails(
        lambda: stub.UpdateUser(
            identity_pb2.UpdateUserRequest(
                user=identity_pb2.User(id=UNKNOWN_ID, display_name="X"), update_mask=FieldMask(paths=["display_name"])
            ),
            timeout=5,
        ),
        grpc.StatusCode.NOT_FOUND,
    )


def test_deactivate_and_reactivate(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    ana = make_user("ana@example.com")
    info = _fails(
        lambda: stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=ana.id, expected_version=7), timeout=5),
        grpc.StatusCode.ABORTED,
    )
    assert info.reason == "version_mismatch"  # type: ignore[attr-defined]
    off = stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=ana.id, expected_version=1), timeout=5).user
    assert not off.active and off.HasField("deactivate_time") and off.version == 2
    assert stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=ana.id), timeout=5).user == off  # again: as is
    on = stub.ReactivateUser(identity_pb2.ReactivateUserRequest(id=ana.id, expected_version=2), timeout=5).user
    assert on.active and not on.HasField("deactivate_time") and on.version == 3
    _fails(
        lambda: stub.ReactivateUser(identity_pb2.ReactivateUserRequest(id=UNKNOWN_ID), timeout=5),
        grpc.StatusCode.NOT_FOUND,
    )


def test_user_events_reach_jetstream(stub: IdentityServiceStub, make_user: MakeUser, nats_server: NatsServer) -> None:
    ana = make_user("eventos@example.com")
    created = wait_for_event(nats_server.url, events_pb2.UserCreated, lambda e: e.user.id == ana.id)
    assert created.user == ana and created.meta.producer == "identity"

    stub.UpdateUser(
        identity_pb2.UpdateUserRequest(
            user=identity_pb2.User(id=ana.id, display_name="Eventos SA", time_zone="UTC"),
            update_mask=FieldMask(paths=["display_name", "time_zone"]),
        ),
        timeout=5,
    )
    updated = wait_for_event(nats_server.url, events_pb2.UserUpdated, lambda e: e.user.id == ana.id)
    assert list(updated.changed_fields) == ["display_name", "time_zone"] and updated.user.version == 2

    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=ana.id), timeout=5)
    off = wait_for_event(nats_server.url, events_pb2.UserDeactivated, lambda e: e.user.id == ana.id)
    assert not off.user.active
    stub.ReactivateUser(identity_pb2.ReactivateUserRequest(id=ana.id), timeout=5)
    on = wait_for_event(nats_server.url, events_pb2.UserUpdated, lambda e: e.user.id == ana.id and e.user.version == 4)
    assert list(on.changed_fields) == ["active"] and on.user.active
