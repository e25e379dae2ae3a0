"""The deals service through the gateway, measured beside a bare hop in the same run.

Starts the platform as `crm up` does (separate processes, gunicorn gthread 2 workers, SQLite,
embedded nats-server, free loopback ports) and a bare Flask app under the same gunicorn settings
whose one route makes one gRPC call to the deals service (the health check: an echo) and nothing
else. With wrk, --rounds times for --seconds each:
  create  POST /api/v1/deals {"title", "client_id"}   (target ≥ 35 % of the bare hop's requests/s);
          each create also checks the client with the contacts service over gRPC
  move    POST /api/v1/deals/<id>:move to the next stage, over --move-deals deals made beforehand
          (each wrk thread moves its own deals, alternating two stages) (target ≥ 40 %)
Then:
  list    --list-rows deals of --owners owners written into a scratch deals database with the
          service's own row layout (Core executemany), then ListDeals of one owner through the
          service layer, 50 per page: the first page and a page deep in the list (through its
          token), --queries times each: p50/p99 (target p99 < 50 ms over 1,000,000 deals), on
          SQLite and, with --postgres-url, PostgreSQL."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _http import bare_app, get, load, load_generator, platform, request
from _support import percentile

BARE_APP = textwrap.dedent(
    """
    from flask import Flask
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from crm_platform.grpc_client import channel_to

    app = Flask(__name__)
    health = health_pb2_grpc.HealthStub(channel_to("deals"))

    @app.get("/echo")
    def echo():
        res = health.Check(health_pb2.HealthCheckRequest(service=""))
        return {"status": res.status}
    """
)

MOVE_SCRIPT = """
local ids = {IDS}
local stages = {STAGES}
local token = "{TOKEN}"
local counter = 0
thread_no = 0  -- a global: setup() gives each thread its own
local threads = 0

function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

function init(args)
  counter = 0
end

request = function()
  -- Thread t moves the deals t, t + n, t + 2n ... (n = thread count: 2), one after another, each
  -- to the stage after the one it is in, so no two requests race for one deal.
  local per_thread = math.floor(#ids / 2)
  local i = counter % per_thread
  local round = math.floor(counter / per_thread)
  counter = counter + 1
  local id = ids[i * 2 + thread_no + 1]
  local body = '{"stage_id": "' .. stages[(round % 2) + 1] .. '"}'
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. token
  return wrk.format("POST", "/api/v1/deals/" .. id .. ":move", headers, body)
end

local failures = 0
response = function(status, headers, body)
  if status >= 300 and failures < 3 then
    failures = failures + 1
    io.stderr:write("move answered " .. status .. ": " .. body .. string.char(10))
  end
end
"""


def compare(name: str, ours: list[float], bares: list[float], target: str) -> None:
    bm, gm = statistics.median(bares), statistics.median(ours)
    print(f"{name} median: bare {bm:,.0f} req/s, gateway {gm:,.0f} req/s, ratio {gm / bm:.0%} (target {target})")


def wrk_script(base: str, seconds: float, connections: int, script: str) -> tuple[float, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", f.name, base]
        run = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out = run.stdout
    finally:
        os.unlink(f.name)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"moves: {non2xx.group(1)} failed responses\n{run.stderr}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out)
    return rps, f"p99 {p99.group(1) if p99 else '?'}"


def http(args: argparse.Namespace) -> None:
    with platform(2) as running:
        base, token = running.base, running.token
        client = request(f"{base}/api/v1/clients", {"name": "Bench Deals SAS"}, token)
        pipelines = get(f"{base}/api/v1/pipelines", token)["items"]
        stages = [s["id"] for s in next(p for p in pipelines if p["is_default"])["stages"]][1:3]  # type: ignore[index, call-overload]
        body = json.dumps({"title": "Bench deal", "client_id": client["id"]})
        with bare_app(running, BARE_APP, "/echo") as bare:
            echo = f"{bare}/echo"
            load(echo, 2, args.connections)  # warm-up
            load(f"{base}/api/v1/deals", 2, args.connections, token, body)
            ours, bares = [], []
            for r in range(args.rounds):
                b, b_lat = load(echo, args.seconds, args.connections)
                g, g_lat = load(f"{base}/api/v1/deals", args.seconds, args.connections, token, body)
                bares.append(b)
                ours.append(g)
                print(
                    f"create round {r + 1}: bare {b:,.0f} req/s ({b_lat})   gateway {g:,.0f} req/s ({g_lat})"
                    f"   {g / b:.0%}"
                )
            compare("create", ours, bares, "≥ 35 %")

            listed = get(f"{base}/api/v1/deals?page_size=500", token)["items"]
            ids = [d["id"] for d in listed][: args.move_deals]  # type: ignore[index]
            while len(ids) < args.move_deals:
                ids.append(request(f"{base}/api/v1/deals", json.loads(body), token)["id"])
            script = (
                MOVE_SCRIPT.replace("{IDS}", "{" + ", ".join(f'"{i}"' for i in ids) + "}")
                .replace("{STAGES}", "{" + ", ".join(f'"{s}"' for s in stages) + "}")
                .replace("{TOKEN}", token)
            )
            ours, bares = [], []
            for r in range(args.rounds):
                b, b_lat = load(echo, args.seconds, args.connections)
                g, g_lat = wrk_script(base, args.seconds, args.connections, script)
                bares.append(b)
                ours.append(g)
                print(
                    f"move round {r + 1}: bare {b:,.0f} req/s ({b_lat})   gateway {g:,.0f} req/s ({g_lat})"
                    f"   {g / b:.0%}"
                )
            compare("move", ours, bares, "≥ 40 %")


def seed_deals(db: object, rows: int, owners: list[str], pipeline: object) -> None:
    """`rows` deals spread over `owners`, with one stage history entry each, in transactions of
    20,000 rows (Core executemany on the service's tables)."""
    from sqlalchemy import insert

    from crm_deals.adapters.tables import deal_stage_history, deals
    from crm_platform.ids import new_id

    rnd = random.Random(5)
    open_ids = [s.id for s in pipeline.open_stages]  # type: ignore[attr-defined]
    start_time = datetime(2025, 1, 1, tzinfo=UTC)
    for start in range(0, rows, 20_000):
        batch, history = [], []
        for i in range(start, min(rows, start + 20_000)):
            deal_id = new_id()
            stage = rnd.choice(open_ids)
            created = start_time + timedelta(minutes=i)
            batch.append(
                {
                    "id": deal_id,
                    "title": f"Negocio {i}",
                    "client_id": new_id(),
                    "owner_id": owners[i % len(owners)],
                    "pipeline_id": pipeline.id,  # type: ignore[attr-defined]
                    "stage_id": stage,
                    "amount": Decimal(rnd.randrange(1_000, 90_000_000)),
                    "currency_code": "COP",
                    "probability": 25,
                    "expected_close_date": date(2026, 1, 1) + timedelta(days=i % 365),
                    "source_campaign_id": "",
                    "status": "open",
                    "lost_reason": "",
                    "accepted_quote_id": "",
                    "source_prospect_id": "",
                    "search_text": f"negocio {i}",
                    "created_at": created,
                    "updated_at": created,
                    "version": 1,
                }
            )
            history.append(
                {
                    "deal_id": deal_id,
                    "seq": 0,
                    "from_stage_id": "",
                    "to_stage_id": stage,
                    "moved_by": "",
                    "moved_at": created,
                }
            )
        with db.uow() as uow:  # type: ignore[attr-defined]
            uow.session.execute(insert(deals), batch)
            uow.session.execute(insert(deal_stage_history), history)
            uow.commit()


def listing(rows: int, owners_count: int, queries: int, postgres_url: str) -> None:
    from crm_deals.service_layer.deals import DealFilters, list_deals
    from crm_deals.service_layer.pipelines import ensure_default_pipeline
    from crm_platform.db import Database, run_migrations
    from crm_platform.ids import new_id
    from crm_platform.testing import scratch_postgres

    owners = [new_id() for _ in range(owners_count)]

    def measure(url: str, label: str) -> None:
        db = Database(url, "deals")
        try:
            run_migrations(db, "crm_deals:migrations")
            pipeline = ensure_default_pipeline(db)
            t = time.perf_counter()
            seed_deals(db, rows, owners, pipeline)
            print(f"list [{label}]: seeded {rows:,} deals of {owners_count} owners in {time.perf_counter() - t:.1f} s")
            with db.engine.connect() as conn:  # fresh statistics, as autovacuum / a periodic ANALYZE give
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
            rnd = random.Random(3)
            first, deep = [], []
            for _ in range(queries):
                owner = rnd.choice(owners)
                filters = DealFilters(owner_ids=(owner,))
                t = time.perf_counter()
                items, token, _ = list_deals(db, filters, 50, "")
                first.append(time.perf_counter() - t)
                assert len(items) == 50 and all(d.deal.owner_id == owner for d in items)
                for _ in range(rnd.randrange(1, 20)):  # walk a few pages to a deep one
                    items, token, _ = list_deals(db, filters, 50, token)
                t = time.perf_counter()
                items, token, _ = list_deals(db, filters, 50, token)
                deep.append(time.perf_counter() - t)
                assert len(items) == 50
            for name, lat in (("first page", first), ("deep page", deep)):
                print(
                    f"list [{label}] {name} of 50 of one owner's ~{rows // owners_count:,} out of {rows:,}: "
                    f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms"
                    " (target p99 < 50 ms)"
                )
        finally:
            db.dispose()

    with tempfile.TemporaryDirectory(prefix="crm-bench-deals-") as tmp:
        measure(f"sqlite:///{Path(tmp) / 'deals.db'}", "SQLite")
    if postgres_url:
        with scratch_postgres(postgres_url, "crm_bench") as url:
            measure(url, "PostgreSQL")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--move-deals", type=int, default=2000)
    p.add_argument("--list-rows", type=int, default=1_000_000)
    p.add_argument("--owners", type=int, default=200)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--skip", choices=["http", "list"], action="append", default=[])
    p.add_argument("--postgres-url", default="", help="also measure the list on PostgreSQL (a scratch database)")
    args = p.parse_args()
    print(f"load generator: {load_generator()}")
    if "http" not in args.skip:
        http(args)
    if "list" not in args.skip:
        listing(args.list_rows, args.owners, args.queries, args.postgres_url)


if __name__ == "__main__":
    main()
