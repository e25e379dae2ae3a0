"""Security finding 1, replayed: a forged `crm.identity.v1.user_updated` that promotes a rep to
admin (a fresh Nats-Msg-Id, version 1000) once made the gateway believe it, and the rep's token
could then create users. The identity service and the gateway run here as the tests' stacks run
them (in-process, each signed in to NATS as its own user on a server with the generated
permissions): the forgery is refused whether sent without credentials or as another service, the
rep stays a rep through the gateway, also after a gateway restart that replays the stream. A
last step shows the test would see an escalation: the same event under identity's own key is
believed, so what stops the forgery is the server's permission check."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from flask import Flask

from crm.identity.v1 import events_pb2, identity_pb2
from crm_gateway.app import close_app, create_app
from crm_gateway.settings import GatewaySettings
from crm_identity.bootstrap import SPEC as IDENTITY
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.eventbus import EVENT_TYPE_HEADER, MSG_ID_HEADER, EventBus, subject_for
from crm_platform.grpc_client import close_channels
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import nats_credentials

INTERNAL_TOKEN = "forgery-tests-internal-token"
ADMIN_EMAIL = "admin@forgery.example"
REP_EMAIL = "rep@forgery.example"
PASSWORD = "una clave larga 123"


def _gateway(nats_url: str) -> Flask:
    return create_app(
        GatewaySettings(),
        services=["identity"],
        nats_url=nats_url,
        nats_credentials=nats_credentials(nats_url, "gateway"),
    )


def _synced(app: Flask, seconds: float = 20) -> None:
    """Waits until the gateway's identity feed has read the stream to its end."""
    auth = app.extensions["crm_auth"]
    deadline = time.monotonic() + seconds
    while not auth.synced:
        assert time.monotonic() < deadline, "the gateway's identity feed did not catch up"
        time.sleep(0.05)


@pytest.fixture
def identity_and_gateway(nats_server: NatsServer, tmp_path: Path) -> Iterator[tuple[ServiceRuntime, str]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_ADMIN_EMAIL", ADMIN_EMAIL)
        mp.setenv("CRM_ADMIN_PASSWORD", PASSWORD)
        mp.setenv("CRM_INTERNAL_TOKEN", INTERNAL_TOKEN)
        creds = nats_credentials(nats_server.url, "identity")
        assert creds is not None, "the shared NATS fixture runs with the generated permissions"
        settings = PlatformSettings(
            nats_url=nats_server.url, relay_poll_seconds=0.05, internal_token=INTERNAL_TOKEN, nats_nkey_seed=creds.seed
        )
        config = ServiceConfig(
            "identity", f"sqlite:///{tmp_path / 'identity.db'}", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings
        )
        identity = ServiceRuntime(IDENTITY, config)
        identity.start()
        try:
            assert identity.ready.wait(20)
            mp.setenv("CRM_IDENTITY_ADDR", f"127.0.0.1:{identity.grpc_port}")
            yield identity, nats_server.url
        finally:
            identity.stop(grace=1)
            close_channels()


def _login(app: Flask, email: str) -> dict[str, str]:
    res = app.test_client().post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.get_json()
    return {"Authorization": f"Bearer {res.get_json()['access_token']}"}


def _create_user(app: Flask, headers: dict[str, str], role: str = "rep") -> Any:
    body = {"email": f"{uuid.uuid4().hex[:8]}@forgery.example", "display_name": "Nuevo", "role": role}
    return app.test_client().post("/api/v1/users", json={**body, "password": PASSWORD}, headers=headers)


def _promotion(rep_id: str) -> events_pb2.UserUpdated:
    event = events_pb2.UserUpdated(
        user=identity_pb2.User(
            id=rep_id, email=REP_EMAIL, role=identity_pb2.ROLE_ADMIN, active=True, version=1000, display_name="Rep"
        )
    )
    event.meta.event_id = str(uuid.uuid4())
    event.meta.producer = "identity"
    return event


async def _forge(nats_url: str, event: events_pb2.UserUpdated, as_user: str | None) -> str:
    """Publishes the forged event; returns how it ended: refused at connect, no ack, or acked."""
    headers = {MSG_ID_HEADER: str(uuid.uuid4()), EVENT_TYPE_HEADER: type(event).DESCRIPTOR.full_name}
    if as_user is None:
        try:
            nc = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)
        except Exception as exc:
            return f"refused: {exc}"
        await nc.close()
        return "connected without credentials"
    bus = EventBus(nats_url, "forger", nats_credentials(nats_url, as_user))
    await bus.connect()
    assert bus.js is not None
    try:
        await bus.js.publish(subject_for(event), event.SerializeToString(), headers=headers, timeout=2)
        return "acked"
    except nats.errors.TimeoutError:
        return "no ack"
    finally:
        await bus.close()


def test_a_forged_promotion_is_refused_and_the_rep_stays_a_rep(
    identity_and_gateway: tuple[ServiceRuntime, str],
) -> None:
    _identity, nats_url = identity_and_gateway
    app = _gateway(nats_url)
    try:
        admin = _login(app, ADMIN_EMAIL)
        made = app.test_client().post(
            "/api/v1/users",
            json={"email": REP_EMAIL, "display_name": "Rep", "role": "rep", "password": PASSWORD},
            headers=admin,
        )
        assert made.status_code == 201, made.get_json()
        rep_id = made.get_json()["id"]
        rep = _login(app, REP_EMAIL)
        assert _create_user(app, rep).status_code == 403

        forged = _promotion(rep_id)
        assert asyncio.run(_forge(nats_url, forged, None)).startswith("refused")
        for service in ("campaigns", "deals", "contacts", "reporting"):
            assert asyncio.run(_forge(nats_url, forged, service)) == "no ack", service
        _synced(app)
        assert _create_user(app, rep).status_code == 403
        assert app.test_client().get("/api/v1/auth/me", headers=rep).get_json()["role"] == "rep"
    finally:
        close_app(app)

    # A restarted gateway replays the identity stream: nothing forged is in it.
    restarted = _gateway(nats_url)
    try:
        _synced(restarted)
        assert _create_user(restarted, rep).status_code == 403

        # The control: under identity's own key the same event is believed (the gateway trusts
        # its identity stream), so the refusals above are what kept the rep a rep.
        assert asyncio.run(_forge(nats_url, _promotion(rep_id), "identity")) == "acked"
        deadline = time.monotonic() + 20
        while _create_user(restarted, rep).status_code != 201:
            assert time.monotonic() < deadline, "the control event was not applied: the test could not see a forgery"
            time.sleep(0.1)
    finally:
        close_app(restarted)
