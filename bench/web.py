"""The web application's pages, measured beside the API calls they make, in the same run.

Starts the platform as `crm up` does (separate processes: every service, the gateway and the web
application under gunicorn gthread, SQLite, embedded nats-server, free loopback ports), creates 50
clients (one with contacts, deals and activities), signs a browser-like session in to the web
application, and then, with the name lookups warm (as on every page after the first):

  list     GET /clients/ (a page of 50 clients with its total)
           vs GET /api/v1/clients?page_size=50&include_total_size=true, direct to the gateway
  detail   GET /clients/<id> (the record, its contacts, deals, quotes, activities)
           vs the same five API calls made in parallel (as the page makes them), direct

--requests times each, one after another: the page's server time (measured by the client on
loopback, so it includes the web's own hop) against the API calls' wall time, p50 and the ratio
(target ≤ 1.5x). Then --users concurrent sessions load each page for --seconds (bounded by time
and by --requests per user): p50/p99 (target p99 < 150 ms at 8 users)."""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests
from _http import platform, request
from _support import percentile

LIST_API = "/api/v1/clients?page_size=50&include_total_size=true"


def _sign_in(web: str, email: str, password: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{web}/signin", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    res = s.post(f"{web}/signin", data={"csrf_token": token.group(1), "email": email, "password": password}, timeout=30)
    assert res.ok and "/signin" not in res.url, f"sign-in failed: {res.status_code} {res.url}"
    return s


def _timed(fn: Callable[[], None], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _seed(base: str, token: str) -> str:
    """50 clients; the last one with 3 contacts, 3 deals and 5 activities. Returns its id."""
    client_id = ""
    for i in range(50):
        client = request(
            f"{base}/api/v1/clients",
            {"name": f"Cliente de prueba {i:02d}", "kind": "company", "email": f"cliente{i}@example.com"},
            token,
        )
        client_id = str(client["id"])
    for i in range(3):
        request(f"{base}/api/v1/contacts", {"client_id": client_id, "first_name": f"Persona {i}"}, token)
    for i in range(3):
        deal = {
            "title": f"Negocio {i}",
            "client_id": client_id,
            "amount": {"amount": "1000000", "currency_code": "COP"},
        }
        request(f"{base}/api/v1/deals", deal, token)
    for i in range(5):
        call = {"kind": "call", "subject": f"Llamada {i}", "client_id": client_id, "status": "done"}
        request(f"{base}/api/v1/activities", call, token)
    return client_id


def _concurrent(signed_in: requests.Session, url: str, users: int, seconds: float, cap: int) -> list[float]:
    """`users` clients, each with its own connection and a copy of one signed-in session's cookie
    (signing in 8 times at once would meet the sign-in rate limit, which is not what is measured)."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user() -> None:
        s = requests.Session()
        s.cookies.update(signed_in.cookies)
        mine = []
        for _ in range(cap):
            if time.monotonic() >= stop:
                break
            t = time.perf_counter()
            res = s.get(url, timeout=30)
            mine.append(time.perf_counter() - t)
            assert res.status_code == 200, (url, res.status_code)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=user) for _ in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per measure (and per user)")
    parser.add_argument("--users", type=int, default=8, help="concurrent sessions")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of each concurrent run")
    parser.add_argument("--only", choices=("list", "detail"), help="measure one page only")
    args = parser.parse_args()

    from _http import ADMIN_EMAIL, PASSWORD

    with platform() as running:
        base, token = running.base, running.token
        web = f"http://{running.platform.web_listen}"
        client_id = _seed(base, token)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        browser = _sign_in(web, ADMIN_EMAIL, PASSWORD)
        pool = ThreadPoolExecutor(max_workers=8)
        detail_calls = [
            f"/api/v1/clients/{client_id}",
            f"/api/v1/contacts?client_id={client_id}&page_size=50",
            f"/api/v1/deals?client_id={client_id}&page_size=50",
            f"/api/v1/quotes?client_id={client_id}&page_size=20",
            f"/api/v1/activities?client_id={client_id}&page_size=50",
        ]

        def api_get(path: str) -> None:
            res = api.get(base + path, timeout=30)
            assert res.status_code == 200, (path, res.status_code, res.text[:200])

        def page(path: str) -> Callable[[], None]:
            def get() -> None:
                res = browser.get(web + path, timeout=30)
                assert res.status_code == 200 and "/signin" not in res.url, (path, res.status_code, res.url)

            return get

        def detail_api() -> None:
            for fut in [pool.submit(api_get, p) for p in detail_calls]:
                fut.result()

        print(f"web {web}  gateway {base}  (2 gunicorn workers each, SQLite)")
        for name, page_fn, api_fn, path in (
            ("list", page("/clients/"), lambda: api_get(LIST_API), "/clients/"),
            ("detail", page(f"/clients/{client_id}"), detail_api, f"/clients/{client_id}"),
        ):
            if args.only and name != args.only:
                continue
            _timed(page_fn, 20)  # warm: name lookups cached, connections open
            _timed(api_fn, 20)
            pages, calls = [], []
            for _ in range(2):  # interleaved halves, so a noisy neighbour hits both sides alike
                pages += _timed(page_fn, args.requests // 2)
                calls += _timed(api_fn, args.requests // 2)
            p, a = statistics.median(pages), statistics.median(calls)
            verdict = "OK" if p <= 1.5 * a else "SLOWER than target"
            print(
                f"{name:7s} page p50 {p * 1000:6.1f} ms  api calls p50 {a * 1000:6.1f} ms  "
                f"page/api {p / a:4.2f}x (target <= 1.5x: {verdict})"
            )
            lat = _concurrent(browser, web + path, args.users, args.seconds, args.requests)
            p99 = percentile(lat, 99)
            print(
                f"{name:7s} {args.users} users: {len(lat)} pages in {args.seconds:.0f} s, "
                f"p50 {percentile(lat, 50) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms "
                f"(target p99 < 150 ms: {'OK' if p99 < 0.150 else 'MISSED'})"
            )
        pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
