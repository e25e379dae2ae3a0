"""The `crm` command-line tool (run it through ./crm, which prepares the virtual environment):

crm up             run the whole platform (embedded: bundled NATS, SQLite per service) and
                   restart a process that dies (`crm up --help`)
crm check-consistency [--wait S]
                   compare each service's records with the reporting read models, and campaign
                   members with their sources; print the differences (exit 1 if any)
crm status         list the processes of the platform running on CRM_DATA_DIR: pid, state,
                   restarts, health, address, log file
crm test [ARGS]    lint (ruff), check types (mypy) and run every test (pytest ARGS)
crm gen-protos     regenerate libs/crm from protos/
crm migrate [SVC]  apply migrations of one or every service, then exit
crm create-user --email E --name N --role admin|manager|rep [--team-id T] [--password P]
                   create a user in identity's database (without --password, a one-time
                   password is printed once)
crm rebuild-reports [--timeout S]
                   empty the reporting service's read models and replay every event stream
                   into them (the service may keep running)
crm demo-data [--url U] [--admin-email E] [--admin-password P] [--scale 1.0]
                   load a demo company through the HTTP API (idempotent: a second run adds nothing)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("CRM_ROOT") or Path(__file__).resolve().parents[2])


def _test(args: list[str]) -> int:
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT)
    if lint.returncode != 0:
        print("crm test: ruff found problems (above)", file=sys.stderr)
        return lint.returncode
    types = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT)  # settings: pyproject [tool.mypy]
    if types.returncode != 0:
        print("crm test: mypy found type errors (above)", file=sys.stderr)
        return types.returncode
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT).returncode


def _migrate(args: list[str]) -> int:
    from crm_platform.config import SERVICES, service_config
    from crm_platform.db import Database, run_migrations

    for name in args or list(SERVICES):
        cfg = service_config(name)
        db = Database(cfg.database_url, name)
        run_migrations(db, f"crm_{name}:migrations")
        db.dispose()
        print(f"{name}: migrated ({cfg.database_url.split('@')[-1]})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else "help"
    if command == "up":
        from crm_platform.launcher import up

        return up(args)
    if command == "check-consistency":
        from crm_platform.consistency import main as check_consistency

        return check_consistency(args)
    if command == "status":
        from crm_platform.launcher import status

        return status(args)
    if command == "test":
        return _test(args)
    if command == "gen-protos":
        from crm_platform.protogen import generate

        files = generate()
        print(f"generated {len(files)} files under libs/crm")
        return 0
    if command == "migrate":
        return _migrate(args)
    if command == "create-user":
        from crm_identity.cli import create_user

        return create_user(args)
    if command == "rebuild-reports":
        from crm_reporting.cli import rebuild_reports

        return rebuild_reports(args)
    if command == "demo-data":
        from crm_platform.demo.load import demo_data

        return demo_data(args)
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
