"""Keeps the newcomer's documentation honest where a machine can check it: each service's README
(services/<name>/README.md) names every RPC of its proto, every event of its events.proto (by the
subject's last part, `crm.<svc>.v1.<event>`), and every CRM_ environment variable the service reads
(its settings classes, os.environ reads in its code, the peers it dials, and its per-service
settings from crm_platform.config); every ADR in docs/adr/ is linked from docs/adr/README.md, and
the root README links both."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from crm_platform.config import SERVICES, ServiceSettings
from crm_platform.eventbus import _snake

ROOT = Path(__file__).resolve().parents[2]
GRPC_SERVICES = tuple(SERVICES)  # the seven services with a proto of their own
ALL = (*GRPC_SERVICES, "gateway", "web")
ADR_DIR = ROOT / "docs" / "adr"


def readme(service: str) -> str:
    path = ROOT / "services" / service / "README.md"
    assert path.is_file(), f"{path} is missing"
    return path.read_text(encoding="utf-8")


def proto_rpcs(service: str) -> list[str]:
    text = (ROOT / "protos" / "crm" / service / "v1" / f"{service}.proto").read_text(encoding="utf-8")
    return re.findall(r"^\s*rpc\s+(\w+)\s*\(", text, flags=re.MULTILINE)


def proto_events(service: str) -> list[str]:
    text = (ROOT / "protos" / "crm" / service / "v1" / "events.proto").read_text(encoding="utf-8")
    return re.findall(r"^message\s+(\w+)\s*\{", text, flags=re.MULTILINE)


def settings_env_names(module_name: str) -> set[str]:
    """The environment variables of every pydantic settings class a settings module defines."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return set()
    names: set[str] = set()
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if not issubclass(cls, BaseSettings) or cls.__module__ != module_name:
            continue
        config = cls.model_config
        for field in cls.model_fields:
            if config.get("alias_generator"):
                names.add(config["alias_generator"](field))  # type: ignore[operator]
            else:
                names.add(str(config.get("env_prefix", "")) + field.upper())
    return names


def code_env_names(service: str) -> set[str]:
    """CRM_ variables the service's code reads from the environment itself, and its peers' _ADDR."""
    names: set[str] = set()
    package = ROOT / "services" / service / f"crm_{service}"
    for path in package.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        names.update(re.findall(r"environ(?:\.get)?\s*[(\[]\s*[\"'](CRM_[A-Z0-9_]+)[\"']", source))
        # Peers dialled by name (crm_platform.grpc_client: stub(XStub, "deals"), channel_to("deals"),
        # peer_addr("deals")) are found at CRM_<PEER>_ADDR.
        peers = re.findall(r"(?:\bstub\(\s*[\w.]+,\s*|channel_to\(\s*|peer_addr\(\s*)[\"'](\w+)[\"']", source)
        names.update(f"CRM_{peer.upper()}_ADDR" for peer in peers if peer in SERVICES)
    return names


def service_env_names(service: str) -> set[str]:
    names = settings_env_names(f"crm_{service}.settings") | code_env_names(service)
    if service in SERVICES:
        names |= {f"CRM_{service.upper()}_{field.upper()}" for field in ServiceSettings.model_fields}
    return names


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_every_rpc_is_named_in_its_readme(service: str) -> None:
    rpcs = proto_rpcs(service)
    assert rpcs, f"no rpc found in {service}.proto"
    text = readme(service)
    missing = [rpc for rpc in rpcs if not re.search(rf"\b{rpc}\b", text)]
    assert not missing, f"services/{service}/README.md does not name {missing}"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_every_event_is_named_in_its_readme(service: str) -> None:
    events = proto_events(service)
    assert events, f"no event found in {service}'s events.proto"
    text = readme(service)
    assert f"crm.{service}.v1." in text, f"services/{service}/README.md does not give its subjects"
    missing = [e for e in events if not re.search(rf"\b{_snake(e)}\b", text)]
    assert not missing, f"services/{service}/README.md does not name {[_snake(e) for e in missing]}"


@pytest.mark.parametrize("service", ALL)
def test_every_setting_is_named_in_its_readme(service: str) -> None:
    names = service_env_names(service)
    text = readme(service)
    missing = sorted(name for name in names if not re.search(rf"\b{name}\b", text))
    assert not missing, f"services/{service}/README.md does not name {missing}"


def test_settings_are_found_where_a_service_has_them() -> None:
    # The finder itself must see settings, or the test above would pass on nothing.
    assert "CRM_QUOTES_TIME_ZONE" in service_env_names("quotes")
    assert "CRM_ADMIN_PASSWORD" in service_env_names("identity")
    assert "CRM_GATEWAY_CONTROL_SOCKET" in service_env_names("gateway")
    assert "CRM_CONTACTS_ADDR" in service_env_names("deals")
    assert "CRM_WEB_GATEWAY_URL" in service_env_names("web")


def adr_files() -> list[Path]:
    return sorted(p for p in ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md"))


def test_every_adr_is_linked_from_the_index() -> None:
    files = adr_files()
    assert len(files) >= 8, f"expected the eight decisions in {ADR_DIR}, found {[p.name for p in files]}"
    index = (ADR_DIR / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#]+)\)", index))
    missing = [p.name for p in files if p.name not in linked]
    assert not missing, f"docs/adr/README.md does not link {missing}"
    dangling = [name for name in linked if name.endswith(".md") and not (ADR_DIR / name).is_file()]
    assert not dangling, f"docs/adr/README.md links missing files {dangling}"


@pytest.mark.parametrize("path", adr_files(), ids=lambda p: p.name)
def test_each_adr_has_the_usual_parts(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    number = path.name[:4]
    assert text.startswith(f"# {number}. "), f"{path.name} should open with '# {number}. <title>'"
    for part in ("## Context", "## Decision", "## Consequences", "## Alternatives considered"):
        assert part in text, f"{path.name} has no '{part}' section"


def test_root_readme_links_the_service_readmes_and_the_adrs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/adr/README.md" in text
    assert "services/<name>/README.md" in text
    for service in ALL:
        readme(service)  # each one exists
