"""The production NATS configuration, run here: three nats-server processes from the Kubernetes
nats.conf itself (deploy/k8s/nats/nats.conf: the generated per-service authorization block,
TLS for clients and for routes with peer verification, fsync on every write), with only what a
pod gives it swapped for loopback (ports, folders, the certificate files, the route addresses),
and this test's own keys and throwaway CA. A service (canvas) writes through the cluster with its
own NATS user over TLS; the server leading its stream is killed; the service writes on, nothing
is lost or doubled, and the stream keeps its three replicas. The killed server comes back and
its full /healthz (the StatefulSet's startup probe) turns healthy once it has caught up."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import canvas_pb2_grpc
from crm_canvas.bootstrap import SPEC as CANVAS
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.eventbus import EventBus
from crm_platform.nats_auth import USERS, NatsCredentials, generate, nkey_variable
from crm_platform.nats_server import binary, free_port
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events

ROOT = Path(__file__).resolve().parents[2]
K8S_CONF = ROOT / "deploy" / "k8s" / "nats" / "nats.conf"
OWNER = "0192d6e0-0000-7000-8000-0000000000a1"


def _tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and the servers' certificate for 127.0.0.1 (serving clients and routes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
            builder = builder.add_extension(san, critical=False).add_extension(usage, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    paths = folder / "ca.crt", folder / "tls.crt", folder / "tls.key"
    paths[0].write_bytes(cert("test-ca", ca_key, ca_key, True).public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert("nats", key, ca_key, False).public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/k8s/nats/nats.conf no longer has {old!r}: update this test"
    return text.replace(old, new)


def local_config(i: int, client: list[int], route: list[int], http: int, folder: Path, tls: Path) -> str:
    """nats.conf as server nats-<i> reads it in its pod, with the pod's addresses made local."""
    text = K8S_CONF.read_text()
    local = f'host: "127.0.0.1"\nport: {client[i]}\nhttp: "127.0.0.1:{http}"\n'
    text = _swap(text, "port: 4222\nhttp_port: 8222\n", local)
    text = _swap(text, '"/var/run/nats/nats.pid"', f'"{folder}/nats.pid"')
    text = _swap(text, 'store_dir: "/data"', f'store_dir: "{folder}/data"')
    text = _swap(text, "  port: 6222\n", f'  host: "127.0.0.1"\n  port: {route[i]}\n')
    text = _swap(text, "/etc/nats/tls/", f"{tls}/")
    text, routes = re.subn(
        r"nats://nats-(\d)\.nats-headless:6222", lambda m: f"nats://127.0.0.1:{route[int(m.group(1))]}", text
    )
    assert routes == 3
    return text


@dataclass
class Cluster:
    configs: list[Path]
    env: dict[str, str]
    client: list[int]
    http: list[int]
    ca: Path
    procs: list[subprocess.Popen[bytes] | None]
    logs: Path

    @property
    def url(self) -> str:
        return ",".join(f"tls://127.0.0.1:{p}" for p in self.client)

    def start(self, i: int) -> None:
        log = (self.logs / f"nats-{i}.log").open("ab")
        env = {**self.env, "SERVER_NAME": f"nats-{i}"}
        self.procs[i] = subprocess.Popen(
            [binary(), "--config", str(self.configs[i])], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.procs[i] = None

    def health(self, i: int, query: str = "") -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http[i]}/healthz{query}", timeout=2) as res:
                return int(res.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def wait_healthy(self, i: int, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while self.health(i) != 200:
            proc, log = self.procs[i], (self.logs / f"nats-{i}.log")
            assert proc is None or proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"nats-{i} not healthy: " + log.read_text()[-3000:]
            time.sleep(0.3)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, dict[str, NatsCredentials]]]:
    creds = generate(USERS)
    tls = tmp_path / "tls"
    tls.mkdir()
    ca, _crt, _key = _tls_files(tls)
    client, route, http = ([free_port() for _ in range(3)] for _ in range(3))
    configs = []
    for i in range(3):
        folder = tmp_path / f"nats-{i}"
        folder.mkdir()
        path = folder / "nats.conf"
        path.write_text(local_config(i, client, route, http[i], folder, tls))
        configs.append(path)
    # The public keys, as the pods get them from the Secret crm-nats-nkeys.
    env = {**os.environ, **{nkey_variable(u): c.public_key for u, c in creds.items()}}
    c = Cluster(configs, env, client, http, ca, [None, None, None], tmp_path)
    for i in range(3):
        c.start(i)
    try:
        for i in range(3):
            c.wait_healthy(i)
        yield c, creds
    finally:
        for proc in c.procs:
            if proc is not None:
                proc.kill()
                proc.wait(10)


def stream_info(c: Cluster, creds: NatsCredentials, stream: str) -> Any:
    async def ask() -> Any:
        bus = EventBus(c.url, "test-verify", creds, tls_ca_file=str(c.ca))
        await asyncio.wait_for(bus.connect(), 20)
        try:
            assert bus.js is not None
            return await bus.js.stream_info(stream)
        finally:
            assert bus.nc is not None
            await bus.nc.close()

    return asyncio.run(ask())


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.timeout(240)
def test_a_three_server_cluster_loses_nothing_when_a_server_dies(
    cluster: tuple[Cluster, dict[str, NatsCredentials]], tmp_path: Path
) -> None:
    c, creds = cluster
    config = ServiceConfig(
        name="canvas",
        database_url=f"sqlite:///{tmp_path / 'canvas.db'}",
        addr="127.0.0.1:0",
        listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        platform=PlatformSettings(
            nats_url=c.url,
            nats_nkey_seed=creds["canvas"].seed,
            nats_tls_ca_file=str(c.ca),
            stream_replicas=3,
            relay_poll_seconds=0.05,
        ),
    )
    runtime = ServiceRuntime(CANVAS, config)
    runtime.start()
    try:
        assert runtime.ready.wait(60), "canvas did not become ready on the cluster"
        stub = canvas_pb2_grpc.CanvasServiceStub(grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}"))

        def write(n: int, prefix: str) -> None:
            for k in range(n):
                req = pb.CreateCanvasRequest(canvas=pb.Canvas(name=f"{prefix} {k}"))
                stub.CreateCanvas(req, timeout=20, metadata=[("x-crm-actor", OWNER)])

        def outbox() -> tuple[int, int]:
            assert runtime.db is not None
            with runtime.db.read() as s:
                total = int(s.scalar(select(func.count()).select_from(outbox_events)) or 0)
                done = select(func.count()).select_from(outbox_events).where(outbox_events.c.published_at.is_not(None))
                return total, int(s.scalar(done) or 0)

        def all_published() -> bool:
            total, done = outbox()
            return total > 0 and total == done

        write(5, "Antes")
        wait_until(all_published, 30, "the first events were not published")
        before = stream_info(c, creds["canvas"], "CRM_CANVAS")
        assert before.config.num_replicas == 3
        assert before.state.messages == outbox()[0]
        assert len(before.cluster.replicas) == 2

        def followers_current() -> bool:
            replicas = stream_info(c, creds["canvas"], "CRM_CANVAS").cluster.replicas
            return all(r.current and not r.offline for r in replicas)

        # A follower acknowledges a message before it reports itself current: wait, do not assume.
        wait_until(followers_current, 30, "the followers did not catch up before the kill")
        before = stream_info(c, creds["canvas"], "CRM_CANVAS")

        # Kill the server leading the stream: the hardest one to lose.
        leader = int(before.cluster.leader.rsplit("-", 1)[1])
        c.kill(leader)
        write(5, "Durante")
        wait_until(all_published, 60, "events written after a server died were not published")
        total = outbox()[0]
        during = stream_info(c, creds["canvas"], "CRM_CANVAS")
        assert during.state.messages == total and during.state.last_seq == total  # none lost, none twice
        assert during.config.num_replicas == 3
        assert during.cluster.leader != f"nats-{leader}"

        def only_the_dead_one_behind() -> bool:
            replicas = stream_info(c, creds["canvas"], "CRM_CANVAS").cluster.replicas
            return [r.name for r in replicas if r.offline or not r.current] == [f"nats-{leader}"]

        wait_until(only_the_dead_one_behind, 30, "the surviving follower did not stay current")

        # Back again: ready for clients at once, healthy (the startup probe) once caught up.
        c.start(leader)
        wait_until(lambda: c.health(leader, "?js-server-only=true") == 200, 30, "restarted server not up")
        c.wait_healthy(leader)
        after = stream_info(c, creds["canvas"], "CRM_CANVAS")
        assert after.state.messages == total and after.config.num_replicas == 3

        wait_until(followers_current, 30, "the restarted server's replica did not catch up")
    finally:
        runtime.stop(grace=1)
