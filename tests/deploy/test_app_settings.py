"""The two application changes the deploy manifests rely on: a service told not to migrate on
start (CRM_MIGRATE_ON_START=false, set beside the migrations Job) refuses a database behind its
code instead of migrating it, and health probes and scrapes are not counted as traffic by the
gateway or the web application (the alerts' error ratios and minimum rates use those counters)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from crm_platform.config import PlatformSettings
from crm_platform.db import Database, run_migrations
from crm_platform.migrations import MigrationsPending, require_migrated


def test_migrate_on_start_is_a_setting_defaulting_to_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PlatformSettings().migrate_on_start is True
    monkeypatch.setenv("CRM_MIGRATE_ON_START", "false")
    assert PlatformSettings().migrate_on_start is False


def test_a_database_behind_the_code_is_refused_until_crm_migrate_ran(database_url: str) -> None:
    db = Database(database_url, "canvas")
    try:
        with pytest.raises(MigrationsPending, match=r"run `crm migrate canvas` first"):
            require_migrated(db.engine, "crm_canvas:migrations", "canvas")
        # Refusing changed nothing: no table was made.
        assert sa.inspect(db.engine).get_table_names() == []
        run_migrations(db, "crm_canvas:migrations")
        require_migrated(db.engine, "crm_canvas:migrations", "canvas")  # at head: no error
    finally:
        db.dispose()


def _count(metric: str, route: str) -> float:
    total = 0.0
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == metric and sample.labels.get("route") == route:
                total += sample.value
    return total


def test_web_probes_are_not_counted_as_requests() -> None:
    from crm_web.app import create_app
    from crm_web.settings import WebSettings

    client = create_app(WebSettings(gateway_url="http://127.0.0.1:9")).test_client()
    before = _count("crm_web_requests_total", "/healthz")
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert _count("crm_web_requests_total", "/healthz") == before
    assert _count("crm_web_requests_total", "/metrics") == 0
    # A page is still counted (the sign-in page answers without the gateway).
    signin_before = _count("crm_web_requests_total", "/signin")
    client.get("/signin")
    assert _count("crm_web_requests_total", "/signin") == signin_before + 1


def test_gateway_probes_are_not_counted_as_requests() -> None:
    from crm_gateway.app import create_app
    from crm_gateway.settings import GatewaySettings

    app = create_app(GatewaySettings(), services=[], follow_identity_events=False)
    client = app.test_client()
    before = {r: _count("crm_http_requests_total", r) for r in ("/healthz", "/readyz", "/metrics")}
    assert client.get("/healthz").status_code == 200
    client.get("/readyz")
    assert client.get("/metrics").status_code == 200
    assert {r: _count("crm_http_requests_total", r) for r in before} == before
    counted = _count("crm_http_requests_total", "/api/v1/clients")
    assert client.get("/api/v1/clients").status_code == 401  # no token: still traffic
    assert _count("crm_http_requests_total", "/api/v1/clients") == counted + 1
