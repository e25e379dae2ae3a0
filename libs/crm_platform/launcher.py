"""`crm up`: runs the whole platform on this machine (the embedded default) and supervises it.
Starts the bundled nats-server with JetStream (unless CRM_NATS_URL is given), every service on its
own SQLite file under CRM_DATA_DIR (unless CRM_<SERVICE>_DATABASE_URL is given), then the gateway,
then the web application (CRM_WEB_LISTEN, default 127.0.0.1:8090) on the gateway's API; waits
until each is healthy (at most CRM_START_TIMEOUT seconds), prints where everything is, and stops
every child on Ctrl-C or SIGTERM.

Supervision: a child that dies is started again after a growing pause (0.5 s, 1 s, 2 s ... up to
30 s) while the others keep serving; one that keeps dying soon after each start is given up after
RESTART_LIMIT tries in a row, said so, and the rest stays up. A restarted nats-server uses the same
configuration, port and store. The launcher keeps the state of every child in
CRM_DATA_DIR/crm-up.json (read by `crm status`) and holds CRM_DATA_DIR/crm-up.lock while it runs:
one data folder, one platform.

Unless CRM_INTERNAL_TOKEN is given, a fresh random one is made for each run and handed to every
child (the services accept calls only from holders of it). Likewise each run makes one NATS nkey
per process and the nats-server configuration that lets each publish only its own events; a
child gets only its own key (CRM_NATS_NKEY_SEED). On the very first start the identity
service creates the first admin; when it generated a one-time password, it is shown here."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_platform import nats_auth
from crm_platform.config import SERVICES, ConfigError, platform_settings, service_config
from crm_platform.nats_server import NatsServer, free_port

# A child that dies within STABLE_SECONDS of its start counts towards RESTART_LIMIT; one that ran
# longer starts its count again (a crash a day is restarted forever, a crash loop is not).
RESTART_LIMIT = 5
STABLE_SECONDS = 30.0
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
STATE_FILE = "crm-up.json"
LOCK_FILE = "crm-up.lock"


def _kept_secret(path: Path) -> str:
    """A random secret made once and read back on later starts (file mode 0600)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        return value


class PlatformLocked(RuntimeError):
    """Another `crm up` holds this data folder; the message names it."""


@dataclass
class Child:
    """One supervised process and what the supervisor knows of it."""

    name: str
    argv: list[str]  # empty for the embedded nats-server (restarted through NatsServer)
    address: str
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None
    state: str = "starting"  # starting, running, restarting, given_up, stopped
    restarts: int = 0
    quick_failures: int = 0  # deaths in a row, each within STABLE_SECONDS of its start
    started_at: float = 0.0
    restart_at: float = 0.0
    last_exit: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def backoff(self) -> float:
        return min(BACKOFF_FIRST_SECONDS * 2.0 ** max(self.quick_failures - 1, 0), BACKOFF_MAX_SECONDS)


class Platform:
    def __init__(
        self,
        data_dir: Path,
        *,
        gateway_listen: str = "127.0.0.1:8080",
        web_listen: str = "",
        quiet: bool = False,
    ):
        self.data_dir = data_dir.resolve()
        self.gateway_listen = gateway_listen
        # Tests and benches start platforms side by side: unless told, the web takes a free port.
        self.web_listen = web_listen or f"127.0.0.1:{free_port()}"
        self.quiet = quiet
        self.nats: NatsServer | None = None
        self.nats_seeds: dict[str, str] = {}  # NATS user (service name, "gateway") -> nkey seed
        self.processes: dict[str, Child] = {}
        self._logs: list[IO[bytes]] = []
        self._lock_file: IO[str] | None = None
        self._supervisor: threading.Thread | None = None
        self._stop_supervising = threading.Event()
        self._mutex = threading.RLock()  # supervise() runs on the main loop or a test's thread
        self.env = dict(os.environ)
        self.log_dir = self.data_dir / "logs"
        self.state_file = self.data_dir / STATE_FILE

    @property
    def children(self) -> dict[str, subprocess.Popen[bytes]]:
        """The live process of each child (the nats-server too when embedded)."""
        return {name: c.proc for name, c in self.processes.items() if c.proc is not None}

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def start(self, timeout: float | None = None) -> None:
        """Starts every child and waits until each is ready; `timeout` (default CRM_START_TIMEOUT)
        bounds the whole start. Refuses (PlatformLocked) when another platform runs on this data folder."""
        timeout = timeout if timeout is not None else platform_settings().start_timeout
        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env["CRM_DATA_DIR"] = str(self.data_dir)
        # Each process signs in to NATS as its own user, allowed only its own subjects: fresh keys
        # and server configuration for every run; each child gets only its own seed (_spawn).
        # A seed given as CRM_NATS_<USER>_NKEY_SEED is used instead of a fresh one (an external
        # NATS needs them; the end-to-end tests give them to read the streams).
        self.env.pop("CRM_NATS_NKEY_SEED", None)
        given = {u: seed for u in nats_auth.USERS if (seed := self.env.pop(nats_auth.seed_variable(u), ""))}
        if not os.environ.get("CRM_NATS_URL"):
            credentials = nats_auth.generate()
            credentials.update({u: nats_auth.NatsCredentials(u, seed) for u, seed in given.items()})
            self.nats = NatsServer(
                self.data_dir / "nats", log_file=self.log_dir / "nats.log", end_with_us=True, credentials=credentials
            ).start()
            self.env["CRM_NATS_URL"] = self.nats.url
            self.nats_seeds = {user: c.seed for user, c in credentials.items()}
            nats = Child("nats", [], self.nats.url, self.log_dir / "nats.log", proc=self.nats.proc, state="running")
            nats.started_at = time.monotonic()
            self.processes["nats"] = nats
        else:
            self.nats_seeds = given
        self.env["CRM_GATEWAY_LISTEN"] = self.gateway_listen
        self.env["CRM_LAUNCHER_PID"] = str(os.getpid())  # children end with us (crm_platform.parent)
        if not self.env.get("CRM_INTERNAL_TOKEN"):
            self.env["CRM_INTERNAL_TOKEN"] = secrets.token_urlsafe(32)
        if not self.env.get("CRM_WEB_SECRET_KEY"):
            # Kept in the data folder (owner-only), so that a restarted web process, or the next
            # `crm up`, keeps its users signed in.
            self.env["CRM_WEB_SECRET_KEY"] = _kept_secret(self.data_dir / "web-secret-key")
        identity_log = self.log_dir / "identity.log"
        self._identity_log_start = identity_log.stat().st_size if identity_log.exists() else 0
        for name in SERVICES:
            self._add(name, [sys.executable, "-m", f"crm_{name}"], service_config(name).addr)
        self._add("gateway", [sys.executable, "-m", "crm_gateway"], f"http://{self.gateway_listen}")
        deadline = started + timeout
        for name in SERVICES:
            self._wait_grpc(name, deadline, timeout)
        self._wait_http(deadline, timeout)
        # The web application talks only to the gateway's public API, so it starts once that is ready.
        self.env["CRM_WEB_LISTEN"] = self.web_listen
        self.env["CRM_WEB_GATEWAY_URL"] = f"http://{self.gateway_listen}"
        self._add("web", [sys.executable, "-m", "crm_web"], f"http://{self.web_listen}")
        self._wait_http(deadline, timeout, "web", f"http://{self.web_listen}/healthz")
        self.say(self.summary(time.monotonic() - started))

    # -- the lock and the state file ---------------------------------------------------------

    def _take_lock(self) -> None:
        path = self.data_dir / LOCK_FILE
        lock = open(path, "a+")  # noqa: SIM115 - held (and so locked) until stop()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise PlatformLocked(
                f"a platform is already running on the data folder {self.data_dir}: {holder}. "
                "Stop it first (Ctrl-C where it runs), or give this one another CRM_DATA_DIR"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"crm up pid {os.getpid()}, gateway http://{self.gateway_listen}, since {time.strftime('%H:%M:%S')}")
        lock.flush()
        self._lock_file = lock

    def write_state(self) -> None:
        """Writes the state of every child where `crm status` reads it (atomically)."""
        with self._mutex:
            state = {
                "launcher_pid": os.getpid(),
                "gateway": f"http://{self.gateway_listen}",
                "web": f"http://{self.web_listen}",
                "updated": time.time(),
                "processes": [
                    {
                        "name": c.name,
                        "pid": c.pid,
                        "state": c.state,
                        "restarts": c.restarts,
                        "address": c.address,
                        "log": str(c.log_file),
                        "last_exit": c.last_exit,
                    }
                    for c in self.processes.values()
                ],
            }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)

    # -- starting and supervising children ------------------------------------------------------

    def _add(self, name: str, argv: list[str], address: str) -> None:
        child = Child(name, argv, address, self.log_dir / f"{name}.log")
        self.processes[name] = child
        self._spawn(child)

    def _spawn(self, child: Child) -> None:
        log = open(child.log_file, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        env = dict(self.env)
        if child.name in self.nats_seeds:  # its own NATS user's key, and no other's
            env["CRM_NATS_NKEY_SEED"] = self.nats_seeds[child.name]
        child.proc = subprocess.Popen(child.argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        child.started_at = time.monotonic()
        child.state = "running"
        self.write_state()

    def _restart(self, child: Child) -> None:
        if child.name == "nats":
            assert self.nats is not None
            try:  # same port, configuration file and store: the streams come back as they were
                self.nats.start()
            except (RuntimeError, TimeoutError, OSError) as exc:
                self._died(child, f"could not start again: {exc}")
                return
            child.proc = self.nats.proc
            child.started_at = time.monotonic()
            child.state = "running"
            self.write_state()
        else:
            self._spawn(child)
        child.restarts += 1
        self.write_state()
        self.say(f"crm: {child.name} started again (pid {child.pid}, restart {child.restarts})")

    def _died(self, child: Child, how: str) -> None:
        child.quick_failures = child.quick_failures + 1 if time.monotonic() - child.started_at < STABLE_SECONDS else 1
        if child.quick_failures >= RESTART_LIMIT:
            child.state = "given_up"
            print(
                f"crm: {child.name} {how} {child.quick_failures} times in a row, each soon after starting; "
                f"given up (the rest of the platform keeps running). See {child.log_file}",
                file=sys.stderr,
                flush=True,
            )
        else:
            child.state = "restarting"
            child.restart_at = time.monotonic() + child.backoff()
            print(f"crm: {child.name} {how}; starting it again in {child.backoff():.1f}s", file=sys.stderr, flush=True)
        self.write_state()

    def supervise(self) -> None:
        """One round of supervision: notices children that died and restarts those whose pause is over."""
        with self._mutex:
            now = time.monotonic()
            for child in self.processes.values():
                if child.state == "running" and child.proc is not None and child.proc.poll() is not None:
                    child.last_exit = child.proc.returncode
                    self._died(child, f"exited with code {child.last_exit}")
                elif child.state == "restarting" and now >= child.restart_at:
                    self._restart(child)

    def supervise_in_background(self, every: float = 0.2) -> None:
        """Supervises from a thread (tests and benches; `crm up` supervises from its main loop)."""

        def _loop() -> None:
            while not self._stop_supervising.wait(every):
                self.supervise()

        self._supervisor = threading.Thread(target=_loop, name="crm-supervisor", daemon=True)
        self._supervisor.start()

    # -- waiting for readiness ------------------------------------------------------------------

    def _check_alive(self, name: str) -> None:
        """During the start a child that dies is restarted like later; one given up ends the start."""
        self.supervise()
        child = self.processes[name]
        if child.state == "given_up":
            tail = child.log_file.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{name} exited with code {child.last_exit}, given up:\n  " + "\n  ".join(tail))

    def first_admin_notice(self) -> str:
        """The identity service's one-time admin password line, when this run created it."""
        log = self.log_dir / "identity.log"
        if not log.exists():
            return ""
        with open(log, "rb") as f:
            f.seek(self._identity_log_start)
            text = f.read().decode(errors="replace")
        for line in text.splitlines():
            if "first admin created" in line and "one-time password" in line:
                return line[line.index("first admin created") :]
        return ""

    def _timed_out(self, name: str, waited_for: str, timeout: float) -> TimeoutError:
        child = self.processes[name]
        tail = child.log_file.read_text(errors="replace").splitlines()[-3:] if child.log_file.exists() else []
        return TimeoutError(
            f"{name} did not become ready within {timeout:g}s (CRM_START_TIMEOUT, counted from the start of "
            f"`crm up`): waited for {waited_for}; its state: {child.state}, restarts {child.restarts}; "
            f"the end of {child.log_file}:\n  " + "\n  ".join(tail)
        )

    def _wait_grpc(self, name: str, deadline: float, timeout: float) -> None:
        addr = service_config(name).addr
        last = "no answer"
        with grpc.insecure_channel(addr) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                self._check_alive(name)
                try:
                    res = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                    last = health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)
                    if res.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError as exc:
                    last = exc.code().name
                if time.monotonic() > deadline:
                    raise self._timed_out(
                        name, f"SERVING from its gRPC health check at {addr} (last answer: {last})", timeout
                    )
                time.sleep(0.05)

    def _wait_http(self, deadline: float, timeout: float, name: str = "gateway", url: str = "") -> None:
        url = url or f"http://{self.gateway_listen}/readyz"
        last = "no answer"
        while True:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(url, timeout=1) as res:
                    if res.status == 200:
                        return
                    last = f"HTTP {res.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except OSError as exc:
                last = str(getattr(exc, "reason", exc))
            if time.monotonic() > deadline:
                raise self._timed_out(name, f"HTTP 200 from {url} (last answer: {last})", timeout)
            time.sleep(0.05)

    def summary(self, seconds: float) -> str:
        lines = [
            f"CRM platform ready in {seconds:.1f}s",
            f"  gateway    http://{self.gateway_listen}  (API /api/v1, docs /api/docs, /readyz, /metrics)",
            f"  web        http://{self.web_listen}  (/healthz, /readyz, /metrics)",
        ]
        notice = self.first_admin_notice()
        if notice:
            lines.insert(1, f"  {notice}")
        for name in SERVICES:
            cfg = service_config(name)
            lines.append(f"  {name:<10} gRPC {cfg.addr}  metrics http://{cfg.metrics_listen}/metrics")
        lines.append(f"  nats       {self.env['CRM_NATS_URL']}" + ("  (embedded)" if self.nats else ""))
        lines.append(f"  data       {self.data_dir}   logs {self.log_dir}")
        lines.append(f"Web application: http://{self.web_listen}  (sign in with the admin's e-mail and password)")
        lines.append("`./crm status` lists every process. Ctrl-C stops everything.")
        return "\n".join(lines)

    def stop(self, timeout: float = 10.0) -> None:
        """Stops every child: the web and the gateway, the services, then NATS (the services flush
        their last acks and publishes to it); a child still running after `timeout` is killed."""
        self._stop_supervising.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        with self._mutex:
            front = [c for c in self.processes.values() if c.name in ("web", "gateway")]
            back = [c for c in self.processes.values() if c.name not in ("web", "gateway", "nats")]
            for group in (front, back):
                for child in group:
                    child.state = "stopped"
                    if child.proc is not None and child.proc.poll() is None:
                        child.proc.terminate()
                deadline = time.monotonic() + timeout
                for child in group:
                    if child.proc is None:
                        continue
                    try:
                        child.proc.wait(max(deadline - time.monotonic(), 0.1))
                    except subprocess.TimeoutExpired:
                        print(f"crm: {child.name} did not stop within {timeout:.0f}s; killed", file=sys.stderr)
                        child.proc.kill()
                        child.proc.wait()
            if self.nats is not None:
                self.nats.stop()
                if "nats" in self.processes:
                    self.processes["nats"].state = "stopped"
            for log in self._logs:
                log.close()
            self._logs.clear()
            if self._lock_file is not None:
                with contextlib.suppress(OSError):
                    self.write_state()
                self._lock_file.close()  # releases the lock
                self._lock_file = None


USAGE = """crm up: runs the whole platform on this machine and supervises it (see README, "Running it").
Settings come from the environment: CRM_DATA_DIR (one platform per data folder), CRM_GATEWAY_LISTEN,
CRM_WEB_LISTEN, CRM_START_TIMEOUT (seconds to wait for every process to be ready), CRM_NATS_URL and
CRM_<SERVICE>_DATABASE_URL (use those instead of the embedded NATS and SQLite files) ...
`crm status` lists the processes of the running platform."""


def up(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crm up", description=USAGE, formatter_class=argparse.RawTextHelpFormatter)
    parser.parse_args(argv)  # --help prints the usage; anything else is refused with it (exit 2)
    try:
        settings = platform_settings()
        for name in SERVICES:
            service_config(name)  # refuse to start on a malformed setting, naming it
    except ConfigError as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 2
    platform = Platform(
        Path(settings.data_dir),
        gateway_listen=os.environ.get("CRM_GATEWAY_LISTEN", "127.0.0.1:8080"),
        web_listen=os.environ.get("CRM_WEB_LISTEN", "127.0.0.1:8090"),
    )

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        platform.start(settings.start_timeout)
        while True:
            platform.supervise()
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
    except PlatformLocked as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, TimeoutError) as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C while stopping would leave children behind: stopping is not interrupted.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if platform.processes:
            print("crm: stopping ...", file=sys.stderr, flush=True)
            platform.stop()
            print("crm: stopped", file=sys.stderr)


def _health(name: str, address: str) -> str:
    """What the process answers now: a service's gRPC health (with its NATS state), the gateway's
    readiness, the web's liveness, NATS's port."""
    try:
        if name in SERVICES:
            with grpc.insecure_channel(address) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                res = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                text: str = health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)
                with contextlib.suppress(grpc.RpcError):
                    nats = stub.Check(health_pb2.HealthCheckRequest(service="nats"), timeout=1)
                    if nats.status != health_pb2.HealthCheckResponse.SERVING:
                        text += " (NATS degraded)"
                return text
        if name == "nats":
            host, _, port = address.removeprefix("nats://").rpartition(":")
            with socket.create_connection((host, int(port)), timeout=1):
                return "listening"
        url = address + ("/readyz" if name == "gateway" else "/healthz")
        with urllib.request.urlopen(url, timeout=2) as res:
            return "ready" if res.status == 200 else f"HTTP {res.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except grpc.RpcError as exc:
        return "UNREACHABLE" if exc.code() == grpc.StatusCode.UNAVAILABLE else exc.code().name
    except OSError:
        return "unreachable"


def status(argv: list[str]) -> int:
    """`crm status`: every process of the platform running on CRM_DATA_DIR: pid, state, restarts,
    health (asked now), address and log file. Exit 0 when all are running and healthy, 1 when no
    platform runs there, 3 when some process is not."""
    argparse.ArgumentParser(prog="crm status", description=status.__doc__).parse_args(argv)
    try:
        data_dir = Path(platform_settings().data_dir).resolve()
    except ConfigError as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 2
    state_file = data_dir / STATE_FILE
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        print(f"crm: no platform has run on {data_dir} (no {STATE_FILE})", file=sys.stderr)
        return 1
    launcher = int(state["launcher_pid"])
    if not Path(f"/proc/{launcher}").exists():
        print(f"crm: no platform is running on {data_dir} (its launcher, pid {launcher}, has ended)", file=sys.stderr)
        return 1
    print(f"platform on {data_dir}: launcher pid {launcher}, gateway {state['gateway']}, web {state['web']}")
    rows = [("PROCESS", "PID", "STATE", "RESTARTS", "HEALTH", "ADDRESS", "LOG")]
    healthy = True
    for p in state["processes"]:
        health = _health(p["name"], p["address"]) if p["state"] == "running" else "-"
        healthy &= p["state"] == "running" and health in ("SERVING", "ready", "listening")
        rows.append((p["name"], str(p["pid"] or "-"), p["state"], str(p["restarts"]), health, p["address"], p["log"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0 if healthy else 3
