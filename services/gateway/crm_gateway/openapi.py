"""The OpenAPI 3.1 document of the HTTP API, built from the route declarations (crm_gateway.routing)
and the pydantic models the gateway validates with; served at /api/v1/openapi.json, and shown by
Swagger UI at /api/docs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from crm_gateway.convert import ProtoJson, ProtoPage, message_schema
from crm_gateway.routing import ERROR_DESCRIPTIONS, REGISTRY, Operation, openapi_path

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457). `code` is stable: program against it, not the text.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "examples": ["validation_failed", "not_found", "invalid_token"]},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

HEADER_DOCS: dict[str, dict[str, Any]] = {
    "ETag": {"description": "The record's version; send it back in If-Match.", "schema": {"type": "string"}},
    "Location": {"description": "Where the new record is.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "X-Moved-Deal-Count": {"description": "How many deals moved to another stage.", "schema": {"type": "integer"}},
    "Idempotency-Key": {
        "description": "Makes a retried POST safe: the same key (per user) with the same request (method, path, "
        "query and body; JSON key order and spacing do not matter) returns the first answer and creates nothing "
        "more. The same key with a different request is refused with 422 `idempotency_key_reused`: use a new key "
        "for a new request.",
        "schema": {"type": "string", "maxLength": 100, "pattern": "^[\\x21-\\x7e]+$"},
    },
    "If-Match": {
        "description": 'Update only if the record is still at this version (the ETag, e.g. "3"); otherwise 412.',
        "schema": {"type": "string", "maxLength": 40},
    },
}


def _models(ops: list[Operation]) -> tuple[dict[tuple[Any, str], Any], dict[str, Any]]:
    """JSON schemas for every body, query and response model, with shared definitions."""
    wanted: list[tuple[Any, str]] = []
    for op in ops:
        for model, mode in ((op.body, "validation"), (op.query, "validation"), (op.response, "serialization")):
            if isinstance(model, type) and issubclass(model, BaseModel) and (model, mode) not in wanted:
                wanted.append((model, mode))
    mapping, top = models_json_schema(wanted, ref_template=REF)  # type: ignore[arg-type]
    return dict(mapping), dict(top.get("$defs", {}))


def _schema_of(response: Any, mapping: dict[tuple[Any, str], Any], defs: dict[str, Any]) -> dict[str, Any]:
    if isinstance(response, ProtoJson):
        return {"$ref": REF.format(model=message_schema(response.message.DESCRIPTOR, defs, REF))}
    if isinstance(response, ProtoPage):
        name = message_schema(response.message.DESCRIPTOR, defs, REF)
        page_name = f"{name}Page"
        defs[page_name] = {
            "type": "object",
            "required": ["items", "next_page_token"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": REF.format(model=name)}},
                "next_page_token": {
                    "type": "string",
                    "description": "Pass as page_token for the next page; empty at the end.",
                },
                "total_size": {
                    "type": "integer",
                    "description": "Every record matching the filters; only when include_total_size was asked.",
                },
            },
        }
        return {"$ref": REF.format(model=page_name)}
    if isinstance(response, type) and issubclass(response, BaseModel):
        return mapping[(response, "serialization")]
    schema = TypeAdapter(response).json_schema(ref_template=REF, mode="serialization")
    defs.update(schema.pop("$defs", {}))
    return schema


def _query_parameters(op: Operation, defs: dict[str, Any]) -> list[dict[str, Any]]:
    assert op.query is not None
    schema = op.query.model_json_schema(ref_template=REF)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        if prop.get("type") == "array":
            param["style"], param["explode"] = "form", True
        params.append(param)
    return params


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    ops = REGISTRY.operations
    mapping, defs = _models(ops)
    defs["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    for op in ops:
        path, names = openapi_path(op.rule)
        tags[op.tag] = None
        operation: dict[str, Any] = {
            "operationId": op.endpoint.replace(".", "_"),
            "tags": [op.tag],
            "summary": op.summary,
        }
        if op.description:
            operation["description"] = op.description
        params: list[dict[str, Any]] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[^/:]+$"}}
            for n in names
        ]
        if op.query is not None:
            params += _query_parameters(op, defs)
        for header in op.request_headers:
            params.append({"name": header, "in": "header", "required": False, **HEADER_DOCS[header]})
        if params:
            operation["parameters"] = params
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": mapping[(op.body, "validation")]}},
            }
        elif op.upload_types:
            operation["requestBody"] = {
                "required": True,
                "description": f"The file itself as the body (at most {op.max_body} bytes).",
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in op.upload_types},
            }
        success: dict[str, Any] = {"description": "Success."}
        media_types = (op.content_type,) if isinstance(op.content_type, str) else op.content_type
        if op.response is not None:
            success["content"] = {t: {"schema": _schema_of(op.response, mapping, defs)} for t in media_types}
        elif media_types != ("application/json",):
            success["content"] = {t: {"schema": {"type": "string"}} for t in media_types}
        if op.response_headers:
            success["headers"] = {h: HEADER_DOCS[h] for h in op.response_headers}
        responses: dict[str, Any] = {str(op.status): success}
        for code in op.errors:
            entry: dict[str, Any] = {
                "description": ERROR_DESCRIPTIONS[code],
                "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
            }
            if code == 429:
                entry["headers"] = {"Retry-After": HEADER_DOCS["Retry-After"]}
            responses[str(code)] = entry
        operation["responses"] = responses
        if op.access == "public":
            operation["security"] = []
        paths.setdefault(path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM platform API",
            "version": version,
            "description": (
                "The HTTP API of the CRM: clients, contacts, prospects, products, deals, activities, quotes, "
                "campaigns, budgets, reports, indicators, canvases, users and teams. Sign in with "
                "`POST /api/v1/auth/login` and send the access token as `Authorization: Bearer <token>`. "
                "Lists take `page_size` and `page_token` and answer `{items, next_page_token}`; errors are "
                "`application/problem+json` with a stable `code`."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (from /api/v1/auth/login) or an API token (crm_pat_...)",
                }
            },
        },
        "security": [{"bearerAuth": []}],
    }
