"""The canvas whiteboard page (GET /canvas/<id>) with 200 notes, 20 of them linked to products
that won deals name, measured beside two baselines in the same run:

  bare     a bare Flask app under the same gunicorn settings answering a fixed page (the floor
           of one HTTP hop on this machine)
  api      GET /api/v1/canvases/<id> direct to the gateway (the one call the page makes: the
           notes with their links' live figures)
  page     GET /canvas/<id> from the web application, signed in as the admin (the API call,
           the users' names, and the board's HTML: nine blocks, 200 notes with their tools)

Starts the platform as `crm up` does (bench/web.py's setup: separate processes, SQLite, embedded
nats-server, free loopback ports, the web application under gunicorn gthread), seeds 20 products
each with one won deal and the canvas (200 notes spread over the nine blocks, 20 linked, one
product each), then times each --requests times one after another (interleaved halves), and
--users concurrent sessions for --seconds (bounded by time and --requests per user). Target:
page p99 < 300 ms.

    .venv/bin/python bench/web_canvas.py [--notes 200] [--products 20] [--requests 200] [--users 4]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import requests
from _http import ADMIN_EMAIL, PASSWORD, bare_app, platform, request
from _support import percentile
from web import _concurrent, _sign_in, _timed

BLOCKS = [
    "customer_segments",
    "value_propositions",
    "channels",
    "customer_relationships",
    "revenue_streams",
    "key_resources",
    "key_activities",
    "key_partners",
    "cost_structure",
]
TARGET_P99 = 0.300

BARE_APP = """
from flask import Flask
app = Flask(__name__)
PAGE = "<!doctype html><html lang=es><title>bare</title><main>" + "<p>nota</p>" * 200 + "</main></html>"

@app.get("/page")
def page():
    return PAGE
"""


def _seed(base: str, token: str, notes: int, products: int) -> str:
    """`products` products, each with one won deal; a canvas of `notes` notes of which the first
    `products` link one product each. Returns the canvas id."""
    client = request(f"{base}/api/v1/clients", {"name": "Cliente canvas", "kind": "company"}, token)
    product_ids = []
    for i in range(products):
        product = request(
            f"{base}/api/v1/products",
            {
                "sku": f"BENCH-{i:03d}",
                "name": f"Producto {i:03d}",
                "kind": "product",
                "unit_price": {"amount": "150000", "currency_code": "COP"},
                "tax_rate": "0.19",
            },
            token,
        )
        product_ids.append(str(product["id"]))
        deal = request(
            f"{base}/api/v1/deals",
            {
                "title": f"Negocio {i:03d}",
                "client_id": client["id"],
                "line_items": [{"product_id": product["id"], "quantity": "2"}],
                "amount": {"amount": "300000", "currency_code": "COP"},
            },
            token,
        )
        request(f"{base}/api/v1/deals/{deal['id']}:win", {}, token)
    body = []
    for i in range(notes):
        note: dict[str, object] = {
            "block": "value_propositions" if i < products else BLOCKS[i % len(BLOCKS)],
            "text": f"Nota {i:03d}: una idea del modelo de negocio con algo de texto",
            "order": (i + 1) * 100,
        }
        if i < products:
            note["links"] = [{"kind": "product", "target_id": product_ids[i]}]
        body.append(note)
    canvas = request(f"{base}/api/v1/canvases", {"name": "Canvas de medida", "status": "active", "notes": body}, token)
    return str(canvas["id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per measure (and per user)")
    parser.add_argument("--users", type=int, default=4, help="concurrent sessions")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of each concurrent run")
    args = parser.parse_args()

    with platform() as running:
        base, token = running.base, running.token
        web = f"http://{running.platform.web_listen}"
        canvas_id = _seed(base, token, args.notes, args.products)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        browser = _sign_in(web, ADMIN_EMAIL, PASSWORD)
        page_url = f"{web}/canvas/{canvas_id}"
        first = browser.get(page_url, timeout=60)
        assert first.status_code == 200 and first.text.count('class="note ') == args.notes, "the board is incomplete"
        linked = api.get(f"{base}/api/v1/canvases/{canvas_id}", timeout=60).json()
        won = sum(
            1 for n in linked["notes"] for x in n.get("links") or [] if (x.get("figures") or {}).get("won_deal_count")
        )
        print(
            f"web {web}  gateway {base}  (2 gunicorn workers each, SQLite); canvas of {args.notes} notes, "
            f"{args.products} linked products ({won} with won deals); page {len(first.content) // 1024} KiB"
        )

        def get(session: requests.Session, url: str) -> Callable[[], None]:
            def call() -> None:
                res = session.get(url, timeout=60)
                assert res.status_code == 200, (url, res.status_code)

            return call

        with bare_app(running, BARE_APP, "/page") as bare:
            plain = requests.Session()
            measures = {
                "bare": get(plain, f"{bare}/page"),
                "api": get(api, f"{base}/api/v1/canvases/{canvas_id}"),
                "page": get(browser, page_url),
            }
            for fn in measures.values():
                _timed(fn, 10)  # warm: name lookups cached, connections open
            times: dict[str, list[float]] = {name: [] for name in measures}
            for _ in range(2):  # interleaved halves, so a noisy neighbour hits every side alike
                for name, fn in measures.items():
                    times[name] += _timed(fn, args.requests // 2)
            for name, lat in times.items():
                print(
                    f"{name:5s} sequential  p50 {statistics.median(lat) * 1000:7.1f} ms  "
                    f"p99 {percentile(lat, 99) * 1000:7.1f} ms  ({len(lat)} requests)"
                )
            ratio = statistics.median(times["page"]) / statistics.median(times["api"])
            print(f"page/api p50 {ratio:4.2f}x (the page's own work over its one API call)")
            bare_lat = _concurrent(plain, f"{bare}/page", args.users, args.seconds, args.requests)
            page_lat = _concurrent(browser, page_url, args.users, args.seconds, args.requests)
            for name, lat in (("bare", bare_lat), ("page", page_lat)):
                print(
                    f"{name:5s} {args.users} users: {len(lat)} in {args.seconds:.0f} s, "
                    f"p50 {percentile(lat, 50) * 1000:7.1f} ms  p99 {percentile(lat, 99) * 1000:7.1f} ms"
                )
            p99 = percentile(times["page"], 99)
            verdict = "OK" if p99 < TARGET_P99 else "MISSED"
            print(f"page sequential p99 {p99 * 1000:.1f} ms (target < {TARGET_P99 * 1000:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
