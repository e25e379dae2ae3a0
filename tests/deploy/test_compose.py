"""docker-compose.yml as an operator runs it: the three-server NATS cluster (each server routed
to all three, every CRM process given all three, streams with three replicas, lame duck on
stop), the web application, Alertmanager and the exporters the alerts read, Prometheus scraping
them and sending alerts on, and every secret compose demands listed in deploy/compose/env.example.
(No Docker here: the file is checked as data; Prometheus's config with promtool.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NATS_SERVERS = ["nats-0", "nats-1", "nats-2"]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_nats_is_a_three_server_cluster_every_process_knows() -> None:
    services = compose()["services"]
    conf = (ROOT / "deploy" / "compose" / "nats.conf").read_text()
    routes = re.findall(r"nats://(nats-\d):6222", conf)
    assert routes == NATS_SERVERS
    for name in NATS_SERVERS:
        server = services[name]
        assert server["environment"]["SERVER_NAME"] == name
        assert server["stop_signal"] == "SIGUSR2"  # nats-server's lame duck mode
        assert "/healthz" in " ".join(server["healthcheck"]["test"])
        assert f"{name}-data:/data" in server["volumes"]
    crm = [n for n, s in services.items() if "crm_" in " ".join(s.get("command", []))]
    assert len(crm) == 9  # seven services, the gateway, the web application
    for name in crm:
        env = services[name]["environment"]
        if name == "web":
            assert "CRM_NATS_URL" not in env  # it talks to the gateway only
            continue
        assert env["CRM_NATS_URL"].split(",") == [f"nats://{s}:4222" for s in NATS_SERVERS], name
        assert env["CRM_STREAM_REPLICAS"] == "3", name
        if name != "gateway":
            assert set(NATS_SERVERS) <= set(services[name]["depends_on"]), name


def test_web_alertmanager_and_exporters_are_there() -> None:
    services = compose()["services"]
    assert services["web"]["environment"]["CRM_WEB_GATEWAY_URL"] == "http://gateway:8080"
    assert services["web"]["ports"] == ["127.0.0.1:8090:8090"]
    assert services["alertmanager"]["ports"] == ["127.0.0.1:9093:9093"]
    for i, name in enumerate(NATS_SERVERS):
        assert services[f"nats-exporter-{i}"]["command"][-1] == f"http://{name}:8222"
    assert "postgres-exporter" in services
    # Published only on loopback.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), name


def test_prometheus_scrapes_the_exporters_and_sends_alerts_to_alertmanager() -> None:
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["crm-nats"]["static_configs"][0]["targets"] == [f"nats-exporter-{i}:7777" for i in range(3)]
    assert jobs["postgres"]["static_configs"][0]["targets"] == ["postgres-exporter:9187"]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Debian package prometheus)")
def test_promtool_checks_the_prometheus_config() -> None:
    out = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", str(ROOT / "deploy" / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_required_variable_is_in_env_example() -> None:
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    secrets = {s["environment"] for s in compose()["secrets"].values()}
    example = (ROOT / "deploy" / "compose" / "env.example").read_text()
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    assert sorted((required | secrets) - listed) == []
