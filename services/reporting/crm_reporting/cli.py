"""`crm rebuild-reports`: an operator empties the reporting service's read models and replays every
stream into them (service_layer/rebuild.py), against the database and NATS the service is
configured with (CRM_REPORTING_DATABASE_URL or the embedded SQLite file, CRM_NATS_URL). The
service may keep running meanwhile; its figures are partial until the replay ends."""

from __future__ import annotations

import argparse
import sys

from crm_platform.config import ConfigError, service_config
from crm_platform.db import Database, run_migrations
from crm_reporting.service_layer.rebuild import rebuild

PROG = "crm rebuild-reports"


def rebuild_reports(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    try:
        cfg = service_config("reporting")
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    db = Database(cfg.database_url, "reporting")
    try:
        run_migrations(db, "crm_reporting:migrations")
        result = rebuild(
            db, cfg.platform.nats_url, timeout=args.timeout, credentials=cfg.platform.nats_credentials("reporting")
        )
    except (TimeoutError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    streams = ", ".join(f"{name} {count}" for name, count in result.events.items())
    print(f"read models rebuilt in {result.duration_seconds:.1f}s ({streams} events replayed)")
    return 0
