"""`crm up` given a NATS URL and PostgreSQL database URLs uses those instead of the embedded
ones: no nats-server of its own, no SQLite file, and the thin path works on them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from crm_platform import nats_auth
from crm_platform.config import SERVICES
from crm_platform.launcher import Platform
from crm_platform.nats_server import NatsServer, free_port
from crm_platform.testing import nats_credentials, scratch_postgres

pytestmark = pytest.mark.slow
POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "")


@pytest.fixture
def postgres_databases() -> Iterator[dict[str, str]]:
    if not POSTGRES_URL:
        pytest.skip("CRM_TEST_POSTGRES_URL is not set (CI sets it)")
    with ExitStack() as stack:
        yield {svc: stack.enter_context(scratch_postgres(POSTGRES_URL, f"crm_e2e_{svc}")) for svc in SERVICES}


def test_up_uses_the_given_nats_and_databases(
    postgres_databases: dict[str, str], nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_NATS_URL", nats_server.url)
    # That server allows each process only its own NATS user: each one's seed is handed to it alone.
    for user in nats_auth.USERS:
        creds = nats_credentials(nats_server.url, user)
        assert creds is not None
        monkeypatch.setenv(nats_auth.seed_variable(user), creds.seed)
    monkeypatch.setenv("CRM_ADMIN_EMAIL", "jefe@example.com")
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", "clave externa 12345")
    for svc, url in postgres_databases.items():
        monkeypatch.setenv(f"CRM_{svc.upper()}_DATABASE_URL", url)
        monkeypatch.setenv(f"CRM_{svc.upper()}_ADDR", f"127.0.0.1:{free_port()}")
        monkeypatch.setenv(f"CRM_{svc.upper()}_METRICS_LISTEN", f"127.0.0.1:{free_port()}")
    gateway = f"127.0.0.1:{free_port()}"
    platform = Platform(tmp_path / "data", gateway_listen=gateway, quiet=True)
    try:
        platform.start(timeout=90)
        assert platform.nats is None  # the given server, not an embedded one
        session = requests.post(
            f"http://{gateway}/api/v1/auth/login",
            json={"email": "jefe@example.com", "password": "clave externa 12345"},
            timeout=10,
        )
        assert session.status_code == 200, session.text
        headers = {"Authorization": f"Bearer {session.json()['access_token']}"}
        res = requests.post(
            f"http://{gateway}/api/v1/clients", json={"name": "Externa SA"}, headers=headers, timeout=10
        )
        assert res.status_code == 201, res.text
        engine = create_engine(postgres_databases["contacts"])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM clients")).scalar_one() == "Externa SA"
        engine.dispose()
        assert list((tmp_path / "data").glob("*.db")) == []
    finally:
        platform.stop()
