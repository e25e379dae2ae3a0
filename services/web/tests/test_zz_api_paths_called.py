"""Last in the session: every API path a page called during the browser journeys (recorded by
crm_web.api, switched on in conftest.py) is described by the gateway's OpenAPI document, built from
its routes as /api/v1/openapi.json serves it. test_openapi_paths.py checks the paths the code names;
this one checks the paths the pages really called, ids and custom verbs included."""

from __future__ import annotations

import re

import pytest

import crm_gateway.app  # noqa: F401 - importing it declares every route of the document
from crm_gateway.openapi import build_document
from crm_web import api as web_api


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/:]+".join(re.escape(p) for p in parts) + "$")


def test_every_api_path_the_pages_called_in_this_session_is_documented() -> None:
    # Only the gateway's API: test_api_client.py drives the client against a small local server.
    called = {(m, p) for m, p in web_api.CALLED if p.startswith("/api/")}
    if not called:
        pytest.skip("no browser journey ran in this session (run the whole services/web/tests folder)")
    documented = [
        (method.upper(), _template_regex(path)) for path, ops in build_document()["paths"].items() for method in ops
    ]
    missing = sorted(f"{m} {p}" for m, p in called if not any(m == dm and rx.match(p) for dm, rx in documented))
    assert not missing, missing
