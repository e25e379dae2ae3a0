"""`crm create-user` on SQLite, called as a function: it migrates the database named by the
service's own configuration, creates the user through the CreateUser use case (UserCreated waits
in the outbox), prints a generated one-time password once, and refuses bad input with exit 2 and
one line naming the problem, creating nobody."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from crm_cli import cli
from crm_identity.adapters.tables import users
from crm_identity.cli import create_user
from crm_identity.domain.users import Role
from crm_identity.service_layer import sessions
from crm_identity.service_layer.deps import Deps
from crm_identity.settings import identity_settings
from crm_platform.db import Database
from crm_platform.tables import outbox_events

ANA = ["--email", "Ana.Perez@Example.COM", "--name", "Ana Pérez"]


@pytest.fixture
def db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The database the verb finds through CRM_IDENTITY_DATABASE_URL, as the service would."""
    monkeypatch.setenv("CRM_IDENTITY_DATABASE_URL", sqlite_url)
    database = Database(sqlite_url, "identity")
    yield database
    database.dispose()


def _user_count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(users)) or 0)


def test_creates_a_user_who_can_sign_in(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert create_user([*ANA, "--role", "manager"]) == 0
    out = capsys.readouterr().out
    found = re.fullmatch(
        r"created manager Ana\.Perez@example\.com \(id (?P<id>\S+)\)\n"
        r"one-time password: (?P<password>\S+) \(to be changed at first sign-in; it is not shown again\)\n",
        out,
    )
    assert found, out
    deps = Deps.build(db, identity_settings())
    signed_in = sessions.login(deps, "ana.perez@example.com", found["password"])
    assert signed_in.user.id == found["id"] and signed_in.user.role == Role.MANAGER
    assert signed_in.user.display_name == "Ana Pérez" and signed_in.user.password_change_required
    with db.read() as s:  # staged for the relay, which publishes it when the service runs
        staged = s.execute(select(outbox_events.c.event_type, outbox_events.c.published_at)).all()
    assert [tuple(r) for r in staged] == [("crm.identity.v1.UserCreated", None)]

    # Through the `crm` verb; with --password nothing is printed but the user, who need not change it.
    beto_args = ["--email", "beto@example.com", "--name", "Beto", "--role", "ADMIN", "--password", "una clave larga"]
    assert cli.main(["create-user", *beto_args]) == 0
    assert "password" not in capsys.readouterr().out
    beto = sessions.login(deps, "beto@example.com", "una clave larga").user
    assert beto.role == Role.ADMIN and not beto.password_change_required


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--email", "ANA.PEREZ@example.com", "--name", "Otra", "--role", "rep"],
            "a user with the e-mail ANA.PEREZ@example.com already exists",
        ),
        ([*ANA, "--role", "boss"], "--role must be admin, manager or rep, not 'boss'"),
        ([*ANA, "--role", "rep", "--password", "short"], "--password: must be at least 10 characters"),
        ([*ANA, "--role", "rep", "--team-id", "nope"], "--team-id: team 'nope' does not exist"),
        (["--email", "not an address", "--name", " ", "--role", "rep"], "--email: 'not an address' is not"),
        (["--name", "Ana", "--role", "rep"], "the following arguments are required: --email"),
    ],
)
def test_refusals_exit_2_with_one_line_and_create_nobody(
    db: Database, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert create_user([*ANA, "--role", "rep", "--password", "una clave larga"]) == 0
    capsys.readouterr()
    assert create_user(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"crm create-user: {message}") and err.count("\n") == 1, err
    assert _user_count(db) == 1
