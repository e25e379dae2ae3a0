"""No page calls an API path the OpenAPI document lacks, checked from the source: every string in
the crm_web modules that names a gateway path ("/api/v1/...", an f-string's placeholders read as
path parameters) must match a path template of the gateway's document, and so must the custom
actions pages add to a record path (`f"{record_path}:archive"`). Runs without a browser; the
browser tests check the paths actually called, too (test_records_browser.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crm_web"
PLACEHOLDER = "{x}"


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/:]+".join(re.escape(p) for p in parts) + "$")


def _text(node: ast.AST) -> str | None:
    """A string constant, or an f-string with each placeholder as {x}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            else:
                out.append(PLACEHOLDER)
        return "".join(out)
    return None


def called_paths() -> tuple[set[str], set[str]]:
    """(paths named in full, actions appended to a record path such as ":archive")."""
    paths: set[str] = set()
    actions: set[str] = set()
    for module in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(module.read_text(), str(module))
        # An f-string's literal parts are nodes of their own: read only the whole f-string.
        parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            text = _text(node)
            if text is None or id(node) in parts:
                continue
            if text.startswith("/api/v1/"):
                paths.add(text.split("?")[0])
            elif re.fullmatch(r"\{x\}:[A-Za-z]+", text):
                actions.add(text[len(PLACEHOLDER) :])
    return paths, actions


@pytest.fixture(scope="module")
def documented() -> list[re.Pattern[str]]:
    import crm_gateway.app  # noqa: F401  (registers every route)
    from crm_gateway.openapi import build_document

    return [_template_regex(p) for p in build_document()["paths"]]


def test_the_scan_finds_the_pages_calls() -> None:
    paths, actions = called_paths()
    assert "/api/v1/clients" in paths and "/api/v1/prospects/{x}:convert" in paths
    assert "/api/v1/users/{x}:resetPassword" in paths
    assert ":archive" in actions


def test_every_path_a_page_calls_is_in_the_openapi_document(documented: list[re.Pattern[str]]) -> None:
    paths, actions = called_paths()
    missing = sorted(p for p in paths if not any(rx.match(p) for rx in documented))
    assert not missing, missing
    # An action is appended to the record paths of the kinds whose pages use it.
    records = [p for p in paths if re.fullmatch(r"/api/v1/(contacts|prospects|clients)/\{x\}", p)]
    for action in actions:
        for record in records:
            assert any(rx.match(record + action) for rx in documented), record + action


def test_a_path_the_document_lacks_is_caught(documented: list[re.Pattern[str]]) -> None:
    assert not any(rx.match("/api/v1/prospects/{x}:promote") for rx in documented)
    assert any(rx.match("/api/v1/prospects/{x}:convert") for rx in documented)
