"""Soak: the whole platform (as `crm up` runs it, supervised) under a mixed workload at a fixed
rate through the gateway for a while (10 minutes by default): reads (a page of clients, one deal),
creates (a client, a deal), stage moves, quotes (a two-line quote for a deal) and reports (the
company's indicators of the month). The first minute's load is a warm-up, not measured (the
processes' caches, NATS's JetStream store and the databases' pages fill up); then it prints, per
minute, the requests, errors, p50 and p99; each process's memory (RSS, with its children: gunicorn
workers) once a minute from the end of the warm-up, so growth that levels off is told from growth
that goes on; and each process's memory after the warm-up and at the end.

Pass marks (issue 20): 0 errors, p99 of the last minute within 20 % of the first, memory growth
under 10 %. The exit code is 1 when one is missed.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 20] [--workers 4] [--warmup 60]"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from _http import platform
from _support import percentile

OPERATIONS = ("read", "create", "move", "read", "quote", "create", "read", "report")


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants (a gunicorn master and its workers), KiB."""
    total = 0
    pids = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    pids.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


@dataclass
class Worker:
    """One client of the soak: its own deals, moved round their open stages."""

    base: str
    headers: dict[str, str]
    stages: list[str]
    product_id: str
    deals: list[tuple[str, int]] = field(default_factory=list)  # (deal id, index of its stage)
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, path: str, body: object, key: str = "") -> requests.Response:
        headers = {**self.headers, "Idempotency-Key": key} if key else self.headers
        return self.session.post(f"{self.base}{path}", json=body, headers=headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base}{path}", headers=self.headers, timeout=30)

    def new_deal(self) -> requests.Response:
        key = uuid.uuid4().hex
        client = self.post("/api/v1/clients", {"name": f"Soak {key[:12]}"}, key)
        if client.status_code != 201:
            return client
        deal = self.post("/api/v1/deals", {"title": f"Negocio {key[:12]}", "client_id": client.json()["id"]}, "d" + key)
        if deal.status_code == 201:
            self.deals.append((deal.json()["id"], 0))
        return deal

    def run(self, op: str) -> requests.Response:
        if op == "read":
            if self.deals and len(self.deals) % 2:
                return self.get(f"/api/v1/deals/{self.deals[-1][0]}")
            return self.get("/api/v1/clients?page_size=20")
        if op == "create" or not self.deals:
            return self.new_deal()
        if op == "move":
            deal_id, stage = self.deals.pop(0)
            stage = (stage + 1) % len(self.stages)
            res = self.post(f"/api/v1/deals/{deal_id}:move", {"stage_id": self.stages[stage]})
            self.deals.append((deal_id, stage))
            return res
        if op == "quote":
            deal_id = self.deals[-1][0]
            lines = [{"product_id": self.product_id, "quantity": "3"}, {"product_id": self.product_id, "quantity": "1"}]
            return self.post("/api/v1/quotes", {"deal_id": deal_id, "lines": lines}, uuid.uuid4().hex)
        month = dt.date.today().replace(day=1).isoformat()
        return self.get(f"/api/v1/indicators?scope=company&period=month&start={month}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    p.add_argument("--rate", type=float, default=20.0, help="requests per second in all (default 20)")
    p.add_argument("--workers", type=int, default=4, help="concurrent clients (default 4)")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds of load before measuring (default 60)")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.workers < 1:
        p.error("--minutes, --rate and --workers must be positive")

    with platform() as running:
        running.platform.supervise_in_background()
        headers = {"Authorization": f"Bearer {running.token}"}
        base = running.base
        pipelines = requests.get(f"{base}/api/v1/pipelines", headers=headers, timeout=30).json()["items"]
        stages = [s["id"] for s in pipelines[0]["stages"] if s.get("kind", "open") == "open"]
        product = requests.post(
            f"{base}/api/v1/products",
            json={
                "sku": "SOAK-1",
                "name": "Servicio de soak",
                "kind": "service",
                "unit_price": {"amount": "150000", "currency_code": "COP"},
                "tax_rate": "0.19",
            },
            headers=headers,
            timeout=30,
        )
        assert product.status_code == 201, product.text
        workers = [Worker(base, headers, stages, product.json()["id"]) for _ in range(args.workers)]
        for w in workers:
            w.new_deal()

        results: list[tuple[float, float, bool]] = []  # (start, seconds, ok)
        lock = threading.Lock()
        stop = threading.Event()
        start = time.monotonic()
        measure_from = start + args.warmup
        end = measure_from + args.minutes * 60
        interval = args.workers / args.rate  # each worker's share of the fixed rate

        def drive(w: Worker, offset: int) -> None:
            ops = itertools.cycle(OPERATIONS[offset:] + OPERATIONS[:offset])
            next_at = time.monotonic() + offset * interval / args.workers
            while not stop.is_set() and time.monotonic() < end:
                stop.wait(max(next_at - time.monotonic(), 0))
                next_at += interval
                t0 = time.monotonic()
                try:
                    ok = w.run(next(ops)).status_code < 400
                except requests.RequestException:
                    ok = False
                with lock:
                    results.append((t0, time.monotonic() - t0, ok))

        threads = [threading.Thread(target=drive, args=(w, i), daemon=True) for i, w in enumerate(workers)]
        for t in threads:
            t.start()
        # Memory once a minute from the end of the warm-up to the end (each process as it runs
        # then: a restarted one is read under its new pid, and the restart is reported).
        memory: list[dict[str, int]] = []
        for sample_at in [measure_from + m * 60 for m in range(int(args.minutes))] + [end]:
            time.sleep(max(sample_at - time.monotonic(), 0))
            current = {name: c.pid for name, c in running.platform.processes.items() if c.pid}
            memory.append({name: rss_kib(pid) for name, pid in current.items()})
            if running.platform.nats is not None:  # the JetStream store on disk, next to NATS's memory
                store = running.platform.nats.store_dir
                memory[-1]["store"] = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) // 1024
        for t in threads:
            t.join()
        restarts = {name: c.restarts for name, c in running.platform.processes.items() if c.restarts}

    measured = [r for r in results if r[0] >= measure_from]
    minutes = max(int(args.minutes + 0.999), 1)
    print(f"soak: {args.minutes:g} min at {args.rate:g} req/s ({args.workers} clients), after {args.warmup:g}s warm-up")
    print(f"{'minute':>6} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    p99s: list[float] = []
    for m in range(minutes):
        window = [r for r in measured if measure_from + m * 60 <= r[0] < measure_from + (m + 1) * 60]
        if not window:
            continue
        seconds = [r[1] for r in window]
        p99 = percentile(seconds, 99) * 1000
        p99s.append(p99)
        errors = sum(1 for r in window if not r[2])
        print(f"{m + 1:>6} {len(window):>9} {errors:>7} {percentile(seconds, 50) * 1000:>8.1f} {p99:>8.1f}")
    errors = sum(1 for r in measured if not r[2])
    print(f"total: {len(measured)} requests, {errors} errors; restarts: {restarts or 'none'}")
    names = list(memory[0])
    print("RSS MiB per minute (0: after the warm-up; the last line: at the end; store: NATS's JetStream files)")
    print(f"{'minute':>6} " + " ".join(f"{name[:9]:>9}" for name in names))
    for m, sample in enumerate(memory):
        label = str(m) if m < len(memory) - 1 else f"{args.minutes:g}"
        print(f"{label:>6} " + " ".join(f"{sample.get(name, 0) / 1024:>9.1f}" for name in names))
    memory_start, memory_end = memory[0], memory[-1]
    print(f"{'process':<10} {'RSS start MiB':>14} {'RSS end MiB':>12} {'growth':>8}")
    growths = []
    for name in [n for n in names if n != "store"]:
        before, after = memory_start[name] / 1024, memory_end.get(name, 0) / 1024
        growth = (after - before) / before * 100 if before else 0.0
        growths.append(growth)
        print(f"{name:<10} {before:>14.1f} {after:>12.1f} {growth:>7.1f}%")
    p99_drift = (p99s[-1] - p99s[0]) / p99s[0] * 100 if len(p99s) > 1 and p99s[0] else 0.0
    passed = errors == 0 and p99_drift <= 20 and max(growths, default=0) < 10
    print(
        f"pass marks: 0 errors ({errors}), last minute's p99 within 20 % of the first ({p99_drift:+.1f} %), "
        f"memory growth under 10 % (largest {max(growths, default=0):.1f} %): {'met' if passed else 'MISSED'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
