"""The OpenAPI 3.1 document of the HTTP API, built from the route declarations (crm_gateway.routing)
and the pydantic models the gateway validates with; served at /api/v1/openapi.json, and shown by
Swagger UI at /api/docs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue, models_json_schema

from crm_gateway.convert import ProtoJson, ProtoPage, message_schema
from crm_gateway.problem_codes import operation_codes
from crm_gateway.problems import FIELD_ERROR_CODES
from crm_gateway.routing import ERROR_DESCRIPTIONS, REGISTRY, Operation, openapi_path

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457). `code` is stable: program against it, not the text. Each operation's "
    "responses list the codes it may answer (`x-problem-codes`). Besides the members below, a problem may carry "
    "others that its code documents.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "description": "https://crm.example/problems/<code>."},
        "title": {"type": "string", "description": "The status in words."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "code": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]*$",
            "description": "What went wrong, as a stable snake_case word.",
            "examples": ["validation_failed", "not_found", "invalid_token", "duplicate_client"],
        },
        "detail": {"type": "string", "description": "What went wrong, for a person (not for programs)."},
        "request_id": {"type": "string", "description": "The request's id, as in X-Request-Id and the logs."},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field (400): `field` is its path in the request as the body or "
            "query names it, with array indexes in brackets (`lines[2].quantity`, `amount.currency_code`); `code` "
            "is the kind of mistake, stable, for a client to word in its own language (`message` is English, for "
            "a person reading the API's answer), with its `params`.",
            "items": {
                "type": "object",
                "required": ["field", "message", "code"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {
                        "type": "string",
                        "pattern": "^[a-z][a-z0-9_]*$",
                        "description": "One of (more may be added; show `message` for a code you do not know): "
                        + "; ".join(f"`{c}`: {meaning}" for c, meaning in FIELD_ERROR_CODES.items())
                        + ".",
                        "examples": ["required", "too_long", "invalid_email"],
                    },
                    "params": {
                        "type": "object",
                        "description": "The limits the code names (`min_length`, `max_length`, `min`, `max`, "
                        "`greater_than`, `less_than`, `expected`); absent when it names none.",
                        "additionalProperties": True,
                    },
                },
            },
        },
        "existing_id": {
            "type": "string",
            "description": "A duplicate (409 `duplicate_client`, `duplicate_contact`, `duplicate_prospect`, "
            "`duplicate_sku`, `user_exists` ...): the id of the record that already has the value.",
        },
        "field": {
            "type": "string",
            "description": "A duplicate: the field whose value is taken (`email`, `phone`, `tax_id`, `sku`).",
        },
        "current": {
            "description": "A conflicting change (409 on a canvas note): the record as it is now, to merge with "
            "and retry; null when it is gone.",
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
        "schema": {"type": "string", "maxLength": 40, "pattern": '^(\\*|(W/)?"[0-9]{1,18}")$'},
    },
}


# The JSON schema of each model an operation reads (validation) or answers (serialization).
ModelSchemas = dict[tuple[type[BaseModel], JsonSchemaMode], JsonSchemaValue]


def _models(ops: list[Operation]) -> tuple[ModelSchemas, dict[str, Any]]:
    """JSON schemas for every body, query and response model, with shared definitions."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for op in ops:
        uses: tuple[tuple[Any, JsonSchemaMode], ...] = (
            (op.body, "validation"),
            (op.query, "validation"),
            (op.response, "serialization"),
        )
        for model, mode in uses:
            if isinstance(model, type) and issubclass(model, BaseModel) and (model, mode) not in wanted:
                wanted.append((model, mode))
    mapping, top = models_json_schema(wanted, ref_template=REF)
    return {key: mapping[key] for key in wanted}, dict(top.get("$defs", {}))


def _counts(op: Operation) -> bool:
    """Whether a list takes include_total_size (and so can answer total_size)."""
    return op.query is not None and "include_total_size" in op.query.model_fields


def _schema_of(op: Operation, mapping: ModelSchemas, defs: dict[str, Any]) -> dict[str, Any]:
    response = op.response
    if isinstance(response, ProtoJson):
        return {"$ref": REF.format(model=message_schema(response.message.DESCRIPTOR, defs, REF))}
    if isinstance(response, ProtoPage):
        name = message_schema(response.message.DESCRIPTOR, defs, REF)
        # Only a list whose service can count takes include_total_size and answers total_size.
        page_name = f"{name}CountedPage" if _counts(op) else f"{name}Page"
        properties: dict[str, Any] = {
            "items": {"type": "array", "items": {"$ref": REF.format(model=name)}},
            "next_page_token": {
                "type": "string",
                "description": "Pass as page_token for the next page; empty at the end.",
            },
        }
        if _counts(op):
            properties["total_size"] = {
                "type": "integer",
                "description": "Every record matching the filters; only when include_total_size was asked.",
            }
        defs[page_name] = {"type": "object", "required": ["items", "next_page_token"], "properties": properties}
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


PATCH_RULE = "Omitted fields are unchanged: a PATCH changes only the fields it names, and declares no defaults."


def _without_defaults(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    """A PATCH body's properties lose their defaults: pydantic shows the model's, but an omitted
    field is left as it is (views read only the fields sent), so a default would read as "omitting
    resets it"."""
    target = defs[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
    for prop in target.get("properties", {}).values():
        prop.pop("default", None)
    description = target.get("description", "")
    if PATCH_RULE not in description:
        target["description"] = f"{description} {PATCH_RULE}".strip()


def _creates_id(op: Operation) -> bool:
    response = op.response
    if isinstance(response, ProtoJson):
        return "id" in response.message.DESCRIPTOR.fields_by_name
    return isinstance(response, type) and issubclass(response, BaseModel) and "id" in response.model_fields


def _add_links(ops: list[Operation], paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links from each create to every operation on what it created (get, patch, delete,
    its actions and sub-collections): the new id is the answer's `id`, the parent ids are the
    create's own path parameters. A client (or a stateful fuzzer) follows them from a create."""
    for create in ops:
        if create.method != "POST" or create.status != 201 or not _creates_id(create):
            continue
        base, base_names = openapi_path(create.rule)
        links: dict[str, Any] = {}
        for target in ops:
            path, names = openapi_path(target.rule)
            if len(names) != len(base_names) + 1 or names[: len(base_names)] != base_names:
                continue
            if not path.startswith(f"{base}/{{{names[-1]}}}"):
                continue
            parameters = {f"path.{n}": f"$request.path.{n}" for n in base_names}
            parameters[f"path.{names[-1]}"] = "$response.body#/id"
            op_id = target.endpoint.replace(".", "_")
            links[op_id] = {"operationId": op_id, "parameters": parameters}
        if links:
            paths[base]["post"]["responses"]["201"]["links"] = links


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
            body_schema = mapping[(op.body, "validation")]
            if op.method == "PATCH":
                _without_defaults(body_schema, defs)
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
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
            success["content"] = {t: {"schema": _schema_of(op, mapping, defs)} for t in media_types}
        elif media_types != ("application/json",):
            success["content"] = {t: {"schema": {"type": "string"}} for t in media_types}
        if op.response_headers:
            success["headers"] = {h: HEADER_DOCS[h] for h in op.response_headers}
        responses: dict[str, Any] = {str(op.status): success}
        problem_codes = operation_codes(op)
        for code in sorted(set(op.errors) | set(problem_codes)):
            codes = problem_codes.get(code, [])
            listed = f" Codes: {', '.join(f'`{c}`' for c in codes)}." if codes else ""
            entry: dict[str, Any] = {
                "description": ERROR_DESCRIPTIONS[code] + listed,
                "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
            }
            if codes:
                entry["x-problem-codes"] = codes
            if code == 429:
                entry["headers"] = {"Retry-After": HEADER_DOCS["Retry-After"]}
            responses[str(code)] = entry
        operation["responses"] = responses
        if op.access == "public":
            operation["security"] = []
        paths.setdefault(path, {})[op.method.lower()] = operation
    _add_links(ops, paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM platform API",
            "version": version,
            "description": (
                "The HTTP API of the CRM: clients, contacts, prospects, products, deals, activities, quotes, "
                "campaigns, budgets, reports, indicators, canvases, users and teams. Sign in with "
                "`POST /api/v1/auth/login` and send the access token as `Authorization: Bearer <token>`. "
                "Lists take `page_size` and `page_token` and answer `{items, next_page_token}` (and `total_size` "
                "where the list takes `include_total_size`); errors are `application/problem+json` with a stable "
                "`code` (see the Problem schema; each response lists its codes).\n\n"
                "**Enums** are lower-case words (`call`, `won`, `draft`) in every request and answer; an unset "
                "value is null.\n\n"
                '**Money** is `{amount, currency_code}` with the amount as a decimal string ("1250000.50", never a '
                "JSON number) and an ISO 4217 code of a currency in use today.\n\n"
                "**Rates**: every rate is a decimal fraction as a string, in requests and answers alike, and its "
                'field is named `*_rate`: "0.19" is 19 %, "0.05" is 5 %, "1" is 100 % (`tax_rate`, a quote\'s '
                "`discount_rate` and `global_discount_rate`, the indicators' `win_rate` ...; `attainment` and "
                "`roi` are fractions too). No field holds a percentage from 0 to 100, except a deal's "
                "`probability`, a whole percentage. (A quote's PDF prints rates as percentages: 5 %.)\n\n"
                "**PATCH** changes only the fields it names: an omitted field is unchanged, and no PATCH body "
                "declares defaults.\n\n"
                "**Links**: each create's 201 answer links to the operations on what it created."
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
