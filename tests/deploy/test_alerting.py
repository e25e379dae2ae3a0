"""Alerting as an on-call engineer needs it: the rules pass `promtool check rules`, their unit
tests pass `promtool test rules`, every alert has at least one test case, a severity, a summary
and a runbook that exists (deploy/runbooks/<alert>.md), Alertmanager's configuration passes
`amtool check-config` and routes every severity the rules use, and every metric the alerts and
the dashboard read is one the platform exports or a named exporter provides."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RUNBOOKS = ROOT / "deploy" / "runbooks"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="needs promtool (Debian package prometheus)"
)
needs_amtool = pytest.mark.skipif(
    shutil.which("amtool") is None, reason="needs amtool (Debian package prometheus-alertmanager)"
)


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def alerts_with_test_cases() -> set[str]:
    tests = yaml.safe_load((PROM / "alerts.test.yml").read_text())["tests"]
    return {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    out = subprocess.run(
        ["promtool", "check", "rules", str(PROM / "alerts.yml")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in out.stdout


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    out = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"], cwd=PROM, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_test_case() -> None:
    names = {rule["alert"] for rule in alerts()}
    assert len(names) == len(alerts()), "two alerts share a name"
    assert sorted(names - alerts_with_test_cases()) == []
    assert sorted(alerts_with_test_cases() - names) == [], "a test case names an alert that does not exist"


def test_every_alert_has_a_severity_a_summary_and_a_runbook() -> None:
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
        assert rule["annotations"]["runbook_url"] == f"deploy/runbooks/{name}.md", name
        runbook = (RUNBOOKS / f"{name}.md").read_text()
        assert runbook.startswith(f"# {name}\n") and "## Check" in runbook and "## Fix" in runbook, name
    # No runbook for an alert that no longer exists.
    assert {p.stem for p in RUNBOOKS.glob("*.md")} == {rule["alert"] for rule in alerts()}


def test_the_readme_explains_every_alert() -> None:
    readme = (ROOT / "deploy" / "README.md").read_text()
    missing = [rule["alert"] for rule in alerts() if f"`{rule['alert']}`" not in readme]
    assert missing == []


@needs_amtool
def test_amtool_checks_the_alertmanager_config() -> None:
    out = subprocess.run(["amtool", "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_amtool
@pytest.mark.parametrize(("severity", "receivers"), [("critical", "on-call,team"), ("warning", "team")])
def test_alertmanager_routes_each_severity(severity: str, receivers: str) -> None:
    out = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", f"severity={severity}", "alertname=X"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == receivers


# Metrics that come from elsewhere than the platform's own code, by prefix: the NATS exporter,
# postgres_exporter, kube-state-metrics, and Prometheus itself.
EXTERNAL = ("gnatsd_", "jetstream_", "pg_", "kube_", "up")


def _metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression: what is left once label matchers, grouping
    clauses, ranges and strings are taken out, less the functions and keywords."""
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    expr = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    words = set(re.findall(r"\b[a-zA-Z_][a-zA-Z0-9_]*\b", expr))
    keywords = {
        "sum", "max", "min", "avg", "count", "rate", "increase", "deriv", "histogram_quantile", "absent",
        "max_over_time", "topk", "and", "or", "unless", "offset", "m", "s", "h", "d",
    }  # fmt: skip
    return {w for w in words if w not in keywords}


def exported_metrics() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("libs/crm_platform/*.py"), *ROOT.glob("services/*/crm_*/**/*.py")]:
        found |= set(re.findall(r'"(crm_[a-z0-9_]+)"', path.read_text()))
    return found


def _known(name: str, exported: set[str]) -> bool:
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    return name.startswith(EXTERNAL) or name in exported or base in exported


def test_every_metric_in_the_alerts_and_the_dashboard_is_exported() -> None:
    exported = exported_metrics()
    exprs = [rule["expr"] for rule in alerts()]
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "crm-overview.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    unknown = sorted({n for e in exprs for n in _metric_names(e) if not _known(n, exported)})
    assert unknown == []


def test_the_dashboard_has_a_row_of_business_figures() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "crm-overview.json").read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert "Business" in rows
    start = next(i for i, p in enumerate(dashboard["panels"]) if p["title"] == "Business")
    panels = [p for p in dashboard["panels"][start + 1 :] if p["type"] != "row"][:4]
    titles = " ".join(p["title"] for p in panels).lower()
    for figure in ("deals won", "quotes sent", "prospects", "campaigns"):
        assert figure in titles, figure
