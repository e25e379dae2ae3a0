"""Teams over real gRPC, on SQLite and PostgreSQL: create, get, list, update, delete; unique
names in any case, managers that must be active users, stale versions, a team with members that
cannot be deleted; nothing written on error; the team events on JetStream."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from crm.identity.v1 import events_pb2, identity_pb2
from crm.identity.v1.identity_pb2_grpc import IdentityServiceStub
from crm_identity.adapters.tables import teams
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import wait_for_event

MakeUser = Callable[..., identity_pb2.User]
UNKNOWN_ID = "0190f0e0-0000-7000-8000-000000000000"


def _count(rt: ServiceRuntime) -> int:
    assert rt.db is not None
    with rt.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(teams)) or 0)


def _fails(call: Callable[[], object], code: grpc.StatusCode) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    info = decode_error(err.value)
    assert info.code == code, info
    return info


def _create(stub: IdentityServiceStub, name: str, manager_id: str = "", request_id: str = "") -> identity_pb2.Team:
    req = identity_pb2.CreateTeamRequest(
        team=identity_pb2.Team(name=name, manager_id=manager_id), request_id=request_id
    )
    return stub.CreateTeam(req, timeout=5).team


def test_create_get_list_update_delete(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    boss = make_user("jefa@example.com", role=identity_pb2.ROLE_MANAGER)
    norte = _create(stub, "  Ventas Norte ", boss.id)
    assert norte.name == "Ventas Norte" and norte.manager_id == boss.id and norte.version == 1
    assert stub.GetTeam(identity_pb2.GetTeamRequest(id=norte.id), timeout=5).team == norte
    sur = _create(stub, "Ventas Sur")
    llave = _create(stub, "Cuentas Clave", request_id="team-req-1")
    assert _create(stub, "Cuentas Clave", request_id="team-req-1") == llave  # a retry answers the first

    def ids(**filters: object) -> list[str]:
        return [t.id for t in stub.ListTeams(identity_pb2.ListTeamsRequest(**filters), timeout=5).teams]

    assert ids() == [norte.id, sur.id, llave.id]
    assert ids(query="VENTAS") == [norte.id, sur.id]
    assert ids(manager_id=boss.id) == [norte.id]
    first = stub.ListTeams(identity_pb2.ListTeamsRequest(page_size=2), timeout=5)
    rest = stub.ListTeams(identity_pb2.ListTeamsRequest(page_size=2, page_token=first.next_page_token), timeout=5)
    assert [t.id for t in [*first.teams, *rest.teams]] == ids() and not rest.next_page_token

    renamed = stub.UpdateTeam(
        identity_pb2.UpdateTeamRequest(
            team=identity_pb2.Team(id=sur.id, name="Ventas Sur y Centro", manager_id=boss.id),
            update_mask=FieldMask(paths=["name", "manager_id"]),
            expected_version=1,
        ),
        timeout=5,
    ).team
    assert (renamed.name, renamed.manager_id, renamed.version) == ("Ventas Sur y Centro", boss.id, 2)

    stub.DeleteTeam(identity_pb2.DeleteTeamRequest(id=llave.id), timeout=5)
    _fails(lambda: stub.GetTeam(identity_pb2.GetTeamRequest(id=llave.id), timeout=5), grpc.StatusCode.NOT_FOUND)
    info = _fails(
        lambda: stub.DeleteTeam(identity_pb2.DeleteTeamRequest(id=llave.id), timeout=5), grpc.StatusCode.NOT_FOUND
    )
    assert info.reason == "team_not_found"


def test_errors_name_the_field_and_write_nothing(
    identity: ServiceRuntime, stub: IdentityServiceStub, make_user: MakeUser
) -> None:
    gone = make_user("gone@example.com", role=identity_pb2.ROLE_MANAGER)
    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=gone.id), timeout=5)
    team = _create(stub, "Ventas")
    _create(stub, "Otro")
    before = _count(identity)

    info = _fails(lambda: _create(stub, "VENTAS"), grpc.StatusCode.ALREADY_EXISTS)
    assert info.reason == "duplicate_team_name" and info.metadata["existing_id"] == team.id
    for manager in (UNKNOWN_ID, "junk", gone.id):
        info = _fails(lambda m=manager: _create(stub, "Nuevo", m), grpc.StatusCode.INVALID_ARGUMENT)  # type: ignore[misc]
        assert [v.field for v in info.violations] == ["team.manager_id"]
    info = _fails(lambda: _create(stub, "  "), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in info.violations] == ["team.name"]
    assert _count(identity) == before

    def update(paths: list[str], expected: int = 0, **fields: object) -> identity_pb2.Team:
        req = identity_pb2.UpdateTeamRequest(
            team=identity_pb2.Team(id=team.id, **fields), update_mask=FieldMask(paths=paths), expected_version=expected
        )
        return stub.UpdateTeam(req, timeout=5).team

    _fails(lambda: update(["name"], name="otro"), grpc.StatusCode.ALREADY_EXISTS)
    info = _fails(lambda: update(["manager_id"], manager_id=gone.id), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in info.violations] == ["team.manager_id"]
    info = _fails(lambda: update(["version"]), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in info.violations] == ["update_mask"]
    info = _fails(lambda: update(["name"], expected=9, name="Stale"), grpc.StatusCode.ABORTED)
    assert info.reason == "version_mismatch"
    assert stub.GetTeam(identity_pb2.GetTeamRequest(id=team.id), timeout=5).team == team


def test_a_team_with_members_cannot_be_deleted(stub: IdentityServiceStub, make_user: MakeUser) -> None:
    team = _create(stub, "Con gente")
    member = make_user("miembro@example.com", team_id=team.id)
    # An inactive member is still a member: the user keeps the team.
    stub.DeactivateUser(identity_pb2.DeactivateUserRequest(id=member.id), timeout=5)
    info = _fails(
        lambda: stub.DeleteTeam(identity_pb2.DeleteTeamRequest(id=team.id), timeout=5),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert info.reason == "team_has_members" and info.metadata["member_count"] == "1"
    assert stub.GetTeam(identity_pb2.GetTeamRequest(id=team.id), timeout=5).team == team
    stub.UpdateUser(
        identity_pb2.UpdateUserRequest(user=identity_pb2.User(id=member.id), update_mask=FieldMask(paths=["team_id"])),
        timeout=5,
    )
    stub.DeleteTeam(identity_pb2.DeleteTeamRequest(id=team.id), timeout=5)


def test_team_events_reach_jetstream(stub: IdentityServiceStub, nats_server: NatsServer) -> None:
    team = _create(stub, "Eventos")
    assert wait_for_event(nats_server.url, events_pb2.TeamCreated, lambda e: e.team.id == team.id).team == team
    stub.UpdateTeam(
        identity_pb2.UpdateTeamRequest(
            team=identity_pb2.Team(id=team.id, name="Eventos 2"), update_mask=FieldMask(paths=["name"])
        ),
        timeout=5,
    )
    updated = wait_for_event(nats_server.url, events_pb2.TeamUpdated, lambda e: e.team.id == team.id)
    assert list(updated.changed_fields) == ["name"] and updated.team.version == 2
    stub.DeleteTeam(identity_pb2.DeleteTeamRequest(id=team.id), timeout=5)
    deleted = wait_for_event(nats_server.url, events_pb2.TeamDeleted, lambda e: e.team.id == team.id)
    assert deleted.team.name == "Eventos 2"
