"""The contacts service through the gateway, measured beside bare hops in the same run.

Starts the platform as `crm up` does (separate processes, gunicorn gthread 2 workers, SQLite,
embedded nats-server, free loopback ports) and a bare Flask app under the same gunicorn settings
whose routes make the same gRPC calls with nothing else (no authentication, validation, access
rules or metrics). With wrk (or bounded Python clients), --rounds times for --seconds each:
  create   POST /api/v1/clients {"name": ...}          vs bare POST /create → CreateClient
  page     GET /api/v1/clients?page_size=50            vs bare GET /page → ListClients(50)
(targets: each ≥ 50 % of the bare hop). Then:
  import   a --import-rows row CSV of clients (unique e-mails and phones) through
           POST /api/v1/clients:import (target: 100,000 rows in under 60 s), then the same file again
           (everything reported as a duplicate).
  search   --search-rows clients written into a scratch contacts database by the service's own
           bulk writer (the one the import uses: tables, phones and search index), then ListClients'
           text search through the service layer for --queries random fragments (3 to 8 characters)
           of names, e-mails and tax ids: p50/p99 (target p99 < 50 ms over 1,000,000 clients), on
           SQLite and, with --postgres-url, PostgreSQL."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from _http import bare_app, get, load, load_generator, platform, request
from _support import percentile

BARE_APP = textwrap.dedent(
    """
    from flask import Flask, jsonify, request
    from google.protobuf.json_format import MessageToDict
    from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
    from crm_platform.grpc_client import channel_to

    app = Flask(__name__)
    stub = contacts_pb2_grpc.ContactsServiceStub(channel_to("contacts"))

    @app.post("/create")
    def create():
        body = request.get_json()
        client = contacts_pb2.Client(name=body["name"], owner_id=OWNER)
        res = stub.CreateClient(contacts_pb2.CreateClientRequest(client=client))
        return jsonify(MessageToDict(res.client)), 201

    @app.get("/page")
    def page():
        res = stub.ListClients(contacts_pb2.ListClientsRequest(page_size=50))
        return jsonify({"items": [MessageToDict(c) for c in res.clients], "next_page_token": res.next_page_token})

    @app.get("/health")
    def health():
        return "ok"
    """
)


def csv_of_clients(rows: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    lines = ["nombre;correo;telefono;ciudad;pais;industria"]
    cities = ["Bogotá", "Medellín", "Cali", "Barranquilla", "Cartagena", "Bucaramanga"]
    for i in range(rows):
        company = f"Empresa {i} {rnd.choice(['SAS', 'Ltda', 'SA'])}"
        phone = f"+57{3_000_000_000 + i}"  # Colombian mobiles: 300 ...
        industry = rnd.choice(["Agro", "Textil", "Retail", "Minería"])
        lines.append(f"{company};contacto{i}@empresa{i}.example;{phone};{rnd.choice(cities)};CO;{industry}")
    return ("\n".join(lines) + "\n").encode()


def compare(name: str, gateway_url: str, bare_url: str, token: str, args: argparse.Namespace, body: str = "") -> None:
    load(gateway_url, 2, args.connections, token, body)  # warm-up
    load(bare_url, 2, args.connections, "", body)
    ours, bares = [], []
    for r in range(args.rounds):
        b, b_lat = load(bare_url, args.seconds, args.connections, "", body)
        g, g_lat = load(gateway_url, args.seconds, args.connections, token, body)
        bares.append(b)
        ours.append(g)
        print(f"{name} round {r + 1}: bare {b:,.0f} req/s ({b_lat})   gateway {g:,.0f} req/s ({g_lat})   {g / b:.0%}")
    bm, gm = statistics.median(bares), statistics.median(ours)
    print(f"{name} median: bare {bm:,.0f} req/s, gateway {gm:,.0f} req/s, ratio {gm / bm:.0%} (target ≥ 50 %)")


FIRST = ["Ana", "Beto", "Carla", "Diego", "Elena", "Fabio", "Gloria", "Hugo", "Inés", "Jorge", "Lucía", "Mario"]
LAST = ["Gómez", "Pérez", "Rodríguez", "Vargas", "Moreno", "Castaño", "Núñez", "Peña", "Ospina", "Quintero"]
TRADE = ["Distribuidora", "Ferretería", "Panadería", "Comercializadora", "Agroindustrias", "Textiles", "Café"]


def seed_clients(db: object, rows: int, owner: str) -> list[str]:
    """`rows` varied clients through the service's own bulk writer (repository.add_clients, as the
    import uses), in transactions of 10,000; returns the texts the queries take fragments of."""
    from datetime import UTC, datetime

    from stdnum.co import nit

    from crm_contacts.adapters import repository
    from crm_contacts.domain.clients import Client, ClientKind
    from crm_platform.ids import new_id

    rnd = random.Random(11)
    words: list[str] = []
    for start in range(0, rows, 10_000):
        batch = []
        now = datetime.now(UTC)
        for i in range(start, min(rows, start + 10_000)):
            name = f"{rnd.choice(TRADE)} {rnd.choice(LAST)} {rnd.choice(FIRST)} {i}"
            email = f"{rnd.choice(FIRST).lower()}.{i}@{rnd.choice(LAST).lower()}{i % 977}.example"
            tax = f"{900_000_000 + i}-{nit.calc_check_digit(str(900_000_000 + i))}"  # a valid NIT, as stored
            batch.append(
                Client(
                    id=new_id(),
                    kind=ClientKind.COMPANY,
                    name=name,
                    owner_id=owner,
                    email=email,
                    tax_country="CO",
                    tax_id=tax,
                    created_at=now,
                    updated_at=now,
                )
            )
            if i % 97 == 0:
                words += [name, email, tax]
        with db.uow() as uow:  # type: ignore[attr-defined]
            repository.add_clients(uow.session, batch)
            uow.commit()
    return words


def search(rows: int, queries: int, postgres_url: str) -> None:
    from crm_contacts.service_layer.clients import ClientFilters, list_clients
    from crm_platform.db import Database, run_migrations
    from crm_platform.testing import scratch_postgres

    def measure(url: str, label: str) -> None:
        db = Database(url, "contacts")
        run_migrations(db, "crm_contacts:migrations")
        t = time.perf_counter()
        words = seed_clients(db, rows, "0192d6e0-0000-7000-8000-0000000000aa")
        print(f"search [{label}]: {rows:,} clients written in {time.perf_counter() - t:.1f} s")
        rnd = random.Random(3)
        lat, hits = [], 0
        for _ in range(queries):
            word = rnd.choice(words).lower()
            size = rnd.choice((3, 4, 5, 6, 8))
            start = rnd.randrange(0, max(1, len(word) - size))
            t = time.perf_counter()
            found = list_clients(db, ClientFilters(query=word[start : start + size]), 50, "")
            lat.append(time.perf_counter() - t)
            hits += bool(found.items)
        print(
            f"search [{label}] over {rows:,} clients, {queries} queries ({hits} with hits): "
            f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
            f"max {max(lat) * 1000:.1f} ms (target p99 < 50 ms)"
        )
        db.dispose()

    with tempfile.TemporaryDirectory(prefix="crm-bench-search-") as tmp:
        measure(f"sqlite:///{Path(tmp) / 'contacts.db'}", "SQLite")
    if postgres_url:
        with scratch_postgres(postgres_url) as url:
            measure(url, "PostgreSQL")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--import-rows", type=int, default=100_000)
    p.add_argument("--search-rows", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--skip", choices=["http", "import", "search"], action="append", default=[])
    p.add_argument("--postgres-url", default="", help="also measure search on PostgreSQL (a scratch database)")
    args = p.parse_args()
    print(f"load generator: {load_generator()}")
    if "http" not in args.skip or "import" not in args.skip:
        with platform(2) as running:
            base, token = running.base, running.token
            me = get(f"{base}/api/v1/auth/me", token)
            source = BARE_APP.replace("OWNER", repr(me["id"]))
            if "http" not in args.skip:
                with bare_app(running, source, "/health") as bare:
                    compare("create", f"{base}/api/v1/clients", f"{bare}/create", token, args, '{"name": "Bench SA"}')
                    compare("page of 50", f"{base}/api/v1/clients?page_size=50", f"{bare}/page", token, args)
            if "import" not in args.skip:
                data = csv_of_clients(args.import_rows)
                for attempt in ("first", "again"):
                    t = time.perf_counter()
                    report = request(f"{base}/api/v1/clients:import", token=token, data=data, content_type="text/csv")
                    took = time.perf_counter() - t
                    print(
                        f"import {attempt}: {args.import_rows:,} rows ({len(data) / 1e6:.1f} MB) in {took:.1f} s, "
                        f"{args.import_rows / took:,.0f} rows/s; created {report['created']:,}, "
                        f"duplicates {report['duplicates']:,}, failed {report['failed']:,} (target < 60 s)"
                    )
    if "search" not in args.skip:
        search(args.search_rows, args.queries, args.postgres_url)


if __name__ == "__main__":
    main()
