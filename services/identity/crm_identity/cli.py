"""`crm create-user`: an operator creates a user straight in the identity database (configured as
the service is), through the CreateUser use case, so its UserCreated event waits in the outbox
and is published when the service runs. Without --password a one-time password is printed once."""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import NoReturn

from crm_identity.domain.users import Role, User
from crm_identity.service_layer import users
from crm_identity.service_layer.common import once_more_after_integrity_error
from crm_identity.service_layer.deps import Deps
from crm_identity.settings import identity_settings
from crm_platform.config import ConfigError, service_config
from crm_platform.db import Database, run_migrations
from crm_platform.errors import CrmError, InvalidArgument

PROG = "crm create-user"
# What the use case calls each field, and the option an operator typed it with.
_OPTIONS = {
    "user.email": "--email",
    "user.display_name": "--name",
    "user.role": "--role",
    "user.team_id": "--team-id",
    "password": "--password",
}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line and exit 2, instead of argparse's usage text
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Create a user of the CRM in the identity database.")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True, help="display name")
    parser.add_argument("--role", required=True, help="admin, manager or rep")
    parser.add_argument("--team-id", default="")
    parser.add_argument("--password", default="", help="without it, a one-time password is generated and printed")
    return parser


def _problem(exc: CrmError) -> str:
    if isinstance(exc, InvalidArgument):
        return "; ".join(f"{_OPTIONS.get(v.field, v.field)}: {v.description}" for v in exc.violations)
    return exc.message


def create_user(argv: list[str]) -> int:
    """Runs the verb: 0 when the user was created, 2 (with one line on stderr naming the problem)
    for a bad argument, a taken e-mail, a password the policy refuses or a bad configuration."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        role = Role(args.role.strip().lower())
    except ValueError:
        print(f"{PROG}: --role must be admin, manager or rep, not '{args.role}'", file=sys.stderr)
        return 2
    generated = "" if args.password else secrets.token_urlsafe(12)
    draft = User(
        id="",
        email=args.email,
        display_name=args.name,
        role=role,
        team_id=args.team_id,
        password_change_required=bool(generated),
    )
    try:
        db = Database(service_config("identity").database_url, "identity")
        deps = Deps.build(db, identity_settings())
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        run_migrations(db, "crm_identity:migrations")
        new = users.prepare_user(deps, draft, password=args.password or generated)

        def create() -> User:
            with db.uow() as uow:
                made = users.create_user(uow, new)
                uow.commit()
                return made

        created = once_more_after_integrity_error(create)
    except CrmError as exc:
        print(f"{PROG}: {_problem(exc)}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"created {role.value} {created.email} (id {created.id})")
    if generated:
        print(f"one-time password: {generated} (to be changed at first sign-in; it is not shown again)")
    return 0
