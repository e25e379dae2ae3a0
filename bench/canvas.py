"""Opening a canvas, in this process over real gRPC (SQLite files, an embedded nats-server, free
loopback ports): the real contacts, quotes and deals services hold --products products, each named
by a won deal; a canvas holds --notes notes of which --products are linked to those products
(value propositions and revenue streams). Each run is one GetCanvas through the canvas service's
gRPC server: it reads the notes and fetches the links' figures in one batch call per service
(BatchGetProducts to quotes, BatchGetProductDealFigures to deals, in parallel). p50 / p99 over
--runs runs after --warmup (target p99 < 300 ms for 200 notes and 20 linked records).

With --postgres-url the canvas service runs on a scratch PostgreSQL database too.

    .venv/bin/python bench/canvas.py [--notes 200] [--products 20] [--runs 200] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import grpc
from _support import percentile

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import canvas_pb2_grpc
from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_canvas.bootstrap import spec
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.bootstrap import SPEC as DEALS
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.grpc_client import close_channels
from crm_platform.ids import new_id
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime, ServiceSpec
from crm_platform.testing import scratch_postgres
from crm_quotes.bootstrap import SPEC as QUOTES

OWNER = "0192d6e0-0000-7000-8000-0000000000aa"
BLOCKS = list(range(1, 10))


def _start(service: ServiceSpec, url: str, nats_url: str) -> ServiceRuntime:
    settings = PlatformSettings(nats_url=nats_url, relay_poll_seconds=0.05)
    cfg = ServiceConfig(service.name, url, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings)
    runtime = ServiceRuntime(service, cfg)
    runtime.start()
    assert runtime.ready.wait(30), f"{service.name} did not become ready"
    return runtime


def _channel(rt: ServiceRuntime) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}")


def seed_peers(tmp: Path, nats_url: str, products: int) -> tuple[list[ServiceRuntime], list[str]]:
    """The peer services with `products` products, each sold in one won deal."""
    contacts = _start(CONTACTS, f"sqlite:///{tmp / 'contacts.db'}", nats_url)
    os.environ["CRM_CONTACTS_ADDR"] = f"127.0.0.1:{contacts.grpc_port}"
    quotes = _start(QUOTES, f"sqlite:///{tmp / 'quotes.db'}", nats_url)
    os.environ["CRM_QUOTES_ADDR"] = f"127.0.0.1:{quotes.grpc_port}"
    deals = _start(DEALS, f"sqlite:///{tmp / 'deals.db'}", nats_url)
    os.environ["CRM_DEALS_ADDR"] = f"127.0.0.1:{deals.grpc_port}"
    people = contacts_pb2_grpc.ContactsServiceStub(_channel(contacts))
    catalogue = quotes_pb2_grpc.QuotesServiceStub(_channel(quotes))
    sales = deals_pb2_grpc.DealsServiceStub(_channel(deals))
    client = people.CreateClient(
        contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name="Cliente bench", owner_id=OWNER)), timeout=10
    ).client
    ids: list[str] = []
    for i in range(products):
        product = catalogue.CreateProduct(
            quotes_pb2.CreateProductRequest(
                product=quotes_pb2.Product(
                    sku=f"BENCH-{i:03d}-{new_id()[-6:]}",
                    name=f"Producto {i:03d}",
                    kind=quotes_pb2.PRODUCT_KIND_PRODUCT,
                    unit_price=types_pb2.Money(amount="100000", currency_code="COP"),
                    tax_rate="0.19",
                    active=True,
                )
            ),
            timeout=10,
        ).product
        deal = sales.CreateDeal(
            deals_pb2.CreateDealRequest(
                deal=deals_pb2.Deal(
                    title=f"Negocio {i}",
                    client_id=client.id,
                    owner_id=OWNER,
                    amount=types_pb2.Money(amount="500000", currency_code="COP"),
                    line_items=[deals_pb2.DealLineItem(product_id=product.id, quantity="1")],
                )
            ),
            timeout=10,
        ).deal
        sales.WinDeal(deals_pb2.WinDealRequest(deal_id=deal.id), timeout=10)
        ids.append(product.id)
    return [deals, quotes, contacts], ids


def run_backend(label: str, url: str, nats_url: str, args: argparse.Namespace, product_ids: list[str]) -> None:
    canvas_rt = _start(spec(), url, nats_url)
    try:
        stub = canvas_pb2_grpc.CanvasServiceStub(_channel(canvas_rt))
        notes = []
        for i in range(args.notes):
            if i < len(product_ids):
                block = pb.CANVAS_BLOCK_VALUE_PROPOSITIONS if i % 2 else pb.CANVAS_BLOCK_REVENUE_STREAMS
                links = [pb.NoteLink(kind=pb.LINK_KIND_PRODUCT, target_id=product_ids[i])]
            else:
                block, links = BLOCKS[i % 9], []
            notes.append(
                pb.Note(block=block, text=f"Nota {i:03d}: una idea del modelo de negocio", order=i, links=links)
            )
        made = stub.CreateCanvas(
            pb.CreateCanvasRequest(canvas=pb.Canvas(name="Bench", owner_id=OWNER, notes=notes)),
            timeout=60,
            metadata=[("x-crm-actor", OWNER)],
        ).canvas
        req = pb.GetCanvasRequest(id=made.id)
        for _ in range(args.warmup):
            stub.GetCanvas(req, timeout=10)
        times: list[float] = []
        for _ in range(args.runs):
            t = time.perf_counter()
            got = stub.GetCanvas(req, timeout=10).canvas
            times.append((time.perf_counter() - t) * 1000)
        linked = [k for n in got.notes for k in n.links]
        with_figures = sum(1 for k in linked if k.figures.HasField("fetch_time") and k.figures.won_deal_count == 1)
        assert len(got.notes) == args.notes and with_figures == len(product_ids), (len(got.notes), with_figures)
        print(
            f"{label:10s} GetCanvas {args.notes} notes, {len(linked)} linked records with figures, {args.runs} runs: "
            f"p50 {percentile(times, 50):.1f} ms, p99 {percentile(times, 99):.1f} ms, max {max(times):.1f} ms"
        )
    finally:
        canvas_rt.stop(grace=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-canvas-") as tmp:
        tmp_path = Path(tmp)
        server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
        peers: list[ServiceRuntime] = []
        try:
            peers, product_ids = seed_peers(tmp_path, server.url, args.products)
            run_backend("sqlite", f"sqlite:///{tmp_path / 'canvas.db'}", server.url, args, product_ids)
            if args.postgres_url:
                with scratch_postgres(args.postgres_url, "crm_bench_canvas") as pg_url:
                    run_backend("postgresql", pg_url, server.url, args, product_ids)
        finally:
            for rt in peers:
                rt.stop(grace=1)
            close_channels()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
