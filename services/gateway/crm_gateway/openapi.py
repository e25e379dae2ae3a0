"""The OpenAPI 3.1 document of the HTTP API, built from the route declarations (crm_gateway.routing)
and the pydantic models the gateway validates with; served at /api/v1/openapi.json, and shown by
Swagger UI at /api/docs."""

from __future__ import annotations

import re
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


def _target(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, or the shared definition it refers to."""
    return defs[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema


def _without_defaults(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    """A PATCH body's properties lose their defaults: pydantic shows the model's, but an omitted
    field is left as it is (views read only the fields sent), so a default would read as "omitting
    resets it"."""
    target = _target(schema, defs)
    for prop in target.get("properties", {}).values():
        prop.pop("default", None)
    description = target.get("description", "")
    if PATCH_RULE not in description:
        target["description"] = f"{description} {PATCH_RULE}".strip()


# Reference fields named for their role rather than for the record they name (`owner_id` names a
# user): the stem of the field's name → the record's. Every other `<record>_id` and `<record>_ids`
# names its record by its own name (`client_id`, `contact_ids`).
ROLE_STEMS = {
    "owner": "user",
    "manager": "user",
    "rep": "user",
    "assigned_rep": "user",
    "author": "user",
    "source_campaign": "campaign",
    "before_stage": "stage",
}
RESPONSE = "$response.body#"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _stem(name: str) -> str | None:
    """The record a parameter or field names: `client_id` → client, `contact_ids` → contact,
    `owner_id` → user; None for a name that names no record."""
    match = re.fullmatch(r"(\w+?)_ids?", name)
    if match is None:
        return None
    return ROLE_STEMS.get(match.group(1), match.group(1))


class _Links:
    """Derives the document's links from its paths and schemas alone (see `_add_links`)."""

    def __init__(self, paths: dict[str, dict[str, Any]], defs: dict[str, Any]):
        self.paths = paths
        self.defs = defs

    def resolve(self, schema: Any) -> dict[str, Any]:
        """A schema with its $ref followed and a nullable `anyOf [X, null]` read as X."""
        while isinstance(schema, dict):
            if "$ref" in schema:
                schema = self.defs.get(schema["$ref"].rsplit("/", 1)[1], {})
            elif "anyOf" in schema:
                options = [s for s in schema["anyOf"] if s.get("type") != "null"]
                if len(options) != 1:
                    return {}
                schema = options[0]
            else:
                return schema
        return {}

    def answer(self, operation: dict[str, Any], status: str) -> tuple[str, dict[str, Any]]:
        """The name (its schema's, snake_case) and the resolved schema of a JSON success answer."""
        schema = operation["responses"][status].get("content", {}).get("application/json", {}).get("schema", {})
        name = _snake(schema["$ref"].rsplit("/", 1)[1]) if "$ref" in schema else ""
        return name, self.resolve(schema)

    def has_id(self, schema: Any) -> bool:
        return "id" in self.resolve(schema).get("properties", {})

    def item_parameter(self, path: str, names: list[str]) -> str | None:
        """The path parameter that names one record of a collection (`/clients` → `client_id`)."""
        for other in self.paths:
            match = re.match(re.escape(path) + r"/\{(\w+)\}", other)
            if match is not None and len(re.findall(r"\{(\w+)\}", other)) > len(names):
                return match.group(1)
        return None

    def record(self, path: str, names: list[str], answer: tuple[str, dict[str, Any]]) -> tuple[str, str] | None:
        """What a create made, as (the record's stem, the pointer to its id in the answer): the
        record whose operations sit under the create's path (`/clients` → `/clients/{client_id}`),
        else the answer's own record, else the one record the answer holds (`{canvas: {...}}`).
        The id is the answer's `id` when the answer is that record, else the record's own member,
        else the first of its list (adding a stage answers the pipeline: `/stages/0/id`)."""
        item = self.item_parameter(path, names)
        stem = (_stem(item) or item) if item else None
        name, schema = answer
        properties = schema.get("properties", {})
        if stem is None:
            if "id" in properties:
                stem = name
            else:
                held = [k for k, v in properties.items() if self.has_id(v)]
                stem = held[0] if len(held) == 1 else None
        if stem is None:
            return None
        if name == stem and "id" in properties:
            return stem, "/id"
        if stem in properties and self.has_id(properties[stem]):
            return stem, f"/{stem}/id"
        listed = self.resolve(properties.get(f"{stem}s", {}))
        if listed.get("type") == "array" and self.has_id(listed.get("items", {})):
            return stem, f"/{stem}s/0/id"
        if "id" in properties:
            return stem, "/id"
        return None

    def value(self, name: str, array: bool, source: dict[str, Any], in_path: bool = False) -> Any:
        """The expression that fills a reference named `name` from a source answer, or None: the
        source's own path parameter, the created (or listed) record's id, a member of the answer
        (or item) of that name (a new contact's `client_id`), or the first of the answer's list of
        that record (a new pipeline's `stages/0/id` for a `stage_id`)."""
        if in_path and name in source["path_names"]:
            return f"$request.path.{name}"
        stem = _stem(name)
        if stem is None and not in_path:
            return None  # a body field that names no record is left to the client
        if stem is not None and stem == source["stem"]:
            expression = RESPONSE + source["pointer"]
            return [expression] if array else expression
        fields: dict[str, str] = source["fields"]
        if name in fields:
            kind = self.resolve(source["schema"]["properties"][fields[name]]).get("type")
            wanted = ("array",) if array else ("string", "integer") if in_path else ("string",)
            if kind in wanted:
                return RESPONSE + source["root"] + f"/{fields[name]}"
        listed = self.resolve(source["schema"].get("properties", {}).get(f"{stem}s", {})) if stem else {}
        if listed.get("type") == "array" and self.has_id(listed.get("items", {})):
            expression = RESPONSE + source["root"] + f"/{stem}s/0/id"
            return [expression] if array else expression
        return None

    def body(self, schema: Any, source: dict[str, Any], depth: int = 0) -> tuple[dict[str, Any], bool]:
        """The link's requestBody for a body schema: every reference field the source can fill,
        in nested objects and in the first item of a list of objects too; and whether one of them
        is the created record itself."""
        out: dict[str, Any] = {}
        own = False
        for name, prop in self.resolve(schema).get("properties", {}).items():
            prop = self.resolve(prop)
            kind = prop.get("type")
            item = self.resolve(prop.get("items", {})) if kind == "array" else {}
            if kind == "string" or (kind == "array" and item.get("type") == "string"):
                value = self.value(name, kind == "array", source)
                if value is not None:
                    out[name] = value
                    own = own or _stem(name) == source["stem"]
                continue
            nested = item if item.get("type") == "object" else prop if kind == "object" else None
            if nested is not None and depth < 2:
                inner, inner_own = self.body(nested, source, depth + 1)
                if inner:
                    out[name] = [inner] if nested is item else inner
                    own = own or inner_own
        return out, own

    def link(self, target: dict[str, Any], target_names: list[str], source: dict[str, Any]) -> dict[str, Any] | None:
        """The link from a source answer to a target operation: when every path parameter of the
        target can be filled and the created record is among them or in the target's body."""
        parameters: dict[str, str] = {}
        own = False
        for name in target_names:
            value = self.value(name, False, source, in_path=True)
            if not isinstance(value, str):
                return None
            parameters[f"path.{name}"] = value
            # A list's item fills its operations' path from any of its members (`{number}`).
            own = own or value == RESPONSE + source["pointer"] or (not source["bodies"] and value.startswith(RESPONSE))
        takes_version = any(p["in"] == "header" and p["name"] == "If-Match" for p in target.get("parameters", []))
        if own and takes_version and source["etag"]:
            # The record's version as the create answered it: a change may name it in If-Match.
            parameters["header.If-Match"] = "$response.header.ETag"
        link: dict[str, Any] = {"operationId": target["operationId"], "parameters": parameters}
        schema = target.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema is not None and source["bodies"]:
            body, body_own = self.body(schema, source)
            if body:
                link["requestBody"] = body
            own = own or body_own
        return link if own else None


def _add_links(paths: dict[str, dict[str, Any]], defs: dict[str, Any]) -> None:
    """OpenAPI links, derived from the document itself, so that a client (or a stateful fuzzer)
    can go from a record it created or listed to everything that takes that record's id:

    - each create's 201 answer links to the operations on what it created (its id in their path,
      the ETag it answered as their If-Match), and to the operations whose body refers to it (a
      new client's id as a contact's or a deal's `client_id`, a new user's as an `owner_id`, a
      new product's as a line's `product_id`), the body's other references filled from the
      answer where it holds them (a new contact's `client_id` and `owner_id` go with its id into
      a deal);
    - each list's answer links from its first item to the operations on that item."""
    builder = _Links(paths, defs)
    for path, operations in paths.items():
        names = re.findall(r"\{(\w+)\}", path)
        for method, operation in operations.items():
            status = "201" if method == "post" and "201" in operation["responses"] else "200"
            if (method, status) not in (("post", "201"), ("get", "200")) or status not in operation["responses"]:
                continue
            name, schema = builder.answer(operation, status)
            if method == "get":
                # A list: its first item stands for the record, for the operations under the list.
                items = builder.resolve(schema.get("properties", {}).get("items", {}))
                item = builder.resolve(items.get("items", {}))
                if items.get("type") != "array" or not item.get("properties") or ":" in path:
                    continue
                parameter = builder.item_parameter(path, names)
                if parameter is None:
                    continue
                stem = _stem(parameter) or parameter
                # A path parameter is read from the item's member of that name, or of a name that
                # ends with it (`revision_number` for `{number}`).
                fields = {n.split("_", 1)[1]: n for n in item["properties"] if "_" in n}
                fields.update({n: n for n in item["properties"]})
                source = {
                    "stem": stem,
                    "pointer": "/items/0/id",
                    "root": "/items/0",
                    "schema": item,
                    "fields": fields,
                    "etag": False,
                    "path_names": names,
                    "bodies": False,
                }
                targets = [(p, ops) for p, ops in paths.items() if p.startswith(f"{path}/{{")]
            else:
                found = builder.record(path, names, (name, schema))
                if found is None:
                    continue
                stem, pointer = found
                source = {
                    "stem": stem,
                    "pointer": pointer,
                    "root": "",
                    "schema": schema,
                    "fields": {n: n for n in schema.get("properties", {})},
                    "etag": "ETag" in operation["responses"][status].get("headers", {}),
                    "path_names": names,
                    "bodies": True,
                }
                targets = list(paths.items())
            links: dict[str, Any] = {}
            for target_path, target_ops in targets:
                target_names = re.findall(r"\{(\w+)\}", target_path)
                for target in target_ops.values():
                    if target is operation:
                        continue
                    link = builder.link(target, target_names, source)
                    if link is not None:
                        links[target["operationId"]] = link
            if links:
                operation["responses"][status]["links"] = links


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
                if any("empty_update" in codes for codes in operation_codes(op).values()):
                    # A change that names no field is refused (400 `empty_update`).
                    _target(body_schema, defs)["minProperties"] = 1
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
    _add_links(paths, defs)
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
                "**Links**: each create's 201 answer links to the operations on what it created (its `id` in "
                "their path, its ETag as If-Match) and to the operations whose body refers to it (a new client's "
                "`id` as a contact's or a deal's `client_id`, a new user's as an `owner_id`); each list's answer "
                "links from its first item to the operations on that item."
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
