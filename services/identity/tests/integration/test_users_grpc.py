"""Users over real gRPC, on SQLite and PostgreSQL: create, get, list, update, deactivate,
reactivate and batch-get; every error with its status, reason and field, changing nothing; the
last active admin stays, even when two calls race to remove the last two; and the user events on
JetStream."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from crm.identity.v1 import events_pb2, identity_pb2
from crm.identity.v1.identity_pb2_grpc import IdentityServiceStub
from crm_identity.adapters import repository
from crm_identity.adapters.tables import users
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_platform.testing import wait_for_event

MakeUser = Callable[..., identity_pb2.User]
UNKNOWN_ID = "0190f0e0-0000-7000-8000-000000000000"


def _count(rt: ServiceRuntime, table: object = users) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


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


def _active_admins(stub: IdentityServiceStub) -> list[identity_pb2.User]:
    return list(stub.ListUsers(identity_pb2.ListUsersRequest(role=identity_pb2.ROLE_ADMIN), timeout=5).users)


def _set_role(stub: IdentityServiceStub, user_id: str, role: int) -> identity_pb2.User:
    req = identity_pb2.UpdateUserRequest(
        user=identity_pb2.User(id=user_id, role=role), update_mask=FieldMask(paths=["role"])
    )  # type: ignore[arg-type]
    return stub.UpdateUser(req, timeout=5).user


def _deactivate(stub: IdentityServiceStub, user_id: str) -> identity_pb2.User:
    return stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=user_id), timeout=5).user


def test_the_last_active_admin_stays(identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser) -> None:
    [first] = _active_admins(stub)  # made at first start
    events = _count(identity, outbox_events)
    for call in (lambda: _set_role(stub, first.id, identity_pb2.ROLE_REP), lambda: _deactivate(stub, first.id)):
        info = _fails(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert info.reason == "last_admin"  # type: ignore[attr-defined]
        assert info.message == f"user '{first.id}' is the last active admin; make another user an admin first"  # type: ignore[attr-defined]
    assert stub.GetUser(identity_pb2.GetUserRequest(id=first.id), timeout=5).user == first  # nothing changed
    assert _count(identity, outbox_events) == events  # and nothing was announced
    # Changes that keep it an active admin are fine.
    same_role = identity_pb2.UpdateUserRequest(
        user=identity_pb2.User(id=first.id, display_name="Jefa", role=identity_pb2.ROLE_ADMIN),
        update_mask=FieldMask(paths=["display_name", "role"]),
    )
    assert stub.UpdateUser(same_role, timeout=5).user.display_name == "Jefa"

    # With a second admin, either may go; then the other is the last.
    beto = make_user("beto@example.com", role=identity_pb2.ROLE_ADMIN)
    assert _set_role(stub, first.id, identity_pb2.ROLE_MANAGER).role == identity_pb2.ROLE_MANAGER
    assert _fails(lambda: _deactivate(stub, beto.id), grpc.StatusCode.FAILED_PRECONDITION).reason == "last_admin"  # type: ignore[attr-defined]
    # An inactive admin does not count.
    carla = make_user("carla@example.com", role=identity_pb2.ROLE_ADMIN)
    _deactivate(stub, carla.id)
    info = _fails(lambda: _set_role(stub, beto.id, identity_pb2.ROLE_REP), grpc.StatusCode.FAILED_PRECONDITION)
    assert info.reason == "last_admin"  # type: ignore[attr-defined]
    assert _set_role(stub, carla.id, identity_pb2.ROLE_REP).role == identity_pb2.ROLE_REP  # an inactive admin may be
    stub.ReactivateUser(identity_pb2.ReactivateUserRequest(id=carla.id), timeout=5)
    _set_role(stub, carla.id, identity_pb2.ROLE_ADMIN)
    assert not _deactivate(stub, beto.id).active
    assert [u.id for u in _active_admins(stub)] == [carla.id]


@pytest.mark.parametrize("moves", [("demote", "demote"), ("deactivate", "deactivate"), ("demote", "deactivate")])
def test_racing_removals_of_the_last_two_admins_leave_one(
    stub: IdentityServiceStub, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch, moves: tuple[str, str]
) -> None:
    [first] = _active_admins(stub)
    second = make_user("beto@example.com", role=identity_pb2.ROLE_ADMIN)
    # Each call waits between its check and its write, so that without a lock both would pass
    # the check before either wrote (the service runs in this process).
    save_user = repository.save_user

    def slow_save_user(*args: object, **kwargs: object) -> bool:
        time.sleep(0.3)
        return save_user(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "save_user", slow_save_user)
    start = threading.Barrier(2)

    def remove(move: str, user_id: str) -> grpc.StatusCode:
        start.wait()
        try:
            _set_role(stub, user_id, identity_pb2.ROLE_REP) if move == "demote" else _deactivate(stub, user_id)
        except grpc.RpcError as exc:
            info = decode_error(exc)
            assert info.reason == "last_admin", info
            return info.code
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(remove, moves, [first.id, second.id]))
    assert sorted(codes, key=str) == sorted([grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION], key=str)
    assert len(_active_admins(stub)) == 1
