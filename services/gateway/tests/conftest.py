"""A real stack for the gateway's tests, once per module: the identity, contacts, deals and quotes
services over gRPC on loopback (SQLite files, the session's nats-server, an internal token they require), and
the gateway app following identity's events. The team: an admin, a manager leading team Norte
with reps Ana and Beto, and Carla, a rep outside the team."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_campaigns.bootstrap import SPEC as CAMPAIGNS
from crm_canvas.bootstrap import SPEC as CANVAS
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.bootstrap import SPEC as DEALS
from crm_gateway.app import close_app, create_app
from crm_gateway.settings import GatewaySettings
from crm_identity.bootstrap import SPEC as IDENTITY
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.grpc_client import close_channels
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime, ServiceSpec
from crm_platform.testing import nats_credentials, scratch_postgres
from crm_quotes.bootstrap import SPEC as QUOTES
from crm_reporting.bootstrap import SPEC as REPORTING

INTERNAL_TOKEN = "gateway-tests-internal-token"
ADMIN_EMAIL = "admin@example.com"
PASSWORD = "una clave larga 123"


@dataclass
class Stack:
    app: Flask
    http: FlaskClient
    identity: ServiceRuntime
    contacts: ServiceRuntime
    deals: ServiceRuntime
    quotes: ServiceRuntime
    reporting: ServiceRuntime
    campaigns: ServiceRuntime
    canvas: ServiceRuntime
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)

    def login(self, email: str, password: str = PASSWORD, **environ: Any) -> Any:
        return self.http.post("/api/v1/auth/login", json={"email": email, "password": password}, **environ)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def sign_in(self, who: str, email: str) -> None:
        res = self.login(email)
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        self.tokens[who], self.refresh_tokens[who] = body["access_token"], body["refresh_token"]
        self.users[who] = body["user"]

    def id(self, who: str) -> str:
        return str(self.users[who]["id"])


def _start(spec: ServiceSpec, database_url: str, nats_url: str) -> ServiceRuntime:
    creds = nats_credentials(nats_url, spec.name)  # its own NATS user, as `crm up` runs it
    settings = PlatformSettings(
        nats_url=nats_url,
        relay_poll_seconds=0.05,
        internal_token=INTERNAL_TOKEN,
        nats_nkey_seed=creds.seed if creds else "",
    )
    config = ServiceConfig(spec.name, database_url, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings)
    runtime = ServiceRuntime(spec, config)
    runtime.start()
    assert runtime.ready.wait(20), f"{spec.name} did not become ready"
    return runtime


@pytest.fixture(scope="module")
def stack(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("gateway-stack")
    with running_stack(nats_server.url, lambda name: f"sqlite:///{tmp / name}.db") as s:
        yield s


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack_on_both_databases(
    request: pytest.FixtureRequest, nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack with its services on SQLite files, then on fresh PostgreSQL databases (skipped,
    saying so, when CRM_TEST_POSTGRES_URL is not set). A module takes it as its stack with
    `stack = stack_on_both_databases`."""
    with ExitStack() as databases:
        if request.param == "sqlite":
            tmp = tmp_path_factory.mktemp("gateway-stack")

            def database_url(name: str) -> str:
                return f"sqlite:///{tmp / name}.db"
        else:
            server = os.environ.get("CRM_TEST_POSTGRES_URL", "")
            if not server:
                pytest.skip("CRM_TEST_POSTGRES_URL is not set (CI sets it): PostgreSQL variant skipped")

            def database_url(name: str) -> str:
                return databases.enter_context(scratch_postgres(server, f"crm_gw_{name}"))

        with running_stack(nats_server.url, database_url) as s:
            yield s


@contextmanager
def running_stack(nats_url: str, database_url: Callable[[str], str]) -> Iterator[Stack]:
    """The stack with each service on `database_url(<service name>)` (a module may run it on
    PostgreSQL too), stopped when the block ends."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_ADMIN_EMAIL", ADMIN_EMAIL)
        mp.setenv("CRM_ADMIN_PASSWORD", PASSWORD)
        mp.setenv("CRM_INTERNAL_TOKEN", INTERNAL_TOKEN)
        identity = _start(IDENTITY, database_url("identity"), nats_url)
        contacts = _start(CONTACTS, database_url("contacts"), nats_url)
        mp.setenv("CRM_IDENTITY_ADDR", f"127.0.0.1:{identity.grpc_port}")
        mp.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts.grpc_port}")
        deals = _start(DEALS, database_url("deals"), nats_url)
        mp.setenv("CRM_DEALS_ADDR", f"127.0.0.1:{deals.grpc_port}")
        quotes = _start(QUOTES, database_url("quotes"), nats_url)
        mp.setenv("CRM_QUOTES_ADDR", f"127.0.0.1:{quotes.grpc_port}")
        reporting = _start(REPORTING, database_url("reporting"), nats_url)
        mp.setenv("CRM_REPORTING_ADDR", f"127.0.0.1:{reporting.grpc_port}")
        campaigns = _start(CAMPAIGNS, database_url("campaigns"), nats_url)
        mp.setenv("CRM_CAMPAIGNS_ADDR", f"127.0.0.1:{campaigns.grpc_port}")
        canvas = _start(CANVAS, database_url("canvas"), nats_url)
        mp.setenv("CRM_CANVAS_ADDR", f"127.0.0.1:{canvas.grpc_port}")
        settings = GatewaySettings(max_body_bytes=16 * 1024, cors_origins="https://app.example")
        services = ["identity", "contacts", "deals", "quotes", "reporting", "campaigns", "canvas"]
        app = create_app(
            settings, services=services, nats_url=nats_url, nats_credentials=nats_credentials(nats_url, "gateway")
        )
        s = Stack(
            app=app,
            http=app.test_client(),
            identity=identity,
            contacts=contacts,
            deals=deals,
            quotes=quotes,
            reporting=reporting,
            campaigns=campaigns,
            canvas=canvas,
        )
        s.sign_in("admin", ADMIN_EMAIL)
        admin = s.auth("admin")

        def user(email: str, name: str, role: str, team_id: str = "") -> dict[str, Any]:
            body = {"email": email, "display_name": name, "role": role, "password": PASSWORD}
            if team_id:
                body["team_id"] = team_id
            res = s.http.post("/api/v1/users", json=body, headers=admin)
            assert res.status_code == 201, res.get_json()
            return dict(res.get_json())

        manager = user("marta@example.com", "Marta Gerente", "manager")
        team = s.http.post("/api/v1/teams", json={"name": "Norte", "manager_id": manager["id"]}, headers=admin)
        assert team.status_code == 201, team.get_json()
        for email, name in (("ana@example.com", "Ana Rep"), ("beto@example.com", "Beto Rep")):
            user(email, name, "rep", team.get_json()["id"])
        user("carla@example.com", "Carla Rep", "rep")
        for who in ("marta", "ana", "beto", "carla"):
            s.sign_in(who, f"{who}@example.com")
        s.users["team"] = team.get_json()
        yield s
        close_app(app)
        # Each stop waits on its own server, NATS connection and metrics thread: side by side.
        runtimes = (canvas, campaigns, reporting, quotes, deals, contacts, identity)
        with ThreadPoolExecutor(max_workers=len(runtimes)) as pool:
            list(pool.map(lambda runtime: runtime.stop(grace=1), runtimes))
        # The next module's services may get these ports again: no channel to a stopped one is kept.
        close_channels()
