"""The quotes service: a 20-line quote created through the gateway beside a bare hop, PDF renders
per second on one core, and gapless numbering under 16 concurrent creators.

Starts the platform as `crm up` does (separate processes, gunicorn gthread 2 workers, SQLite,
embedded nats-server, free loopback ports), makes a client, a contact, a deal and 20 products
through the gateway, and a bare Flask app under the same gunicorn settings whose one route makes
one gRPC call to the quotes service (GetProduct: an echo of one stored row) with nothing else. Then:
  create   POST /api/v1/quotes with 20 lines   vs bare GET /echo → GetProduct
           (--rounds of --seconds each, wrk or bounded Python clients; target ≥ 25 % of the bare hop)
  pdf      the renderer (adapters.pdf.render_quote) drawing that 20-line quote in this process, one
           thread, for --pdf-seconds (target ≥ 20 documents/s on one core); and, for information,
           GET /api/v1/quotes/<id>/pdf through the gateway
  numbers  16 threads creating --per-creator quotes each through the gateway at once; the numbers
           of the year must be 1..N with no gap and no repeat. With --postgres-url the same 16
           creators run against a quotes service on a scratch PostgreSQL database (over gRPC, with
           a stand-in deals directory)."""

from __future__ import annotations

import argparse
import json
import statistics
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

from _http import Running, bare_app, get, load, load_generator, platform, request

BARE_APP = textwrap.dedent(
    """
    from flask import Flask, jsonify
    from google.protobuf.json_format import MessageToDict
    from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
    from crm_platform.grpc_client import channel_to

    app = Flask(__name__)
    stub = quotes_pb2_grpc.QuotesServiceStub(channel_to("quotes"))

    @app.get("/echo/<product_id>")
    def echo(product_id):
        res = stub.GetProduct(quotes_pb2.GetProductRequest(id=product_id))
        return jsonify(MessageToDict(res.product))

    @app.get("/health")
    def health():
        return "ok"
    """
)
LINES = 20
CREATORS = 16


def setup(running: Running) -> tuple[str, list[str]]:
    """A deal (with its client and contact) and LINES products; returns the deal id and product ids."""
    base, token = running.base, running.token
    client = request(f"{base}/api/v1/clients", {"name": "Compañía Ñandú Müller S.A.S."}, token)
    contact = request(
        f"{base}/api/v1/contacts", {"client_id": client["id"], "first_name": "José", "last_name": "Peña"}, token
    )
    deal = request(
        f"{base}/api/v1/deals",
        {
            "title": "Renovación 2026",
            "client_id": client["id"],
            "contact_ids": [contact["id"]],
            "amount": {"amount": "0", "currency_code": "COP"},
        },
        token,
    )
    products = []
    for i in range(LINES):
        body = {
            "sku": f"BENCH-{i:03d}",
            "name": f"Servicio de instalación y configuración número {i} en Bogotá",
            "kind": "service" if i % 2 else "product",
            "unit_price": {"amount": f"{125000 + i * 1375}.50", "currency_code": "COP"},
            "tax_rate": "0.19" if i % 3 else "0.05",
        }
        products.append(str(request(f"{base}/api/v1/products", body, token)["id"]))
    return str(deal["id"]), products


def quote_body(deal_id: str, products: list[str]) -> dict[str, object]:
    lines = [
        {"product_id": p, "quantity": str(i + 1), "discount_rate": "0.05" if i % 4 == 0 else "0"}
        for i, p in enumerate(products)
    ]
    return {"deal_id": deal_id, "lines": lines, "global_discount_rate": "0.025", "terms": "Pago a 30 días."}


def compare(gateway_url: str, bare_url: str, token: str, body: str, args: argparse.Namespace) -> None:
    load(gateway_url, 2, args.connections, token, body)  # warm-up
    load(bare_url, 2, args.connections)
    ours, bares = [], []
    for r in range(args.rounds):
        b, b_lat = load(bare_url, args.seconds, args.connections)
        g, g_lat = load(gateway_url, args.seconds, args.connections, token, body)
        bares.append(b)
        ours.append(g)
        print(f"create round {r + 1}: bare {b:,.0f} req/s ({b_lat})   quote {g:,.0f} req/s ({g_lat})   {g / b:.0%}")
    bm, gm = statistics.median(bares), statistics.median(ours)
    print(f"create median: bare {bm:,.0f} req/s, 20-line quote {gm:,.0f} req/s, ratio {gm / bm:.0%} (target ≥ 25 %)")


def pdf_rate(seconds: float) -> None:
    """The renderer on one thread of this process, drawing a 20-line quote like the one created."""
    from decimal import Decimal

    from crm_quotes.adapters.contacts_directory import ClientCard, ContactCard
    from crm_quotes.adapters.pdf import Company, render_quote
    from crm_quotes.domain.products import Product, ProductKind
    from crm_quotes.domain.quotes import LineDraft, Quote, priced_lines, with_totals

    catalogue = {
        f"p{i}": Product(
            id=f"p{i}",
            sku=f"BENCH-{i:03d}",
            name=f"Servicio de instalación y configuración número {i} en Bogotá",
            kind=ProductKind.SERVICE,
            unit_price=Decimal(f"{125000 + i * 1375}.50"),
            currency="COP",
            tax_rate=Decimal("0.19") if i % 3 else Decimal("0.05"),
        )
        for i in range(LINES)
    }
    drafts = [
        LineDraft(f"p{i}", Decimal(i + 1), discount_percent=Decimal(5 if i % 4 == 0 else 0)) for i in range(LINES)
    ]
    counter = iter(range(LINES))
    lines = priced_lines(drafts, catalogue, "COP", Decimal("2.5"), lambda: f"line-{next(counter)}")
    quote = with_totals(
        Quote(id="q", deal_id="d", owner_id="o", currency="COP", number="COT-2026-0001", root_number="COT-2026-0001",
              lines=lines, global_discount_percent=Decimal("2.5"), valid_until=date.today(), terms="Pago a 30 días.")
    )  # fmt: skip
    client = ClientCard(id="c", name="Compañía Ñandú Müller S.A.S.", tax_id="900123456-8", address="Calle 10, Bogotá")
    contact = ContactCard(id="k", name="José Peña", job_title="Jefe de compras", email="jose@example.com")
    company = Company(name="Soluciones Andinas S.A.S.", tax_id="901234567-7", address="Cra 7 # 71-21, Bogotá")
    render_quote(quote, client, contact, company, "es", date.today())  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and count < 100_000:
        render_quote(quote, client, contact, company, "es", date.today())
        count += 1
    took = time.perf_counter() - start
    print(f"pdf renderer: {count} documents of {LINES} lines in {took:.1f} s on one thread: {count / took:,.1f}/s "
          "(target ≥ 20/s on one core)")  # fmt: skip


def pdf_through_gateway(running: Running, quote_id: str, args: argparse.Namespace) -> None:
    url = f"{running.base}/api/v1/quotes/{quote_id}/pdf"
    rps, lat = load(url, args.seconds, 4, running.token)
    print(f"pdf through the gateway (4 connections): {rps:,.1f} documents/s ({lat})")


def numbering(create: object, year_numbers: object, per_creator: int, label: str) -> None:
    """CREATORS threads calling `create()` per_creator times at once; checks `year_numbers()`."""
    start = threading.Barrier(CREATORS)

    def creator(_: int) -> int:
        start.wait()
        for _ in range(per_creator):
            create()  # type: ignore[operator]
        return per_creator

    t = time.perf_counter()
    with ThreadPoolExecutor(CREATORS) as pool:
        made = sum(pool.map(creator, range(CREATORS)))
    took = time.perf_counter() - t
    numbers = sorted(year_numbers())  # type: ignore[operator]
    gapless = numbers == list(range(1, len(numbers) + 1))
    print(
        f"numbers [{label}]: {CREATORS} creators made {made} quotes in {took:.1f} s ({made / took:,.0f}/s); "
        f"{len(numbers)} numbers this year, 1..{numbers[-1] if numbers else 0}, "
        f"{'no gap and no repeat' if gapless else 'GAPS OR REPEATS'}"
    )
    if not gapless:
        raise SystemExit(1)


def gateway_numbers(running: Running, body: dict[str, object], per_creator: int) -> None:
    year = datetime.now(UTC).year
    data = json.dumps(body)

    def create() -> None:
        request(f"{running.base}/api/v1/quotes", json.loads(data), running.token)

    def year_numbers() -> list[int]:
        found, token = [], ""
        while True:
            page = get(f"{running.base}/api/v1/quotes?page_size=500&include_superseded=true&page_token={token}",
                       running.token)  # fmt: skip
            found += [str(q["number"]) for q in page["items"]]  # type: ignore[union-attr]
            token = str(page["next_page_token"])
            if not token:
                break
        prefix = f"COT-{year}-"
        return [int(n.removeprefix(prefix)) for n in found if n.startswith(prefix) and "-R" not in n]

    numbering(create, year_numbers, per_creator, "SQLite, through the gateway")


def postgres_numbers(postgres_url: str, per_creator: int) -> None:
    import tempfile
    from pathlib import Path

    import grpc
    from sqlalchemy import select

    from crm.common.v1 import types_pb2
    from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
    from crm_platform.config import PlatformSettings, ServiceConfig
    from crm_platform.ids import new_id
    from crm_platform.nats_server import NatsServer
    from crm_platform.service import ServiceRuntime
    from crm_platform.testing import scratch_postgres
    from crm_quotes.adapters.deals_directory import DealRef
    from crm_quotes.adapters.tables import quotes
    from crm_quotes.bootstrap import spec
    from crm_quotes.settings import QuotesSettings

    deal = DealRef(new_id(), "Bench", new_id(), (new_id(),), new_id(), "COP")

    class Deals:
        def deal(self, deal_id: str) -> DealRef | None:
            return deal if deal_id == deal.id else None

    with tempfile.TemporaryDirectory(prefix="crm-bench-quotes-") as tmp, scratch_postgres(postgres_url) as url:
        nats = NatsServer(Path(tmp) / "nats").start()
        settings = PlatformSettings(nats_url=nats.url, log_level="warning")
        config = ServiceConfig("quotes", url, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings)
        runtime = ServiceRuntime(spec(Deals(), None, QuotesSettings(expiry_sweep_seconds=0)), config)
        runtime.start()
        try:
            assert runtime.ready.wait(20)
            stub = quotes_pb2_grpc.QuotesServiceStub(grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}"))
            product = stub.CreateProduct(
                quotes_pb2.CreateProductRequest(
                    product=quotes_pb2.Product(
                        sku="PG-1", name="Bench", kind=quotes_pb2.PRODUCT_KIND_PRODUCT, tax_rate="0.19",
                        unit_price=types_pb2.Money(amount="1000", currency_code="COP"), active=True,
                    )
                )
            ).product  # fmt: skip
            req = quotes_pb2.CreateQuoteRequest(quote=quotes_pb2.Quote(deal_id=deal.id))
            for _ in range(LINES):
                req.quote.lines.add(product_id=product.id, quantity="2")

            def create() -> None:
                stub.CreateQuote(req, timeout=60)

            def year_numbers() -> list[int]:
                assert runtime.db is not None
                with runtime.db.read() as s:
                    return [int(n.rsplit("-", 1)[1]) for n in s.scalars(select(quotes.c.number))]

            numbering(create, year_numbers, per_creator, "PostgreSQL, over gRPC")
        finally:
            runtime.stop(grace=1)
            nats.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--pdf-seconds", type=float, default=5.0)
    p.add_argument("--per-creator", type=int, default=10)
    p.add_argument("--postgres-url", default="", help="also check numbering on PostgreSQL (a scratch database)")
    args = p.parse_args()
    print(f"load generator: {load_generator()}")
    with platform(2) as running:
        deal_id, products = setup(running)
        body = quote_body(deal_id, products)
        first = request(f"{running.base}/api/v1/quotes", body, running.token)
        print(f"a 20-line quote: {first['number']}, total {first['total']}")  # type: ignore[index]
        with bare_app(running, BARE_APP, "/health") as bare:
            compare(
                f"{running.base}/api/v1/quotes", f"{bare}/echo/{products[0]}", running.token, json.dumps(body), args
            )
        pdf_rate(args.pdf_seconds)
        pdf_through_gateway(running, str(first["id"]), args)
        gateway_numbers(running, body, args.per_creator)
    if args.postgres_url:
        postgres_numbers(args.postgres_url, args.per_creator)


if __name__ == "__main__":
    main()
