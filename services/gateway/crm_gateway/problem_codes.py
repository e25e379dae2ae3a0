"""The problem `code`s each operation can answer, per HTTP status, generated from the route
declarations (crm_gateway.routing) for the OpenAPI document: the codes every route of its kind
shares (a body, an If-Match, an Idempotency-Key, a signed-in caller, a service behind it), the
codes of the services' refusals the gateway passes on for a record it names, and the codes its view
raises itself (read from the view's source and the gateway helpers it calls, so that no route
lists them by hand)."""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from collections import defaultdict
from types import ModuleType

from crm_gateway.access import singular
from crm_gateway.routing import Operation

# Gateway modules whose helpers views call by attribute (Collection.create, access checks).
_SHARED_MODULES = ("crm_gateway.owned", "crm_gateway.access", "crm_gateway.api")


@functools.cache
def _functions(module_name: str) -> dict[str, ast.FunctionDef]:
    module: ModuleType | None = sys.modules.get(module_name)
    if module is None:
        return {}
    tree = ast.parse(inspect.getsource(module))
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def raised_codes(operation: Operation) -> dict[int, set[str]]:
    """The (status, code) pairs of every `ProblemError(<status>, "<code>", ...)` the view raises,
    directly or through functions of its module and of the shared gateway modules it calls."""
    out: dict[int, set[str]] = defaultdict(set)
    if operation.view is None:
        return out
    own = _functions(operation.view.__module__)
    shared = [_functions(m) for m in _SHARED_MODULES]
    seen: set[str] = set()
    todo = [operation.view.__name__]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        fn = own.get(name) or next((m[name] for m in shared if name in m), None)
        if fn is None:
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            called = _called_name(node)
            if called == "ProblemError" and len(node.args) >= 2:
                status, code = node.args[0], node.args[1]
                if (
                    isinstance(status, ast.Constant)
                    and isinstance(status.value, int)
                    and isinstance(code, ast.Constant)
                    and isinstance(code.value, str)
                ):
                    out[status.value].add(code.value)
            elif called == "not_found" and node.args and isinstance(node.args[0], ast.Constant):
                out[404].add(f"{singular(str(node.args[0].value))}_not_found")
            elif called is not None:
                todo.append(called)
    return out


def _record_kind(operation: Operation) -> str | None:
    """The collection whose record a path names: /api/v1/deals/<id:deal_id>:win → deals."""
    parts = operation.rule.split("/")
    if len(parts) > 4 and parts[1:3] == ["api", "v1"] and parts[4].startswith("<"):
        return parts[3]
    return None


def operation_codes(operation: Operation) -> dict[int, list[str]]:
    """Every problem code the operation may answer, by status: the shared ones of the statuses it
    declares, and every one its view raises (a status raised but not declared is added)."""
    codes: dict[int, set[str]] = defaultdict(set)
    codes[400] |= {"invalid_query"}  # an unknown or invalid query parameter, on every route
    if "<" in operation.rule:
        codes[400].add("invalid_path")
    if operation.body is not None:
        codes[400] |= {"validation_failed", "malformed_json", "json_too_deep"}
        codes[415].add("unsupported_media_type")
    if operation.body is not None or operation.upload_types:
        codes[413].add("body_too_large")
    if operation.access == "user":
        codes[401] |= {"missing_token", "invalid_token"}
        codes[403] |= {"forbidden", "password_change_required"}
    if "If-Match" in operation.request_headers:
        codes[400].add("invalid_if_match")
        codes[412].add("precondition_failed")
        codes[409].add("version_mismatch")
    if "Idempotency-Key" in operation.request_headers:
        codes[400].add("invalid_idempotency_key")
        codes[422].add("idempotency_key_reused")
    kind = _record_kind(operation)
    if kind is not None and 404 in operation.errors:
        codes[404].add(f"{singular(kind)}_not_found")
    codes[503].add("service_unavailable")
    codes[504].add("upstream_timeout")
    codes = defaultdict(set, {s: c for s, c in codes.items() if s in operation.errors})
    for status, raised in raised_codes(operation).items():
        codes[status] |= raised
    return {status: sorted(found) for status, found in sorted(codes.items())}
