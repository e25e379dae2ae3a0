"""No page calls an API path the OpenAPI document does not describe: every "/api/v1/..." the web
application's code names (plain or f-string, with the method where the call shows it) is matched
against the gateway's own document, built from its routes as /api/v1/openapi.json serves it."""

from __future__ import annotations

import re
from pathlib import Path

import crm_gateway.app  # noqa: F401 - importing it declares every route of the document
from crm_gateway.openapi import build_document

CODE = Path(__file__).parents[1] / "crm_web"
# A call whose method shows: api.get("/api/..."), api.list(f"/api/..."), api.request("POST", "/api/...").
_CALL = re.compile(
    r"""\.(get|post|patch|delete|list|stream)\(\s*f?"(/api/v1/[^"]*)"|request\(\s*"(\w+)",\s*f?"(/api/v1/[^"]*)\""""
)
_ANY = re.compile(r"""f?"(/api/v1/[^"]*)\"""")
_METHOD = {"get": "get", "list": "get", "stream": "get", "post": "post", "patch": "patch", "delete": "delete"}


def _documented() -> list[tuple[re.Pattern[str], set[str]]]:
    out = []
    for path, ops in build_document()["paths"].items():
        pattern = re.escape(path)
        pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/:]+", pattern)
        out.append((re.compile(f"^{pattern}$"), set(ops)))
    return out


def _named_paths() -> tuple[set[tuple[str, str, str]], set[tuple[str, str]]]:
    calls: set[tuple[str, str, str]] = set()
    paths: set[tuple[str, str]] = set()
    for file in sorted(CODE.rglob("*.py")):
        text = file.read_text(encoding="utf-8")
        for m in _CALL.finditer(text):
            method = _METHOD[m.group(1)] if m.group(1) else m.group(3).lower()
            calls.add((file.name, method, m.group(2) or m.group(4)))
        for m in _ANY.finditer(text):
            paths.add((file.name, m.group(1)))
    return calls, paths


def _concrete(path: str) -> str:
    """An f-string's placeholders as one path segment each."""
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_api_path_the_pages_name_is_documented_with_its_method() -> None:
    documented = _documented()
    calls, paths = _named_paths()
    assert len(calls) >= 20, "the scan found too few calls: has the client's call style changed?"
    missing = []
    for file, path in sorted(paths):
        if not any(p.match(_concrete(path)) for p, _ in documented):
            missing.append(f"{file}: {path}")
    wrong_method = []
    for file, method, path in sorted(calls):
        ops = next((ops for p, ops in documented if p.match(_concrete(path))), None)
        if ops is not None and method not in ops:
            wrong_method.append(f"{file}: {method.upper()} {path}")
    assert not missing, f"paths the OpenAPI document lacks: {missing}"
    assert not wrong_method, f"methods the OpenAPI document lacks: {wrong_method}"


def test_the_check_itself_refuses_an_undocumented_path() -> None:
    documented = _documented()
    assert any(p.match(_concrete("/api/v1/clients/{client_id}:archive")) for p, _ in documented)
    assert not any(p.match(_concrete("/api/v1/clients/{client_id}:explode")) for p, _ in documented)
