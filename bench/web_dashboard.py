"""The Indicadores page (the web application's dashboard) for a team over a big reporting read
model, beside the API calls it makes, in the same run.

Starts the platform as `crm up` does (bench/web.py's setup: separate processes, gunicorn, SQLite,
embedded nats-server, free loopback ports). Through the API it creates a manager, a team of --reps
reps and their budgets for the measured quarter. Seeding a million deals through the API would take
hours here, so the deals are written the way the indicators read them: the reporting service keeps
its figures in read models (`rm_deals`, `rm_activities`, ... in its own database, built from the
deals service's events), and --deals rm_deals rows and --activities rm_activities rows are inserted
straight into the running reporting service's SQLite file (sqlite3 executemany of tuples in one
transaction per table, the tables' secondary indexes dropped first and built again after): the
team's reps own --team-share of them, the rest belong to --owners other owners; three years of
dates, COP and USD, 55 % closed, stages of the default pipeline. (The deals service's own tables
stay empty: the dashboard never reads them.)

Then, signed in as the manager, with the name lookups warm:

  page     GET /indicators/?who=team:<id>&period=quarter&start=<quarter>: the team's indicators
           and a bar per member, whose figures come in one call (GET /api/v1/indicators/attainments
           ?breakdown=users): 2 API calls, made in parallel by the page
  api      those 2 calls made in parallel straight to the gateway (the bare baseline: what the
           page cannot go below)
  per-rep  the calls the page made before the attainments call existed: the team's indicators and
           one GET /api/v1/indicators per member (1 + --reps + 1), in parallel, for comparison

--requests of each, interleaved, p50/p99; target for the page: p99 < 400 ms."""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import PASSWORD, platform, request
from _support import percentile
from web import _sign_in, _timed

from crm_reporting.adapters import tables as t

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = 3 * 365 * 86_400
KINDS = ("call", "meeting", "visit", "task", "email")


def fake_id(kind: int, i: int) -> str:
    return f"{kind:08x}-0000-7000-8000-{i:012x}"


def _wait(what: str, check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite
_DEAL_COLUMNS = (
    "id, title, owner_id, stage_id, status, probability, currency_code, amount_minor, expected_close_date, "
    "created_at, won_at, lost_at, closed_at, sales_cycle_seconds, version, event_time"
)
_ACTIVITY_COLUMNS = "id, kind, owner_id, status, due_at, done_at, version, event_time"


def _deal_rows(rnd: random.Random, owner: Callable[[], str], stages: list[str], n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        created = EPOCH + timedelta(seconds=rnd.randrange(SPAN))
        roll = rnd.random()
        status = "won" if roll < 0.3 else "lost" if roll < 0.55 else "open"
        closed = created + timedelta(days=rnd.randrange(1, 120)) if status != "open" else None
        usd = rnd.random() < 0.3
        closed_text = closed.strftime(_TIME) if closed else None
        created_text = created.strftime(_TIME)
        yield (
            fake_id(5, i),
            f"Negocio {i}",
            owner(),
            rnd.choice(stages),
            status,
            rnd.randrange(0, 101, 5),
            "USD" if usd else "COP",
            rnd.randrange(10_000, 10_000_000) * (1 if usd else 100),
            (created + timedelta(days=rnd.randrange(10, 200))).date().isoformat(),
            created_text,
            closed_text if status == "won" else None,
            closed_text if status == "lost" else None,
            closed_text,
            int((closed - created).total_seconds()) if status == "won" and closed else 0,
            1,
            created_text,
        )


def _activity_rows(rnd: random.Random, owner: Callable[[], str], n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        due = (EPOCH + timedelta(seconds=rnd.randrange(SPAN))).strftime(_TIME)
        done = rnd.random() < 0.8
        yield (
            fake_id(6, i),
            KINDS[i % 5],
            owner(),
            "done" if done else "scheduled",
            due,
            due if done else None,
            1,
            due,
        )


def seed_read_models(db_file: Path, reps: list[str], args: argparse.Namespace) -> float:
    """Insert the deals and activities into the read models; returns the seconds it took.

    One transaction per table on a connection of its own (sqlite3, rows as tuples: no ORM or Core
    per-row work), with the tables' secondary indexes dropped first and built again after (one
    sort per index instead of a million random B-tree inserts into each of them); the service
    reads the tables only after this returns."""
    rnd = random.Random(7)
    conn = sqlite3.connect(db_file, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB for the index builds
        stages = [r[0] for r in conn.execute("SELECT id FROM rm_stages WHERE kind = 'open'")]
        assert stages, "the reporting read models have no pipeline stages yet"
        others = [fake_id(1, i) for i in range(args.owners)]

        def owner() -> str:
            return rnd.choice(reps) if rnd.random() < args.team_share else rnd.choice(others)

        started = time.perf_counter()
        tables = (
            ("rm_deals", _DEAL_COLUMNS, _deal_rows(rnd, owner, stages, args.deals)),
            ("rm_activities", _ACTIVITY_COLUMNS, _activity_rows(rnd, owner, args.activities)),
        )
        for table, columns, rows in tables:
            indexes = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
            conn.execute("BEGIN IMMEDIATE")
            for name, _sql in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            marks = ", ".join("?" * len(columns.split(",")))
            conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            for _name, sql in indexes:
                conn.execute(sql)
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.perf_counter() - started
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=500_000)
    parser.add_argument("--reps", type=int, default=8, help="reps in the measured team")
    parser.add_argument("--owners", type=int, default=92, help="other owners (outside the team)")
    parser.add_argument("--team-share", type=float, default=0.08, help="share of the rows the team owns")
    parser.add_argument("--requests", type=int, default=100, help="timed requests of each kind")
    args = parser.parse_args()

    with platform() as running:
        base, admin = running.base, running.token
        web = f"http://{running.platform.web_listen}"
        manager_email = "gerente.bench@example.com"
        body = {"email": manager_email, "display_name": "Gerente Bench", "role": "manager", "password": PASSWORD}
        manager = request(f"{base}/api/v1/users", body, admin)
        team = request(f"{base}/api/v1/teams", {"name": "Equipo Bench", "manager_id": manager["id"]}, admin)
        request(f"{base}/api/v1/users/{manager['id']}", {"team_id": team["id"]}, admin, method="PATCH")
        reps = []
        for i in range(args.reps):
            body = {
                "email": f"rep{i}.bench@example.com",
                "display_name": f"Vendedor {i:02d}",
                "role": "rep",
                "team_id": str(team["id"]),
                "password": PASSWORD,
            }
            reps.append(str(request(f"{base}/api/v1/users", body, admin)["id"]))
        today = date.today()
        quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        for rep in reps:
            target = {"amount": "250000000", "currency_code": "COP"}
            budget = {"user_id": rep, "period_kind": "quarter", "period_start": quarter.isoformat(), "target": target}
            request(f"{base}/api/v1/budgets", budget, admin)

        db_file = Path(running.platform.env["CRM_DATA_DIR"]) / "reporting.db"
        engine = sa.create_engine(f"sqlite:///{db_file}", connect_args={"timeout": 60})
        members = sa.select(sa.func.count()).select_from(t.rm_users).where(t.rm_users.c.team_id == team["id"])

        def team_known() -> bool:
            with engine.connect() as conn:
                return (conn.scalar(members) or 0) >= args.reps + 1

        _wait("the reporting service to learn the team", team_known)
        seconds = seed_read_models(db_file, reps, args)
        print(
            f"seeded {args.deals:,} rm_deals and {args.activities:,} rm_activities rows into the running "
            f"reporting service's SQLite read models in {seconds:.0f} s (the team owns ~{args.team_share:.0%})"
        )

        browser = _sign_in(web, manager_email, PASSWORD)
        login = {"email": manager_email, "password": PASSWORD}
        token = str(request(f"{base}/api/v1/auth/login", login)["access_token"])
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        page_url = f"{web}/indicators/?who=team:{team['id']}&period=quarter&start={quarter.isoformat()}"
        per_rep = [("team", str(team["id"]))] + [("user", rep) for rep in [*reps, str(manager["id"])]]
        pool = ThreadPoolExecutor(max_workers=16)

        def api_get(path: str, params: dict[str, str]) -> None:
            params |= {"period": "quarter", "start": quarter.isoformat()}
            res = api.get(f"{base}{path}", params=params, timeout=60)
            assert res.status_code == 200, res.text[:300]

        def parallel(calls: list[tuple[str, dict[str, str]]]) -> None:
            for fut in [pool.submit(api_get, path, params) for path, params in calls]:
                fut.result()

        page_calls = [
            ("/api/v1/indicators", {"scope": "team", "id": str(team["id"])}),
            ("/api/v1/indicators/attainments", {"scope": "team", "id": str(team["id"]), "breakdown": "users"}),
        ]
        old_calls = [("/api/v1/indicators", {"scope": s, "id": i}) for s, i in per_rep]

        def api_all() -> None:
            parallel(page_calls)

        def api_per_rep() -> None:
            parallel(old_calls)

        def page() -> None:
            res = browser.get(page_url, timeout=60)
            assert res.status_code == 200 and "Vendedor 00" in res.text, (res.status_code, res.url)

        _timed(page, 5)  # warm: name lookups cached, connections open, the database's pages cached
        _timed(api_all, 5)
        _timed(api_per_rep, 5)
        pages: list[float] = []
        direct: list[float] = []
        old: list[float] = []
        for _half in range(2):
            pages += _timed(page, args.requests // 2)
            direct += _timed(api_all, args.requests // 2)
            old += _timed(api_per_rep, args.requests // 2)
        pool.shutdown()
        p99 = percentile(pages, 99)
        print(f"web {web}  gateway {base}")
        print(
            f"page     GET /indicators/ (team, quarter)       p50 {percentile(pages, 50) * 1000:7.1f} ms  "
            f"p99 {p99 * 1000:7.1f} ms  (target p99 < 400 ms: {'OK' if p99 < 0.4 else 'MISSED'})"
        )
        print(
            f"api      its 2 calls, parallel                  p50 {percentile(direct, 50) * 1000:7.1f} ms  "
            f"p99 {percentile(direct, 99) * 1000:7.1f} ms  (bare baseline)"
        )
        print(
            f"per-rep  {len(old_calls)} indicator calls, parallel          p50 {percentile(old, 50) * 1000:7.1f} ms  "
            f"p99 {percentile(old, 99) * 1000:7.1f} ms  (what the page asked before)"
        )
        print(f"page / api p50: {percentile(pages, 50) / percentile(direct, 50):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
