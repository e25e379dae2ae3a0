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
import statistics
import textwrap
import time

from _http import PASSWORD, bare_app, load, load_generator, platform, request
from _support import percentile

BARE_APP = textwrap.dedent(
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

    @app.get("/health")
    def health():
        return "ok"
    """
)


def logins(base: str, emails: list[str], count: int) -> list[float]:
    def one(i: int) -> float:
        t = time.perf_counter()
        request(f"{base}/api/v1/auth/login", {"email": emails[i % len(emails)], "password": PASSWORD})
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
    print(f"load generator: {load_generator()}")
    with platform(args.workers) as running, bare_app(running, BARE_APP, "/health", args.workers) as bare:
        base, token = running.base, running.token
        client = request(f"{base}/api/v1/clients", {"name": "Bench SA"}, token)
        emails = []
        for i in range(4):
            email = f"rep{i}@example.com"
            user = {"email": email, "display_name": f"Rep {i}", "role": "rep", "password": PASSWORD}
            request(f"{base}/api/v1/users", user, token)
            emails.append(email)

        authed_url = f"{base}/api/v1/clients/{client['id']}"
        echo_url = f"{bare}/echo/{client['id']}"
        load(authed_url, 2, args.connections, token)  # warm-up
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


if __name__ == "__main__":
    main()
