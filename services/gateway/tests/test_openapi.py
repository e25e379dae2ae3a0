"""The OpenAPI document: valid OpenAPI 3.1, describing every route of the app, and true to the
running gateway: a schema-driven fuzzer (schemathesis) against it over HTTP finds no 5xx and no
answer that breaks the document."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from crm_gateway.app import is_public

from .conftest import Stack


def test_the_document_validates_and_describes_every_route(stack: Stack) -> None:
    res = stack.http.get("/api/v1/openapi.json")
    assert res.status_code == 200
    doc = res.get_json()
    validate(doc)
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for rule in stack.app.url_map.iter_rules():
        if rule.endpoint.startswith("swagger_ui."):
            continue  # Swagger UI's own page and files, under the described /api/docs
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (method, path) in described, (method, path)
            op = doc["paths"][path][method.lower()]
            assert ("security" in op and op["security"] == []) == is_public(rule.endpoint), (method, path)
            if not is_public(rule.endpoint):
                assert "401" in op["responses"] and "403" in op["responses"]


def test_the_docs_page_is_served_without_the_internet(stack: Stack) -> None:
    page = stack.http.get("/api/docs/")
    assert page.status_code == 200 and b"swagger" in page.data.lower()
    assert stack.http.get("/api/docs/swagger-ui-bundle.js").status_code == 200
    assert stack.http.get("/api/docs").status_code == 302


@pytest.fixture(scope="module")
def served(stack: Stack) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# A path parameter that names no record (the hostile cases are refused before any lookup).
NO_RECORD = "0192d6e0-0000-7000-8000-000000000000"


def _nested(depth: int) -> Any:
    value: Any = "fondo"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def _hostile_cases(operation: Any) -> Iterator[tuple[str, schemathesis.Case]]:
    """Cases the generator would hardly make: a JSON body nested past the gateway's depth limit,
    and a NUL character in a body string, a query parameter and a path parameter."""
    definition = operation.definition.raw
    path = {p["name"]: NO_RECORD for p in definition.get("parameters", []) if p["in"] == "path"}
    path.update({name: NO_RECORD for name in re.findall(r"{(\w+)}", operation.path)})
    query = [p["name"] for p in definition.get("parameters", []) if p["in"] == "query"]
    if "application/json" in definition.get("requestBody", {}).get("content", {}):
        yield (
            "nested body",
            operation.Case(path_parameters=path, body={"name": _nested(40)}, media_type="application/json"),
        )
        yield (
            "NUL in body",
            operation.Case(path_parameters=path, body={"name": "a\u0000b"}, media_type="application/json"),
        )
    if query:
        yield "NUL in query", operation.Case(path_parameters=path, query={query[0]: "a\u0000b"})
    if path:
        yield "NUL in path", operation.Case(path_parameters=dict.fromkeys(path, "a\u0000b"))


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(stack: Stack, served: str) -> None:
    """Every operation, with generated valid and invalid input and the hostile cases above, as the
    admin. Checked: no 5xx; the
    status code, content type, headers and body of every answer are ones the document declares;
    input the document calls invalid is refused. (Not checked: that every schema-valid input is
    accepted, which no API with rules beyond its schema can promise: a well-formed e-mail may be
    a duplicate, a string a stale page token.)"""
    schema = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json")
    # A body over the gateway's size limit is refused whole with 413 before it is read: a
    # rejection of invalid input as much as a 400 is (generated invalid bodies can be that large).
    schema.config.checks.negative_data_rejection.expected_statuses.append("413")

    @schema.hook
    def filter_query(_context: object, query: dict[str, Any] | None) -> bool:
        # An extra parameter whose value is an empty list is not sent at all: schemathesis would
        # still count the request as invalid and expect it refused.
        return not query or all(v not in ([], {}, None) for v in query.values())

    headers = stack.auth("admin")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/auth/logout":
            continue  # it would end the session the other cases use
        operations += 1

        for mode in GenerationMode:

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body
            except Exception as exc:  # collect every operation's failure, not only the first
                failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {exc}")

        for name, case in _hostile_cases(operation):
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except Exception as exc:
                failures.append(f"{name} {operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 30
    assert failures == [], "\n\n".join(failures)


def test_stateful_fuzzing_follows_the_links_from_each_create(stack: Stack, served: str) -> None:
    """The stateful phase: schemathesis chains calls along the document's links (a create, then the
    operations on what it created), bounded so that it stays about a minute. Checked as above, but
    collected rather than stopping the run; and the links must lead somewhere: the run reaches
    (answers other than 404) operations on created records that plain generation cannot find."""
    from hypothesis import Phase
    from hypothesis.errors import FlakyStrategyDefinition
    from hypothesis.stateful import run_state_machine_as_test

    # Logging out would end the session the other steps use.
    schema = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json").exclude(path="/api/v1/auth/logout")
    headers = stack.auth("admin")
    failures: list[str] = []
    reached: set[str] = set()
    refused: set[str] = set()
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            label = f"{case.operation.method.upper()} {case.operation.path}"
            if response.status_code != 404 and "{" in case.operation.path:
                reached.add(label)
            if response.status_code == 400:
                refused.add(label)

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=checks)
            except Exception as exc:
                failures.append(f"{case.operation.method.upper()} {case.operation.path}: {exc}")

    # What the machine may do next depends on what the server answered (ids it created), so
    # Hypothesis sometimes finds a step's choices differ from an earlier run of the same prefix and
    # stops with FlakyStrategyDefinition: not a finding about the API. Such a run is started again
    # (a bounded number of times); every call of every run went through the checks above.
    for attempt in range(3):
        try:
            run_state_machine_as_test(
                Workflow,
                settings=settings(
                    max_examples=40,
                    stateful_step_count=8,
                    deadline=None,
                    derandomize=attempt == 0,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
            break
        except FlakyStrategyDefinition as exc:
            print(f"stateful run {attempt + 1} stopped by Hypothesis ({type(exc).__name__}); running again")
    print(f"stateful: {len(reached)} operations on records reached, {len(refused)} answered 400 at least once")
    # On a fresh stack the derandomized run reaches 5 operations on created records; after the
    # generated-input test above has filled the stack, 12 to 13. The floor holds for both; reaching
    # every operation needs body ids that point at real records (issue 16, still open).
    assert len(reached) >= 5, sorted(reached)
    assert failures == [], "\n\n".join(failures[:20])
