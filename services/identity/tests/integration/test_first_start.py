"""The first start on an empty database creates exactly one administrator: from CRM_ADMIN_EMAIL
and CRM_ADMIN_PASSWORD, or with a generated one-time password printed once; replicas starting
together create one between them; a password the policy refuses stops the start."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import func, select

from crm.identity.v1 import identity_pb2
from crm.identity.v1.identity_pb2_grpc import IdentityServiceStub
from crm_identity.adapters.tables import signing_keys, users
from crm_identity.bootstrap import SPEC
from crm_platform.config import ConfigError
from crm_platform.db import Database, run_migrations
from crm_platform.service import ServiceRuntime

StartService = Callable[..., ServiceRuntime]
ANNOUNCEMENT = re.compile(
    r"first admin created: (?P<email>\S+); one-time password: (?P<password>\S+) \(change it at first sign-in\)"
)


def _stub(rt: ServiceRuntime) -> IdentityServiceStub:
    return IdentityServiceStub(grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}"))


def _all_users(stub: IdentityServiceStub) -> list[identity_pb2.User]:
    return list(stub.ListUsers(identity_pb2.ListUsersRequest(include_inactive=True), timeout=5).users)


def _count(db: Database, table: object) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_admin_from_the_environment(
    database_url: str, start_service: StartService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_ADMIN_EMAIL", "Jefe@Empresa.example")
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", "una clave larga y propia")
    stub = _stub(start_service(SPEC, database_url))
    [admin] = _all_users(stub)
    assert admin.email == "Jefe@empresa.example" and admin.role == identity_pb2.ROLE_ADMIN
    assert admin.active and not admin.password_change_required
    login = identity_pb2.LoginRequest(email="jefe@empresa.example", password="una clave larga y propia")
    assert stub.Login(login, timeout=5).user.id == admin.id
    assert "one-time password" not in capsys.readouterr().err

    # A restart on the same database creates nobody.
    assert _all_users(_stub(start_service(SPEC, database_url))) == [
        stub.GetUser(identity_pb2.GetUserRequest(id=admin.id)).user
    ]


def test_generated_one_time_password(
    database_url: str,
    start_service: StartService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("CRM_ADMIN_PASSWORD")
    stub = _stub(start_service(SPEC, database_url))
    printed = ANNOUNCEMENT.search(capsys.readouterr().err)
    assert printed is not None and printed["email"] == "admin@example.com" and len(printed["password"]) >= 16
    assert any(ANNOUNCEMENT.search(r.getMessage()) and r.levelname == "WARNING" for r in caplog.records)
    signed_in = stub.Login(
        identity_pb2.LoginRequest(email="admin@example.com", password=printed["password"]), timeout=5
    )
    assert signed_in.user.role == identity_pb2.ROLE_ADMIN and signed_in.user.password_change_required

    start_service(SPEC, database_url)  # a restart prints no password
    assert ANNOUNCEMENT.search(capsys.readouterr().err) is None


def test_replicas_starting_together_create_one_admin(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CRM_ADMIN_PASSWORD")
    setup = Database(database_url, "identity")
    run_migrations(setup, "crm_identity:migrations")
    replicas = [Database(database_url, "identity") for _ in range(2)]
    barrier = threading.Barrier(len(replicas))
    failures: list[BaseException] = []

    def start(db: Database) -> None:
        barrier.wait()
        try:
            SPEC.on_start(db)  # type: ignore[misc]
        except BaseException as exc:  # reported below: a thread's exception would be lost
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert failures == []
        assert _count(setup, users) == 1
        assert _count(setup, signing_keys) == 1
        assert len(ANNOUNCEMENT.findall(capsys.readouterr().err)) == 1
    finally:
        for db in [setup, *replicas]:
            db.dispose()


def test_a_password_the_policy_refuses_stops_the_start(
    database_url: str, start_service: StartService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", "short")
    with pytest.raises(ConfigError, match="CRM_ADMIN_PASSWORD does not meet the password policy"):
        start_service(SPEC, database_url)
    assert "crm-identity: CRM_ADMIN_PASSWORD" in capsys.readouterr().err
    db = Database(database_url, "identity")
    try:
        assert _count(db, users) == 0
    finally:
        db.dispose()


def test_users_made_before_the_first_start_do_not_stop_the_admin(
    database_url: str, start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_ADMIN_EMAIL", "jefa@empresa.example")
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", "una clave larga y propia")
    first = start_service(SPEC, database_url)
    stub = _stub(first)
    [admin] = _all_users(stub)
    rep = stub.CreateUser(
        identity_pb2.CreateUserRequest(
            user=identity_pb2.User(email="rep@empresa.example", display_name="Rep", role=identity_pb2.ROLE_REP)
        ),
        timeout=5,
    ).user
    # Without any active admin (here: the admin row removed behind the service's back, as on a
    # database where only `crm create-user --role rep` ran), the next start creates one.
    assert first.db is not None
    with first.db.uow() as uow:
        uow.session.execute(users.delete().where(users.c.id == admin.id))
        uow.commit()
    again = _all_users(_stub(start_service(SPEC, database_url)))
    assert {u.email for u in again} == {"rep@empresa.example", "jefa@empresa.example"}
    assert [u.role for u in again if u.id == rep.id] == [identity_pb2.ROLE_REP]
