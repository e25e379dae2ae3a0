"""`crm up`: runs the whole platform on this machine (the embedded default). Starts the bundled
nats-server with JetStream (unless CRM_NATS_URL is given), every service on its own SQLite file
under CRM_DATA_DIR (unless CRM_<SERVICE>_DATABASE_URL is given), then the gateway, then the web
application (CRM_WEB_LISTEN, default 127.0.0.1:8090) on the gateway's API; waits until each is
healthy, prints where everything is, and stops every child on Ctrl-C or SIGTERM.

Unless CRM_INTERNAL_TOKEN is given, a fresh random one is made for each run and handed to every
child (the services accept calls only from holders of it). Likewise each run makes one NATS nkey
per process and the nats-server configuration that lets each publish only its own events; a
child gets only its own key (CRM_NATS_NKEY_SEED). On the very first start the identity
service creates the first admin; when it generated a one-time password, it is shown here."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_platform import nats_auth
from crm_platform.config import SERVICES, ConfigError, platform_settings, service_config
from crm_platform.nats_server import NatsServer, free_port


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
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.env = dict(os.environ)
        self.log_dir = self.data_dir / "logs"

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def start(self, timeout: float = 60.0) -> None:
        started = time.monotonic()
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
        else:
            self.nats_seeds = given
        self.env["CRM_GATEWAY_LISTEN"] = self.gateway_listen
        self.env["CRM_LAUNCHER_PID"] = str(os.getpid())  # children end with us (crm_platform.parent)
        if not self.env.get("CRM_INTERNAL_TOKEN"):
            self.env["CRM_INTERNAL_TOKEN"] = secrets.token_urlsafe(32)
        identity_log = self.log_dir / "identity.log"
        self._identity_log_start = identity_log.stat().st_size if identity_log.exists() else 0
        for name in SERVICES:
            self._spawn(name, [sys.executable, "-m", f"crm_{name}"])
        self._spawn("gateway", [sys.executable, "-m", "crm_gateway"])
        deadline = started + timeout
        for name in SERVICES:
            self._wait_grpc(name, deadline)
        self._wait_http(deadline)
        # The web application talks only to the gateway's public API, so it starts once that is ready.
        self.env["CRM_WEB_LISTEN"] = self.web_listen
        self.env["CRM_WEB_GATEWAY_URL"] = f"http://{self.gateway_listen}"
        self._spawn("web", [sys.executable, "-m", "crm_web"])
        self._wait_http(deadline, "web", f"http://{self.web_listen}/healthz")
        self.say(self.summary(time.monotonic() - started))

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        env = dict(self.env)
        if name in self.nats_seeds:  # its own NATS user's key, and no other's
            env["CRM_NATS_NKEY_SEED"] = self.nats_seeds[name]
        self.children[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

    def _check_alive(self, name: str) -> None:
        proc = self.children[name]
        if proc.poll() is not None:
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{name} exited with code {proc.returncode}:\n  " + "\n  ".join(tail))

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

    def _wait_grpc(self, name: str, deadline: float) -> None:
        with grpc.insecure_channel(service_config(name).addr) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                self._check_alive(name)
                try:
                    res = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                    if res.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not become healthy (see {self.log_dir / (name + '.log')})")
                time.sleep(0.05)

    def _wait_http(self, deadline: float, name: str = "gateway", url: str = "") -> None:
        url = url or f"http://{self.gateway_listen}/readyz"
        while True:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(url, timeout=1) as res:
                    if res.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {name} did not become ready at {url}")
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
        lines.append("Ctrl-C stops everything.")
        return "\n".join(lines)

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.children.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.nats is not None:
            self.nats.stop()
        for log in self._logs:
            log.close()
        self._logs.clear()


def up(argv: list[str]) -> int:
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
        platform.start()
        while True:
            for name, proc in platform.children.items():
                if proc.poll() is not None:
                    print(f"crm: {name} exited with code {proc.returncode}; stopping the platform", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 1
    finally:
        print("crm: stopping ...", file=sys.stderr, flush=True)
        platform.stop()
        print("crm: stopped", file=sys.stderr)
