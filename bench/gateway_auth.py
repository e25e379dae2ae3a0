"""The gateway's cost of authentication, measured in one run against a bare hop.

Starts the platform as `crm up` does (every service and the gateway as their own processes,
gunicorn gthread, SQLite, embedded nats-server, free loopback ports) and, beside it, a bare Flask
app under the same gunicorn settings whose one route makes the same gRPC call the gateway makes
(contacts' GetClient) with no authentication, validation or metrics. Then, with wrk (or a bounded
Python client when wrk is missing), for --seconds each and --rounds times, alternating:
  echo   GET /echo/<id> on the bare app                  (Flask → GetClient, nothing else)
  authed GET /api/v1/clients/<id> on the gateway, Bearer (verify the JWT locally, directory
         checks, → contacts GetClient, one gRPC call reading SQLite)
and prints requests/s, latency and the ratio authed/echo (target ≥ 70 %).

Then login: --logins sign-ins by 4 concurrent clients (argon2id with its default parameters),
p50/p99 latency (target p99 < 300 ms)."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

from _support import percentile

from crm_platform.launcher import Platform
from crm_platform.nats_server import free_port
from crm_up import isolate_environment

PASSWORD = "bench clave larga 123"

ECHO_APP = textwrap.dedent(
    """
    from flask import Flask, jsonify
    from google.protobuf.json_format import MessageToDict
    from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
    from crm_platform.grpc_client import channel_to

    app = Flask(__name__)
    stub = contacts_pb2_grpc.ContactsServiceStub(channel_to("contacts"))

    @app.get("/echo/<client_id>")
    def echo(client_id):
        res = stub.GetClient(contacts_pb2.GetClientRequest(id=client_id))
        return jsonify(MessageToDict(res.client))
    """
)


def post(url: str, body: dict[str, object], token: str = "") -> dict[str, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as res:
        return dict(json.loads(res.read()))


def wrk(url: str, seconds: float, connections: int, token: str = "") -> tuple[float, str]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed responses\n{out}")
    p99 = re.search(r"99%\s+(\S+)", out)
    return rps, f"p99 {p99.group(1) if p99 else '?'}"


def python_load(url: str, seconds: float, connections: int, token: str = "") -> tuple[float, str]:
    """Fallback load: `connections` keep-alive clients for `seconds` (bounded by time)."""
    import http.client

    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    stop = time.monotonic() + seconds
    counts: list[int] = []
    lat: list[float] = []

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        while time.monotonic() < stop:
            t = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                raise RuntimeError(f"{url}: HTTP {res.status}")
            lat.append(time.perf_counter() - t)
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(counts) / seconds, f"p99 {percentile(lat, 99) * 1000:.1f}ms"


def logins(base: str, emails: list[str], count: int) -> list[float]:
    def one(i: int) -> float:
        t = time.perf_counter()
        post(f"{base}/api/v1/auth/login", {"email": emails[i % len(emails)], "password": PASSWORD})
        return time.perf_counter() - t

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers for both apps (default 2)")
    p.add_argument("--logins", type=int, default=40)
    args = p.parse_args()
    load = wrk if shutil.which("wrk") else python_load
    print(f"load generator: {'wrk' if load is wrk else 'python threads (install wrk for lighter load)'}")

    gateway = isolate_environment()
    os.environ.update(
        CRM_ADMIN_EMAIL="admin@example.com",
        CRM_ADMIN_PASSWORD=PASSWORD,
        CRM_GATEWAY_WORKERS=str(args.workers),
        CRM_LOG_LEVEL="warning",
    )
    data = Path(tempfile.mkdtemp(prefix="crm-bench-gw-"))
    platform = Platform(data, gateway_listen=gateway, quiet=True)
    echo_proc = None
    try:
        platform.start()
        base = f"http://{gateway}"
        token = str(
            post(f"{base}/api/v1/auth/login", {"email": "admin@example.com", "password": PASSWORD})["access_token"]
        )
        client = post(f"{base}/api/v1/clients", {"name": "Bench SA"}, token)
        emails = []
        for i in range(4):
            email = f"rep{i}@example.com"
            post(
                f"{base}/api/v1/users",
                {"email": email, "display_name": f"Rep {i}", "role": "rep", "password": PASSWORD},
                token,
            )
            emails.append(email)

        echo_dir = data / "echo"
        echo_dir.mkdir()
        (echo_dir / "echo_app.py").write_text(ECHO_APP)
        echo_addr = f"127.0.0.1:{free_port()}"
        env = {**platform.env, "PYTHONPATH": str(echo_dir)}
        echo_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-k",
                "gthread",
                "--threads",
                "8",
                "-w",
                str(args.workers),
                "-b",
                echo_addr,
                "--log-level",
                "warning",
                "echo_app:app",
            ],
            env=env,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{echo_addr}/echo/{client['id']}", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        authed_url = f"{base}/api/v1/clients/{client['id']}"
        load(authed_url, 2, args.connections, token)  # warm-up
        echo_url = f"http://{echo_addr}/echo/{client['id']}"
        load(echo_url, 2, args.connections)
        echo_rates, authed_rates = [], []
        for r in range(args.rounds):
            e, e_lat = load(echo_url, args.seconds, args.connections)
            a, a_lat = load(authed_url, args.seconds, args.connections, token)
            echo_rates.append(e)
            authed_rates.append(a)
            print(
                f"round {r + 1}: echo {e:,.0f} req/s ({e_lat})   authed GET {a:,.0f} req/s ({a_lat})   "
                f"ratio {a / e:.0%}"
            )
        em, am = statistics.median(echo_rates), statistics.median(authed_rates)
        print(f"median: echo {em:,.0f} req/s, authenticated GET {am:,.0f} req/s, ratio {am / em:.0%} (target ≥ 70 %)")

        lat = logins(base, emails, args.logins)
        print(
            f"login x{args.logins}, 4 concurrent: p50 {percentile(lat, 50) * 1000:.0f} ms, "
            f"p99 {percentile(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms (target p99 < 300 ms)"
        )
    finally:
        if echo_proc is not None:
            echo_proc.terminate()
            echo_proc.wait(10)
        platform.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
