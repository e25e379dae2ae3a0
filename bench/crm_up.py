"""`crm up` start time: launcher.Platform.start() from the call until every service answers its
gRPC health check SERVING and the gateway's /readyz answers 200 (what start() itself waits for).

Each run uses a fresh temp data dir (so every service creates and migrates its SQLite file, as on
a first `crm up`; --reuse-data-dir measures warm restarts instead), the embedded nats-server, and
free 127.0.0.1 ports for every service's gRPC and metrics listeners and for the gateway, so that
it does not clash with anything already running. After each run the platform is stopped and every
process it started (children and their children, e.g. gunicorn workers) is checked to be gone.
Target: median < 10 s."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crm_platform.config import SERVICES
from crm_platform.launcher import Platform
from crm_platform.nats_server import free_port

# Settings that would point the platform at something already running; cleared for the bench.
INHERITED = ("CRM_NATS_URL", "CRM_DATA_DIR", "CRM_GATEWAY_LISTEN")


@dataclass
class Run:
    ready_seconds: float
    stop_seconds: float
    started: int
    left: list[str]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="start/stop cycles (default 3)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed for one start (default 60)")
    p.add_argument(
        "--reuse-data-dir", action="store_true", help="keep one data dir across runs (warm restarts; default: fresh)"
    )
    args = p.parse_args(argv)
    if args.runs < 1 or args.timeout <= 0:
        p.error("--runs and --timeout must be positive")
    return args


def isolate_environment() -> str:
    """Points every service and the gateway at free loopback ports; returns the gateway address."""
    for var in INHERITED:
        os.environ.pop(var, None)
    for name in SERVICES:
        prefix = f"CRM_{name.upper()}_"
        os.environ.pop(prefix + "DATABASE_URL", None)
        os.environ.pop(prefix + "LISTEN", None)
        os.environ[prefix + "ADDR"] = f"127.0.0.1:{free_port()}"
        os.environ[prefix + "METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
    return f"127.0.0.1:{free_port()}"


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every live process below `root`, as {pid: start time}."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _stat(int(entry.name))
        if info is None or info[1] in "ZX":
            continue
        parents.setdefault(info[0], []).append(int(entry.name))
        starts[int(entry.name)] = info[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found[child] = starts[child]
                todo.append(child)
    return found


def still_running(procs: dict[int, int]) -> list[str]:
    left = []
    for pid, start in procs.items():
        info = _stat(pid)
        if info is not None and info[2] == start and info[1] not in "ZX":
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            left.append(f"{pid} {cmdline.strip()[:80]}")
    return left


def one_run(data_dir: Path, timeout: float) -> Run:
    gateway = isolate_environment()
    platform = Platform(data_dir, gateway_listen=gateway, quiet=True)
    started = time.perf_counter()
    ready = float("nan")
    procs: dict[int, int] = {}
    try:
        platform.start(timeout=timeout)
        ready = time.perf_counter() - started
    finally:
        procs = descendants(os.getpid())
        stop_started = time.perf_counter()
        platform.stop()
        stop_seconds = time.perf_counter() - stop_started
        deadline = time.monotonic() + 5  # grandchildren are reaped by init, give it a moment
        left = still_running(procs)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = still_running(procs)
    return Run(ready, stop_seconds, len(procs), left)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    readies: list[float] = []
    leftovers = 0
    with tempfile.TemporaryDirectory(prefix="crm-bench-up-") as tmp:
        for i in range(1, args.runs + 1):
            data_dir = Path(tmp) / ("data" if args.reuse_data_dir else f"run{i}")
            run = one_run(data_dir, args.timeout)
            readies.append(run.ready_seconds)
            leftovers += len(run.left)
            print(
                f"run {i}: Platform.start() → {len(SERVICES)} services SERVING + gateway /readyz 200 in"
                f" {run.ready_seconds:.2f} s ({'fresh' if not args.reuse_data_dir or i == 1 else 'reused'} data dir);"
                f" stop() {run.stop_seconds:.2f} s; {run.started} processes started, {len(run.left)} left after stop"
            )
            for line in run.left:
                print(f"    still running: {line}")
    median = statistics.median(readies)
    print(
        f"crm up → all ready: median {median:.2f} s of {args.runs} (min {min(readies):.2f}, max {max(readies):.2f});"
        f" target < 10 s: {'OK' if median < 10 else 'ABOVE TARGET'}; leftover processes: {leftovers}"
    )
    return 1 if leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
