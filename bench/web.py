"""The web application's pages, measured beside the API calls they make, in the same run.

Starts the platform as `crm up` does (separate processes: every service, the gateway and the web
application under gunicorn gthread, SQLite, embedded nats-server, free loopback ports), creates 50
clients (one with contacts, deals and activities), signs a browser-like session in to the web
application, and then, with the name lookups warm (as on every page after the first):

  list     GET /clients/ (a page of 50 clients with its total)
           vs GET /api/v1/clients?page_size=50&include_total_size=true, direct to the gateway
  detail   GET /clients/<id> (the record, its contacts, deals, quotes, activities)
           vs GET /api/v1/clients/<id>/summary?page_size=50, the one call the page makes, direct

--requests times each, one after another: the page's server time (measured by the client on
loopback, so it includes the web's own hop) against the API calls' wall time, p50 and the ratio
(target ≤ 1.5x). Then --users concurrent sessions load each page for --seconds (bounded by time
and by --requests per user): p50/p99 (target p99 < 150 ms at 8 users).

--cpu N: before the timings, the CPU each process spends per page: utime+stime from /proc of the
web application, the gateway (gunicorn master and workers), each service, nats-server and this
client, read before and after N page loads one after another, then the same for N rounds of the
page's API calls made directly; printed as CPU ms per page per process.

--profile N: cProfile of the gateway's own work for N rounds of the page's API calls, run in this
process (the gateway's Flask app built with the running platform's settings, called through its
WSGI test client, so the HTTP server's parsing is left out: the /proc figures hold that), top
functions by cumulative and by own time."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests
import urllib3
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


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime+stime in seconds) of a live process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command: state ppid ... utime (14th field overall) stime (15th).
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _cpu_by_process(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process and its descendants (gunicorn's workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _proc_stat(int(entry))) is not None:
            stats[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    for name, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, (0, 0.0))[1]
            todo.extend(children.get(pid, []))
        out[name] = total
    t = os.times()
    out["bench client"] = t.user + t.system
    return out


def _cpu_per_call(roots: dict[str, int], fn: Callable[[], None], n: int) -> dict[str, float]:
    """CPU ms per call of `fn` in each process, over n calls one after another."""
    before = _cpu_by_process(roots)
    for _ in range(n):
        fn()
    after = _cpu_by_process(roots)
    return {name: (after[name] - before[name]) * 1000 / n for name in before}


def _print_cpu(name: str, page: dict[str, float], api: dict[str, float]) -> None:
    print(f"{name}: CPU ms per page (web page | same API calls direct)")
    for proc in page:
        if page[proc] or api[proc]:
            print(f"  {proc:14s} {page[proc]:6.2f} | {api[proc]:6.2f}")
    print(f"  {'all':14s} {sum(page.values()):6.2f} | {sum(api.values()):6.2f}")


def _profile_gateway(running: object, paths: list[str], token: str, n: int) -> None:
    """cProfile of the gateway's Flask app (built here with the platform's settings) serving
    `paths` n times over, through its WSGI test client."""
    import cProfile
    import io
    import pstats

    platform_ = running.platform  # type: ignore[attr-defined]
    os.environ.update(platform_.env)
    from crm_gateway.app import close_app, create_app

    app = create_app(follow_identity_events=False)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in paths * 5:  # warm: channels open, caches filled
        assert client.get(path, headers=headers).status_code == 200, path
    prof = cProfile.Profile()
    prof.enable()
    started = time.perf_counter()
    for _ in range(n):
        for path in paths:
            client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    prof.disable()
    close_app(app)
    print(f"gateway in process: {elapsed * 1000 / n:.2f} ms per round of {len(paths)} calls (profiled)")
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(30)
        print(out.getvalue())


class _Browser:
    """A light HTTP client for the timed loads (urllib3, one kept-alive connection per thread),
    so that the client's own work on this machine's two CPUs stays small beside what is measured;
    it keeps the session cookie the web application sets, as a browser would."""

    def __init__(self, pool: urllib3.PoolManager, cookie: str = "", headers: dict[str, str] | None = None):
        self.pool, self.cookie, self.headers = pool, cookie, dict(headers or {})

    def get(self, url: str) -> int:
        headers = {**self.headers, **({"Cookie": self.cookie} if self.cookie else {})}
        res = self.pool.request("GET", url, headers=headers, timeout=30.0, redirect=False)
        for value in res.headers.getlist("Set-Cookie"):
            if value.startswith(f"{WEB_COOKIE}="):
                self.cookie = value.split(";", 1)[0]
        return res.status


WEB_COOKIE = "crm_session"


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


def _concurrent(signed_in: _Browser, url: str, users: int, seconds: float, cap: int) -> list[float]:
    """`users` clients, each with its own connection and a copy of one signed-in session's cookie
    (signing in 8 times at once would meet the sign-in rate limit, which is not what is measured)."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user() -> None:
        s = _Browser(signed_in.pool, signed_in.cookie)
        mine = []
        for _ in range(cap):
            if time.monotonic() >= stop:
                break
            t = time.perf_counter()
            status = s.get(url)
            mine.append(time.perf_counter() - t)
            assert status == 200, (url, status)
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
    parser.add_argument("--cpu", type=int, default=0, metavar="N", help="CPU ms per page per process over N pages")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile the gateway over N rounds")
    args = parser.parse_args()

    from _http import ADMIN_EMAIL, PASSWORD

    with platform() as running:
        base, token = running.base, running.token
        web = f"http://{running.platform.web_listen}"
        client_id = _seed(base, token)
        connections = urllib3.PoolManager(maxsize=max(args.users, 8) * 2)
        api = _Browser(connections, headers={"Authorization": f"Bearer {token}"})
        signed_in = _sign_in(web, ADMIN_EMAIL, PASSWORD)
        browser = _Browser(connections, f"{WEB_COOKIE}={signed_in.cookies[WEB_COOKIE]}")
        pool = ThreadPoolExecutor(max_workers=8)
        summary = [f"/api/v1/clients/{client_id}/summary?page_size=50"]
        # What the page asked before the summary route, one call per kind in parallel (its CPU is
        # printed beside the summary's with --cpu).
        five_calls = [
            f"/api/v1/clients/{client_id}",
            f"/api/v1/contacts?client_id={client_id}&page_size=50",
            f"/api/v1/deals?client_id={client_id}&page_size=50",
            f"/api/v1/quotes?client_id={client_id}&page_size=20",
            f"/api/v1/activities?client_id={client_id}&page_size=50",
        ]

        def api_get(path: str) -> None:
            status = api.get(base + path)
            assert status == 200, (path, status)

        def page(path: str) -> Callable[[], None]:
            def get() -> None:
                status = browser.get(web + path)
                assert status == 200, (path, status)  # not a redirect to the sign-in page

            return get

        def five_api() -> None:
            for fut in [pool.submit(api_get, p) for p in five_calls]:
                fut.result()

        roots = {name: proc.pid for name, proc in running.platform.children.items()}
        print(f"web {web}  gateway {base}  (SQLite; load average {os.getloadavg()[0]:.1f})")
        for name, page_fn, api_fn, path, api_paths in (
            ("list", page("/clients/"), lambda: api_get(LIST_API), "/clients/", [LIST_API]),
            ("detail", page(f"/clients/{client_id}"), lambda: api_get(summary[0]), f"/clients/{client_id}", summary),
        ):
            if args.only and name != args.only:
                continue
            _timed(page_fn, 20)  # warm: name lookups cached, connections open
            _timed(api_fn, 20)
            if args.cpu:
                idle_before = _cpu_by_process(roots)
                time.sleep(3)
                idle = {k: (v - idle_before[k]) * 1000 / 3 for k, v in _cpu_by_process(roots).items()}
                print(
                    "idle: CPU ms per second with nothing asked: " + ", ".join(f"{k} {v:.1f}" for k, v in idle.items())
                )
                _print_cpu(name, _cpu_per_call(roots, page_fn, args.cpu), _cpu_per_call(roots, api_fn, args.cpu))
                if name == "detail":
                    _timed(five_api, 20)
                    five = _cpu_per_call(roots, five_api, args.cpu)
                    print("detail: CPU ms per round of the five calls the page made before the summary")
                    for proc, ms in five.items():
                        if ms:
                            print(f"  {proc:14s} {ms:6.2f}")
                    print(f"  {'all':14s} {sum(five.values()):6.2f}")
            if args.profile:
                _profile_gateway(running, api_paths, token, args.profile)
                if name == "detail":
                    _profile_gateway(running, five_calls, token, args.profile)
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
                f"{name:7s} (load average {os.getloadavg()[0]:.1f}) {args.users} users: "
                f"{len(lat)} pages in {args.seconds:.0f} s, "
                f"p50 {percentile(lat, 50) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms "
                f"(target p99 < 150 ms: {'OK' if p99 < 0.150 else 'MISSED'})"
            )
        pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
