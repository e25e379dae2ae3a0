"""Reports (Informe) over the reporting service's read model of deals: a grouped report over
1,000,000 rows (target < 2 s), the Excel export's rows/s beside raw openpyxl write-only rows/s of
the same rows in the same run (target >= 70 %), and the peak memory of exporting 1,000,000 rows
(target < 300 MB), measured in a fresh subprocess.

    .venv/bin/python bench/reporting_reports.py [--rows 1000000] [--xlsx-rows 200000] [--rss-rows 1000000]
        [--rounds 3] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The rows are seeded with Core executemany into rm_deals of a temporary SQLite file (or a scratch
PostgreSQL database on 127.0.0.1). The use cases are called in-process (no gRPC hop: the service's
own cost is what is measured; the file is streamed to the gateway in 1 MiB chunks afterwards)."""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from openpyxl import Workbook

from crm_platform.db import Database, run_migrations
from crm_platform.testing import scratch_postgres
from crm_reporting.adapters import tables
from crm_reporting.domain.report_definitions import (
    Aggregate,
    AggregateFunction,
    Bucket,
    Filter,
    Grouping,
    Operator,
    ReportSpec,
    check_report,
)
from crm_reporting.service_layer import reports

OWNERS = [str(uuid.UUID(int=i + 1)) for i in range(20)]
STAGES = [str(uuid.UUID(int=1000 + i)) for i in range(6)]
COLUMNS = (
    "title",
    "owner_id",
    "stage_id",
    "status",
    "probability",
    "amount",
    "currency_code",
    "expected_close_date",
    "create_time",
    "close_time",
)
LISTING = ReportSpec("deals", columns=COLUMNS, order_by="")
GROUPED = ReportSpec(
    "deals",
    groupings=(Grouping("owner_id"), Grouping("close_time", Bucket.MONTH)),
    aggregates=(Aggregate(AggregateFunction.SUM, "amount"), Aggregate(AggregateFunction.COUNT)),
    filters=(Filter("status", Operator.EQUALS, ("won",)),),
)


def seed(db: Database, n: int, batch: int = 50_000) -> float:
    rnd = random.Random(7)
    start_day = datetime(2025, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    done = 0
    while done < n:
        rows = []
        for i in range(done, min(n, done + batch)):
            created = start_day + timedelta(seconds=rnd.randrange(0, 700 * 86_400))
            status = ("open", "won", "lost")[i % 3]
            closed = created + timedelta(days=rnd.randrange(1, 90)) if status != "open" else None
            rows.append(
                {
                    "id": str(uuid.UUID(int=10**9 + i)),
                    "title": f"Negocio {i:07d}",
                    "owner_id": OWNERS[i % len(OWNERS)],
                    "stage_id": STAGES[i % len(STAGES)],
                    "status": status,
                    "probability": (i * 7) % 101,
                    "currency_code": "USD" if i % 4 else "COP",
                    "amount_minor": rnd.randrange(1, 10**9),
                    "expected_close_date": (created + timedelta(days=30)).date(),
                    "created_at": created,
                    "closed_at": closed,
                    "won_at": closed if status == "won" else None,
                    "version": 1,
                    "event_time": created,
                }
            )
        with db.engine.begin() as conn:
            conn.execute(sa.insert(tables.rm_deals), rows)
        done += len(rows)
    if db.is_sqlite:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        # The seeding's WAL is folded into the database file, as the service's steady state has it.
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE rm_deals")
    return time.perf_counter() - t0


def grouped(db: Database, rounds: int, zone: str) -> None:
    times, groups = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        run = reports.run_report(db, GROUPED, time_zone=zone, owner_ids=[], page_size=500, page_token="")
        times.append(time.perf_counter() - t0)
        groups = run.total_row_count
    med = statistics.median(times)
    verdict = "OK" if med < 2 else "MISSED"
    print(f"grouped report (won deals by owner x month of close in {zone}; sum per currency, count): {groups} groups,")
    print(
        f"  median {med * 1000:.0f} ms of {rounds} (runs: {', '.join(f'{t * 1000:.0f}' for t in times)}) "
        f"target < 2000 ms: {verdict}"
    )


def export(db: Database, limit: int) -> tuple[float, int]:
    spec = ReportSpec(
        "deals", columns=COLUMNS, filters=(Filter("create_time", Operator.LESS_THAN, (LIMIT_DAY[limit],)),)
    )
    t0 = time.perf_counter()
    file = reports.export_xlsx(
        db, spec, name="bench", time_zone="America/Bogota", owner_ids=[], now=lambda: datetime.now(UTC)
    )
    elapsed = time.perf_counter() - t0
    size = file.path.stat().st_size
    file.path.unlink()
    return file.rows / elapsed, size


LIMIT_DAY: dict[int, str] = {}


def rows_before(db: Database, limit: int) -> str:
    """The instant before which `limit` rows were created (so both sides write the same rows)."""
    with db.read() as s:
        t = tables.rm_deals
        row = s.execute(sa.select(t.c.created_at).order_by(t.c.created_at).offset(limit).limit(1)).first()
    value = row[0] if row else datetime(2100, 1, 1)
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.isoformat()


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss would be no smaller than the parent's
    at fork, as Linux keeps it across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(url: str, rows: int) -> None:
    db = Database(url, "reporting")
    spec = ReportSpec("deals", columns=COLUMNS)
    t0 = time.perf_counter()
    file = reports.export_xlsx(
        db, spec, name="rss", time_zone="America/Bogota", owner_ids=[], now=lambda: datetime.now(UTC)
    )
    elapsed = time.perf_counter() - t0
    peak_mb = peak_rss_mb()
    print(f"{file.rows} {elapsed:.1f} {peak_mb:.0f} {file.path.stat().st_size}")
    file.path.unlink()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="rm_deals rows seeded")
    p.add_argument("--xlsx-rows", type=int, default=200_000, help="rows exported for the rows/s comparison")
    p.add_argument(
        "--rss-rows", type=int, default=1_000_000, help="rows exported in the peak-memory subprocess (0 = skip)"
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--postgres-url", default="")
    p.add_argument("--rss-child", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.rss_rows)
        return
    with ExitStack() as stack:
        if args.postgres_url:
            url = stack.enter_context(scratch_postgres(args.postgres_url, "crm_bench"))
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = f"sqlite:///{tmp / 'reporting.db'}"
        db = Database(url, "reporting")
        run_migrations(db, "crm_reporting:migrations")
        backend = "PostgreSQL" if args.postgres_url else "SQLite"
        seconds = seed(db, args.rows)
        print(f"{backend}: seeded {args.rows:,} rm_deals rows in {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s)")
        grouped(db, args.rounds, "America/Bogota")
        grouped(db, args.rounds, "America/New_York")  # daylight saving time: offsets change in the data

        limit = min(args.xlsx_rows, args.rows)
        LIMIT_DAY[limit] = rows_before(db, limit)
        ours, raws = [], []
        with tempfile.TemporaryDirectory() as out:
            for _ in range(args.rounds):
                raws.append(raw_openpyxl_same(db, limit, Path(out) / "raw.xlsx"))
                rate, size = export(db, limit)
                ours.append(rate)
        raw, our = statistics.median(raws), statistics.median(ours)
        print(f"Excel export of {limit:,} rows x {len(COLUMNS)} columns (typed cells, formats, streamed from the DB):")
        print(
            f"  raw openpyxl write-only {raw:,.0f} rows/s; export {our:,.0f} rows/s "
            f"({size / 1e6:.1f} MB file) = {our / raw:.0%} of raw, target >= 70 %: "
            f"{'OK' if our / raw >= 0.7 else 'MISSED'}"
        )
        db.dispose()
        if args.rss_rows:
            n = min(args.rss_rows, args.rows)
            out = subprocess.run(
                [sys.executable, __file__, "--rss-child", url, "--rss-rows", str(n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            rows, elapsed, peak, size = int(out[0]), float(out[1]), float(out[2]), int(out[3])
            print(
                f"peak RSS of a fresh process exporting {rows:,} rows: {peak:.0f} MB "
                f"({elapsed:.0f} s, {rows / elapsed:,.0f} rows/s, {size / 1e6:.0f} MB file), "
                f"target < 300 MB: {'OK' if peak < 300 else 'MISSED'}"
            )


def raw_openpyxl_same(db: Database, limit: int, out: Path) -> float:
    """raw_openpyxl over exactly the rows `export` writes (created before the same instant)."""
    spec = ReportSpec(
        "deals", columns=COLUMNS, filters=(Filter("create_time", Operator.LESS_THAN, (LIMIT_DAY[limit],)),)
    )
    from crm_reporting.adapters.report_query import build

    built = build(check_report(spec), (), db.engine.dialect.name)
    t0 = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("raw")
    ws.append(list(COLUMNS))
    n = 0
    with db.read() as session:
        result = session.execute(built.statement, execution_options={"yield_per": 2000, "stream_results": True})
        aware = not db.is_sqlite  # PostgreSQL gives aware datetimes, which openpyxl refuses
        for part in result.partitions():
            for row in part:
                values = list(row[2:])
                if aware:
                    values = [v.replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v for v in values]
                ws.append(values)
                n += 1
    wb.save(out)
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    main()
