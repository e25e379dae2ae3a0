"""The pipeline board with 500 open deals, and a card move, measured beside the API calls they make,
in the same run (bench/web.py's setup and helpers, reused).

Starts the platform as `crm up` does (the web application under gunicorn gthread, the gateway,
every service, SQLite, embedded nats-server, free loopback ports), seeds through the API 50
clients and 500 open deals spread over the default pipeline's open stages (COP and USD amounts,
20 of them with an overdue activity), signs a browser-like session in, and with the lookups warm:

  board   GET /deals/board: its server time (client-measured on loopback, p50/p99 of --requests
          loads) and HTML size, beside the calls it makes made directly (pipelines, then the open
          deals of the pipeline in pages of 500 and the overdue activities, in parallel).
          Targets: p99 < 200 ms, HTML < 300 KB.
  move    POST /deals/<id>/move as the board's script sends it (JSON, CSRF header, the card's
          version), by --users concurrent sessions each moving its own deal back and forth for
          --seconds, beside POST /api/v1/deals/<id>:move with If-Match the same way, direct.
          Target: p99 < 150 ms at 8 users.

Every loop is bounded by a count and a time limit."""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from _http import platform, request
from _support import percentile
from web import _sign_in, _timed

DEALS = 500
CLIENTS = 50
OVERDUE = 20


def _seed(base: str, token: str) -> dict[str, Any]:
    """50 clients and 500 open deals over the default pipeline's open stages; returns the pipeline."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    pipelines = api.get(f"{base}/api/v1/pipelines", timeout=30).json()["items"]
    pipeline = next(p for p in pipelines if p["is_default"])
    stages = [s["id"] for s in pipeline["stages"] if s["kind"] == "open"]
    clients = [
        str(request(f"{base}/api/v1/clients", {"name": f"Cliente tablero {i:02d}", "kind": "company"}, token)["id"])
        for i in range(CLIENTS)
    ]

    def deal(i: int) -> str:
        body = {
            "title": f"Negocio del tablero {i:03d} renovación anual",
            "client_id": clients[i % CLIENTS],
            "stage_id": stages[i % len(stages)],
            "amount": {"amount": f"{1_000_000 + i * 12_500}", "currency_code": "USD" if i % 5 == 0 else "COP"},
            "expected_close_date": f"2027-0{1 + i % 9}-{10 + i % 18}",
        }
        return str(request(f"{base}/api/v1/deals", body, token)["id"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(deal, range(DEALS)))
    for i in range(OVERDUE):
        call = {"kind": "call", "subject": f"Llamada {i}", "deal_id": ids[i * 7], "due_time": "2026-01-05T15:00:00Z"}
        request(f"{base}/api/v1/activities", call, token)
    return {"pipeline": pipeline, "stages": stages, "deals": ids}


def _movers(n: int, seconds: float, cap: int, move: Callable[[int], bool]) -> tuple[list[float], int]:
    """`n` users, each moving its own deal (move(k)) for `seconds`, at most `cap` moves each."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user(k: int) -> None:
        mine: list[float] = []
        for _ in range(cap):
            if time.monotonic() >= stop:
                break
            t = time.perf_counter()
            ok = move(k)
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    failures[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return latencies, failures[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="sequential board loads (and API rounds)")
    parser.add_argument("--users", type=int, default=8, help="concurrent sessions moving cards")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of each concurrent run")
    args = parser.parse_args()

    from _http import ADMIN_EMAIL, PASSWORD

    with platform() as running:
        base, token = running.base, running.token
        web = f"http://{running.platform.web_listen}"
        t0 = time.perf_counter()
        seeded = _seed(base, token)
        print(f"seeded {CLIENTS} clients and {DEALS} open deals in {time.perf_counter() - t0:.0f} s")
        pipeline_id = seeded["pipeline"]["id"]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        browser = _sign_in(web, ADMIN_EMAIL, PASSWORD)
        pool = ThreadPoolExecutor(max_workers=4)

        def api_get(path: str) -> Any:
            res = api.get(base + path, timeout=30)
            assert res.status_code == 200, (path, res.status_code, res.text[:200])
            return res.json()

        def board_api() -> None:
            """The calls the board makes, as it makes them."""
            overdue = pool.submit(api_get, "/api/v1/activities?due=overdue&page_size=500")
            api_get("/api/v1/pipelines?page_size=500")
            token_ = ""
            while True:
                q = f"/api/v1/deals?pipeline_id={pipeline_id}&status=open&page_size=500&page_token={token_}"
                token_ = api_get(q).get("next_page_token", "")
                if not token_:
                    break
            overdue.result()

        sizes: list[int] = []

        def board_page() -> None:
            res = browser.get(f"{web}/deals/board", timeout=30)
            assert res.status_code == 200 and "/signin" not in res.url, (res.status_code, res.url)
            sizes.append(len(res.content))

        _timed(board_page, 5)  # warm: lookups and client names cached, connections open
        _timed(board_api, 5)
        cards = browser.get(f"{web}/deals/board", timeout=30).text.count('class="deal-card"')
        pages, calls = [], []
        for _ in range(2):  # interleaved halves, so a noisy neighbour hits both sides alike
            pages += _timed(board_page, args.requests // 2)
            calls += _timed(board_api, args.requests // 2)
        p50, p99, a50 = statistics.median(pages), percentile(pages, 99), statistics.median(calls)
        size = max(sizes)
        print(
            f"board   {cards} cards  page p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms "
            f"(target p99 < 200 ms: {'OK' if p99 < 0.200 else 'MISSED'})  api calls p50 {a50 * 1000:6.1f} ms  "
            f"p99 {percentile(calls, 99) * 1000:6.1f} ms  page/api p50 {p50 / a50:4.2f}x"
        )
        print(f"board   HTML {size / 1024:6.1f} KB (target < 300 KB: {'OK' if size < 300 * 1024 else 'MISSED'})")

        # Card moves: each user its own deal, back and forth between the first two open stages.
        stages = seeded["stages"][:2]
        web_deals = seeded["deals"][100 : 100 + args.users]
        api_deals = seeded["deals"][200 : 200 + args.users]
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', browser.get(f"{web}/deals/board", timeout=30).text)
        assert csrf, "no CSRF token on the board"
        sessions = []
        for _ in range(args.users):
            s = requests.Session()
            s.cookies.update(browser.cookies)
            s.headers.update({"Accept": "application/json", "X-CSRFToken": csrf.group(1)})
            sessions.append(s)
        api_sessions = []
        for _ in range(args.users):
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            api_sessions.append(s)
        for ids in (web_deals, api_deals):  # every deal starts in the first stage
            for d in ids:
                now = api_get(f"/api/v1/deals/{d}")
                if now["stage_id"] != stages[0]:
                    api.post(f"{base}/api/v1/deals/{d}:move", json={"stage_id": stages[0]}, timeout=30)

        def state(deal_id: str) -> tuple[str, str]:
            now = api_get(f"/api/v1/deals/{deal_id}")
            return str(now["version"]), str(now["stage_id"])

        # Each user's deal's version and stage, as the card (or an API client) keeps them from answer
        # to answer; a failed move reads them again, so one failure does not fail every later move.
        web_state = [state(d) for d in web_deals]
        api_state = [state(d) for d in api_deals]

        def other(stage: str) -> str:
            return stages[1] if stage == stages[0] else stages[0]

        def web_move(k: int) -> bool:
            version, stage = web_state[k]
            to = other(stage)
            res = sessions[k].post(f"{web}/deals/{web_deals[k]}/move", data={"to": to, "version": version}, timeout=30)
            ok = bool(res.status_code == 200 and res.json().get("ok"))
            web_state[k] = (str(res.json()["version"]), to) if ok else state(web_deals[k])
            return ok

        def api_move(k: int) -> bool:
            version, stage = api_state[k]
            to = other(stage)
            res = api_sessions[k].post(
                f"{base}/api/v1/deals/{api_deals[k]}:move",
                json={"stage_id": to},
                headers={"If-Match": f'"{version}"'},
                timeout=30,
            )
            ok = res.status_code == 200
            api_state[k] = (str(res.json()["version"]), to) if ok else state(api_deals[k])
            return ok

        cap = max(args.requests * 5, 50)
        # One user first (the hop the page adds to one move), then --users at once (the target).
        for users in (1, args.users):
            for name, fn in (("move (page)", web_move), ("move (api) ", api_move)):
                lat, failed = _movers(users, args.seconds / 2 if users == 1 else args.seconds, cap, fn)
                p99 = percentile(lat, 99)
                target = (
                    f" (target p99 < 150 ms: {'OK' if p99 < 0.150 else 'MISSED'})"
                    if users > 1 and "page" in name
                    else ""
                )
                print(
                    f"{name} {users} user{'s' if users > 1 else ' '}: {len(lat)} moves, {failed} failed, "
                    f"p50 {percentile(lat, 50) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms{target}"
                )
        pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
