"""The event bus's authorization against a real nats-server running the generated configuration:
no credentials, no connection; a service may publish only its own events and create only its
own stream, and read only the streams it consumes. Also: the permissions written in
docker-compose and Kubernetes are the generator's, and every service consumes only what its
NATS user may read."""

from __future__ import annotations

import asyncio
import importlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml
from nats.js.api import StreamConfig

from crm.identity.v1 import events_pb2 as identity_events
from crm.identity.v1 import identity_pb2
from crm_platform import nats_auth
from crm_platform.config import SERVICES, ConfigError, PlatformSettings, load_settings
from crm_platform.db import Database
from crm_platform.eventbus import EVENT_TYPE_HEADER, MSG_ID_HEADER, EventBus, stream_name, stream_subjects
from crm_platform.nats_server import NatsServer
from crm_platform.testing import nats_credentials, secured_nats_server

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    s = secured_nats_server(tmp_path_factory.mktemp("nats-auth") / "store")
    yield s
    s.stop()


def _bus(server: NatsServer, user: str) -> EventBus:
    return EventBus(server.url, f"test-{user}", nats_credentials(server.url, user))


def _forged_promotion() -> identity_events.UserUpdated:
    event = identity_events.UserUpdated(
        user=identity_pb2.User(id=str(uuid.uuid4()), role=identity_pb2.ROLE_ADMIN, active=True, version=1000)
    )
    event.meta.event_id = str(uuid.uuid4())
    return event


def test_a_connection_without_credentials_is_refused(server: NatsServer) -> None:
    async def connect() -> None:
        nc = await nats.connect(server.url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)
        await nc.close()

    with pytest.raises(Exception, match=r"(?i)authorization"):
        asyncio.run(connect())


def test_a_wrong_key_is_refused(server: NatsServer) -> None:
    async def connect() -> None:
        nc = await nats.connect(
            server.url, allow_reconnect=False, connect_timeout=2, nkeys_seed_str=nats_auth.new_seed()
        )
        await nc.close()

    with pytest.raises(Exception, match=r"(?i)authorization"):
        asyncio.run(connect())


def test_campaigns_cannot_publish_an_identity_event_and_identity_can(server: NatsServer) -> None:
    async def scenario() -> tuple[int, int]:
        identity, campaigns = _bus(server, "identity"), _bus(server, "campaigns")
        await identity.connect()
        await campaigns.connect()
        assert identity.js is not None and campaigns.js is not None
        try:
            await identity.ensure_stream("identity")
            before = (await identity.js.stream_info(stream_name("identity"))).state.messages
            forged = _forged_promotion()
            headers = {MSG_ID_HEADER: forged.meta.event_id, EVENT_TYPE_HEADER: "crm.identity.v1.UserUpdated"}
            # The server drops the publish (a permissions violation): no JetStream ack comes.
            with pytest.raises(nats.errors.TimeoutError):
                await campaigns.js.publish(
                    "crm.identity.v1.user_updated", forged.SerializeToString(), headers=headers, timeout=1.5
                )
            after_forgery = (await identity.js.stream_info(stream_name("identity"))).state.messages
            # The owner publishing the same subject is acknowledged (the refusal is about who).
            real = _forged_promotion()
            ack = await identity.js.publish(
                "crm.identity.v1.user_updated", real.SerializeToString(), headers={MSG_ID_HEADER: real.meta.event_id}
            )
            assert ack.stream == stream_name("identity")
            return before, after_forgery
        finally:
            await identity.close()
            await campaigns.close()

    before, after = asyncio.run(scenario())
    assert after == before


def test_a_service_cannot_create_or_read_a_stream_it_does_not_own_or_consume(server: NatsServer) -> None:
    async def scenario() -> None:
        campaigns, deals, identity = _bus(server, "campaigns"), _bus(server, "deals"), _bus(server, "identity")
        for b in (campaigns, deals, identity):
            await b.connect()
        assert campaigns.js is not None and deals.js is not None
        try:
            await identity.ensure_stream("identity")
            # A stream named for another service (whatever subjects it would take) is refused.
            with pytest.raises(nats.errors.TimeoutError):
                await campaigns.js.add_stream(
                    StreamConfig(name=stream_name("canvas"), subjects=[stream_subjects("canvas")])
                )
            # campaigns does not consume identity: it cannot make a consumer there.
            with pytest.raises(nats.errors.TimeoutError):
                await campaigns.js.pull_subscribe(stream_subjects("identity"), stream=stream_name("identity"))
            # deals may create its own stream and consume contacts' (once contacts made it).
            await deals.ensure_stream("deals")
            assert (await deals.js.stream_info(stream_name("deals"))).config.name == stream_name("deals")
        finally:
            for b in (campaigns, deals, identity):
                await b.close()

    asyncio.run(scenario())


def test_every_service_consumes_only_streams_its_user_may_read(tmp_path: Path) -> None:
    for name in SERVICES:
        spec = importlib.import_module(f"crm_{name}.bootstrap").SPEC
        db = Database(f"sqlite:///{tmp_path / name}.db", name)
        try:
            sources = {c.source for c in spec.consumers(db)}
        finally:
            db.dispose()
        assert sources == set(nats_auth.CONSUMES[name]), f"{name} consumes {sources}: update nats_auth.CONSUMES"


def test_each_user_publishes_only_its_own_events() -> None:
    for user in nats_auth.USERS:
        perms = nats_auth.permissions(user)
        events = [s for s in perms.publish if not s.startswith("$JS.")]
        assert events == ([f"crm.{user}.>"] if user in SERVICES else [])
        owned = {
            m.group(1) for s in perms.publish if (m := re.match(r"\$JS\.API\.STREAM\.(?:CREATE|UPDATE)\.(\w+)", s))
        }
        assert owned == ({stream_name(user)} if user in SERVICES else set())
        assert perms.subscribe == (f"_INBOX.{user}.>",)
    with pytest.raises(ValueError, match="unknown NATS user 'web'"):
        nats_auth.permissions("web")


def _authorization_block(text: str) -> str:
    start = text.index("authorization {")
    end = text.index("\n}\n", start) + 3
    return text[start:end]


@pytest.mark.parametrize("path", ["deploy/compose/nats.conf", "deploy/k8s/nats/nats.conf"])
def test_deploy_configs_hold_the_generated_permissions(path: str) -> None:
    assert _authorization_block((ROOT / path).read_text()) == nats_auth.placeholder_block()


def test_compose_gives_each_process_only_its_own_seed_and_the_server_every_public_key() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for user in nats_auth.USERS:
        for server in ("nats-0", "nats-1", "nats-2"):  # the cluster's three servers
            assert nats_auth.nkey_variable(user) in services[server]["environment"]
        seed = services[user]["environment"]["CRM_NATS_NKEY_SEED"]
        assert seed.startswith("${" + nats_auth.seed_variable(user) + ":?"), (user, seed)


def test_k8s_gives_each_process_only_its_own_seed() -> None:
    for user in nats_auth.USERS:
        path = ROOT / ("deploy/k8s/gateway.yaml" if user == "gateway" else f"deploy/k8s/services/{user}.yaml")
        doc = next(d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "Deployment")
        env = {e["name"]: e for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env["CRM_NATS_NKEY_SEED"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "crm-nats-nkeys", "key": nats_auth.seed_variable(user)}
    statefulset = next(
        d
        for d in yaml.safe_load_all((ROOT / "deploy/k8s/nats/statefulset.yaml").read_text())
        if d["kind"] == "StatefulSet"
    )
    names = {e["name"] for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {nats_auth.nkey_variable(u) for u in nats_auth.USERS} <= names


def test_a_malformed_seed_stops_the_process_naming_the_variable_without_echoing_it() -> None:
    secretish = "SUNOTAREALSEED" + "X" * 40
    with pytest.raises(ConfigError, match="CRM_NATS_NKEY_SEED is not an nkey user seed") as exc:
        load_settings(lambda: PlatformSettings(nats_nkey_seed=secretish), "the platform (CRM_*)")
    assert secretish not in str(exc.value)
    # An account seed is an nkey, but not a user's.
    account_seed = nats_auth.nkeys.encode_seed(b"\x01" * 32, nats_auth.nkeys.PREFIX_BYTE_ACCOUNT).decode()
    with pytest.raises(ConfigError, match="user"):
        load_settings(lambda: PlatformSettings(nats_nkey_seed=account_seed), "the platform (CRM_*)")


def test_the_reporting_rebuild_replays_the_streams_as_the_reporting_user(server: NatsServer, tmp_path: Path) -> None:
    """`crm rebuild-reports` reads every stream reporting projects with ephemeral consumers: its
    NATS user allows that (and a stream not made yet is skipped, as only its owner may make it)."""
    from crm.contacts.v1 import contacts_pb2
    from crm.contacts.v1 import events_pb2 as contacts_events
    from crm_platform.db import run_migrations
    from crm_platform.testing import publish_events
    from crm_reporting.service_layer.rebuild import rebuild

    event = contacts_events.ClientCreated(client=contacts_pb2.Client(id=str(uuid.uuid4()), name="Ferretería Ñandú"))
    event.meta.event_id = str(uuid.uuid4())
    publish_events(server.url, [event])
    db = Database(f"sqlite:///{tmp_path / 'reporting.db'}", "reporting")
    try:
        run_migrations(db, "crm_reporting:migrations")
        result = rebuild(db, server.url, timeout=60, credentials=nats_credentials(server.url, "reporting"))
    finally:
        db.dispose()
    assert result.events["contacts"] >= 1


def _tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 it signs (made here, never stored)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("test-ca", ca_key, "test-ca", ca_key, True)
    server_cert = cert("nats", server_key, "test-ca", ca_key, False)
    paths = folder / "ca.crt", folder / "tls.crt", folder / "tls.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_a_service_verifies_the_nats_servers_certificate_with_its_ca_file(tmp_path: Path) -> None:
    """As on Kubernetes: NATS over TLS with the generated permissions; a process given the CA
    (CRM_NATS_TLS_CA_FILE) connects and publishes, one trusting another CA does not connect."""
    import subprocess

    from crm_platform.nats_server import binary, free_port, wait_for_port

    ca, crt, key = _tls_files(tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _, _ = _tls_files(tmp_path / "other")
    creds = nats_auth.generate()
    port = free_port()
    config = nats_auth.server_config(creds, port=port, store_dir=str(tmp_path / "store"))
    config += f'tls {{\n  cert_file: "{crt}"\n  key_file: "{key}"\n  ca_file: "{ca}"\n}}\n'
    (tmp_path / "nats.conf").write_text(config)
    proc = subprocess.Popen([binary(), "-c", str(tmp_path / "nats.conf")], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
        url = f"tls://127.0.0.1:{port}"

        async def scenario() -> None:
            good = EventBus(url, "test-tls", creds["quotes"], tls_ca_file=str(ca))
            await asyncio.wait_for(good.connect(), 10)
            assert good.js is not None
            await good.ensure_stream("quotes")
            ack = await good.js.publish("crm.quotes.v1.quote_sent", b"x", headers={MSG_ID_HEADER: "tls-1"})
            assert ack.stream == stream_name("quotes")
            await good.close()
            wrong = EventBus(url, "test-tls-wrong-ca", creds["quotes"], tls_ca_file=str(other_ca))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(wrong.connect(), 3)
            await wrong.close()

        asyncio.run(scenario())
    finally:
        proc.terminate()
        proc.wait(10)
