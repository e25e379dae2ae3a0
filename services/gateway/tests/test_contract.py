"""The HTTP contract as a client developer reads it: /api/v1/openapi.json checked against real
answers of the running services. Every enum value an answer carries is one its schema lists (and no
answer spells an enum as its protobuf name); every member the Problem schema documents appears in a
real problem; every list parameter an answer's description names is a parameter of that list; no
PATCH body declares a default; each create links to the operations on what it created; and the
report catalogue is served and agrees with what a run accepts; every rate is a fraction named
*_rate (the rule in info.description and in each rate field), and the document states the
constraints the gateway enforces. On SQLite and on PostgreSQL (when CRM_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import Stack, stack_on_both_databases

# A protobuf enum value name leaking into an answer ("ACTIVITY_KIND_CALL").
PROTO_ENUM_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
# List parameters a description may name.
LIST_PARAMETERS = ("include_total_size", "page_token", "page_size")


# The stack on SQLite, then on PostgreSQL (conftest).
stack = stack_on_both_databases


@pytest.fixture(scope="module")
def doc(stack: Stack) -> dict[str, Any]:
    res = stack.http.get("/api/v1/openapi.json")
    assert res.status_code == 200
    return res.get_json()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _enum_mismatches(doc: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> list[str]:
    """Every place in `value` where an enum-typed property holds a value its schema does not list."""
    schema = _resolve(doc, schema)
    out: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: {value!r} not in {schema['enum']}")
    for option in schema.get("anyOf", []):
        option = _resolve(doc, option)
        if value is not None and option.get("type") != "null":
            out += _enum_mismatches(doc, option, value, at)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                out += _enum_mismatches(doc, sub, value[name], f"{at}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += _enum_mismatches(doc, schema["items"], item, f"{at}[{i}]")
    return out


def _proto_names(value: Any, at: str = "") -> list[str]:
    if isinstance(value, str):
        return [f"{at}: {value}"] if PROTO_ENUM_NAME.match(value) else []
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _proto_names(v, f"{at}.{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _proto_names(v, f"{at}[{i}]")]
    return []


def _answer_schema(doc: dict[str, Any], path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    return doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def _seed(stack: Stack) -> dict[str, str]:
    """A client, a deal, a done call and a quote of the rep Beto's, through the API."""
    beto = stack.auth("beto")
    client = stack.http.post(
        "/api/v1/clients", json={"name": "Contrato S.A.S.", "force_duplicate": True}, headers=beto
    ).get_json()["id"]
    deal = stack.http.post("/api/v1/deals", json={"title": "Contrato", "client_id": client}, headers=beto)
    assert deal.status_code == 201, deal.get_json()
    call = stack.http.post(
        "/api/v1/activities",
        json={"kind": "call", "subject": "Llamada de contrato", "client_id": client, "status": "done"},
        headers=beto,
    )
    assert call.status_code == 201, call.get_json()
    return {"client": client, "deal": deal.get_json()["id"], "activity": call.get_json()["id"]}


def test_every_enum_in_real_answers_is_one_the_document_lists(stack: Stack, doc: dict[str, Any]) -> None:
    ids = _seed(stack)
    beto = stack.auth("beto")
    answers: list[tuple[str, Any]] = []
    for path in ("/api/v1/clients", "/api/v1/deals", "/api/v1/activities", "/api/v1/reports/catalogue"):
        res = stack.http.get(path, headers=beto)
        assert res.status_code == 200, (path, res.get_json())
        answers.append((path, res.get_json()))
    for path, record in (
        ("/api/v1/deals/{deal_id}", ids["deal"]),
        ("/api/v1/activities/{activity_id}", ids["activity"]),
    ):
        res = stack.http.get(path.replace(path[path.index("{") :], record), headers=beto)
        assert res.status_code == 200
        answers.append((path, res.get_json()))
    # The indicators name the kind of each activity done: once as ACTIVITY_KIND_CALL, now "call".
    start = datetime.now(ZoneInfo("America/Bogota")).date().replace(day=1).isoformat()
    deadline = time.monotonic() + 30
    indicators: dict[str, Any] = {}
    while time.monotonic() < deadline:
        res = stack.http.get("/api/v1/indicators", query_string={"period": "month", "start": start}, headers=beto)
        indicators = res.get_json()
        if indicators.get("activities_done"):
            break
        time.sleep(0.1)
    assert [(a["activity_kind"], a["done_count"]) for a in indicators["activities_done"]] == [("call", 1)]
    answers.append(("/api/v1/indicators", indicators))

    mismatches: list[str] = []
    for path, body in answers:
        mismatches += _enum_mismatches(doc, _answer_schema(doc, path), body, path)
        mismatches += _proto_names(body, path)
    assert mismatches == []
    kind = _resolve(doc, _resolve(doc, _answer_schema(doc, "/api/v1/indicators"))["properties"]["activities_done"])
    assert "call" in _resolve(doc, kind["items"])["properties"]["activity_kind"]["enum"]


def test_every_documented_problem_member_appears_in_a_real_problem(stack: Stack, doc: dict[str, Any]) -> None:
    members = set(doc["components"]["schemas"]["Problem"]["properties"])
    assert {"code", "errors", "existing_id", "field", "current"} <= members
    seen: set[str] = set()
    admin = stack.auth("admin")

    invalid = stack.http.post("/api/v1/clients", json={"name": ""}, headers=admin)
    assert invalid.status_code == 400
    body = invalid.get_json()
    assert body["code"] == "validation_failed" and body["errors"][0]["field"] == "name"
    seen |= set(body)

    email = f"contrato-{time.monotonic_ns()}@example.com"
    first = stack.http.post("/api/v1/clients", json={"name": "Duplicado S.A.", "email": email}, headers=admin)
    assert first.status_code == 201, first.get_json()
    again = stack.http.post("/api/v1/clients", json={"name": "Otro S.A.", "email": email}, headers=admin)
    assert again.status_code == 409
    body = again.get_json()
    assert body["code"] == "duplicate_client" and body["existing_id"] == first.get_json()["id"]
    assert body["field"] == "email"
    seen |= set(body)

    canvas = stack.http.post("/api/v1/canvases", json={"name": "Contrato"}, headers=admin)
    assert canvas.status_code == 201, canvas.get_json()
    canvas_id = canvas.get_json()["id"]
    note = stack.http.post(
        f"/api/v1/canvases/{canvas_id}/notes", json={"block": "channels", "text": "Ferias"}, headers=admin
    )
    assert note.status_code == 201, note.get_json()
    note_url = f"/api/v1/canvases/{canvas_id}/notes/{note.get_json()['id']}"
    version = note.get_json()["version"]
    moved = stack.http.patch(note_url, json={"text": "Ferias 2026", "expected_version": version}, headers=admin)
    assert moved.status_code == 200, moved.get_json()
    stale = stack.http.patch(note_url, json={"text": "Ferias 2027", "expected_version": version}, headers=admin)
    assert stale.status_code == 409, stale.get_json()
    body = stale.get_json()
    assert body["current"]["text"] == "Ferias 2026"
    seen |= set(body)

    assert members <= seen, members - seen
    # Each of these codes is listed by the operation that answered it.
    create_client = doc["paths"]["/api/v1/clients"]["post"]["responses"]
    assert "validation_failed" in create_client["400"]["x-problem-codes"]
    assert "duplicate_client" in doc["paths"]["/api/v1/clients"]["post"]["description"]


def test_every_list_parameter_an_answer_names_exists(doc: dict[str, Any]) -> None:
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = {p["name"] for p in op.get("parameters", [])}
            for status, answer in op["responses"].items():
                for media in answer.get("content", {}).values():
                    schema = _resolve(doc, media.get("schema", {}))
                    for prop in schema.get("properties", {}).values():
                        for name in LIST_PARAMETERS:
                            if name in prop.get("description", ""):
                                checked += 1
                                assert name in params, (method, path, status, name)
    assert checked > 10
    activities = {p["name"] for p in doc["paths"]["/api/v1/activities"]["get"]["parameters"]}
    answer = _resolve(doc, _answer_schema(doc, "/api/v1/activities"))
    assert ("total_size" in answer["properties"]) == ("include_total_size" in activities)


def test_no_patch_body_declares_a_default(doc: dict[str, Any]) -> None:
    patches = 0
    for path, ops in doc["paths"].items():
        if "patch" not in ops:
            continue
        patches += 1
        schema = _resolve(doc, ops["patch"]["requestBody"]["content"]["application/json"]["schema"])
        defaults = {n for n, p in schema["properties"].items() if "default" in p}
        assert defaults == set(), (path, defaults)
        assert "Omitted fields are unchanged" in schema["description"], path
    assert patches >= 15


def test_each_create_links_to_the_operations_on_what_it_created(doc: dict[str, Any]) -> None:
    operation_ids = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
    links = doc["paths"]["/api/v1/deals"]["post"]["responses"]["201"]["links"]
    assert {"deals_get_deal", "deals_update_deal", "deals_delete_deal", "deals_win_deal"} <= set(links)
    # The new id in the path, and the version the create answered as If-Match.
    assert links["deals_win_deal"]["parameters"] == {
        "path.deal_id": "$response.body#/id",
        "header.If-Match": "$response.header.ETag",
    }
    assert links["deals_get_deal"]["parameters"] == {"path.deal_id": "$response.body#/id"}
    # A create whose body refers to the new record: its id there, the other references the
    # answer holds beside it.
    assert links["quotes_create_quote"]["requestBody"] == {
        "deal_id": "$response.body#/id",
        "owner_id": "$response.body#/owner_id",
    }
    contact = doc["paths"]["/api/v1/contacts"]["post"]["responses"]["201"]["links"]
    assert contact["deals_create_deal"]["requestBody"] == {
        "client_id": "$response.body#/client_id",
        "contact_ids": ["$response.body#/id"],
        "owner_id": "$response.body#/owner_id",
    }
    product = doc["paths"]["/api/v1/products"]["post"]["responses"]["201"]["links"]
    assert product["quotes_create_quote"]["requestBody"] == {"lines": [{"product_id": "$response.body#/id"}]}
    # Adding a stage answers the pipeline: the stage's id is one of its stages'.
    stage = doc["paths"]["/api/v1/pipelines/{pipeline_id}/stages"]["post"]["responses"]["201"]["links"]
    assert stage["pipelines_update_stage"]["parameters"]["path.stage_id"] == "$response.body#/stages/0/id"
    # A list's first item leads to the operations on it, by the member its path names.
    revisions = doc["paths"]["/api/v1/canvases/{canvas_id}/revisions"]["get"]["responses"]["200"]["links"]
    assert revisions["canvases_get_revision"]["parameters"] == {
        "path.canvas_id": "$request.path.canvas_id",
        "path.number": "$response.body#/items/0/revision_number",
    }
    targets: set[str] = set()
    for ops in doc["paths"].values():
        for op in ops.values():
            for answer in op["responses"].values():
                for link in answer.get("links", {}).values():
                    assert link["operationId"] in operation_ids
                    targets.add(link["operationId"])
    # Every operation on a record (a path parameter) can be reached along a link.
    for path, ops in doc["paths"].items():
        for op in ops.values():
            if "{" in path:
                assert op["operationId"] in targets, path


def test_the_report_catalogue_is_served_and_agrees_with_runs(stack: Stack) -> None:
    ana = stack.auth("ana")
    res = stack.http.get("/api/v1/reports/catalogue", headers=ana)
    assert res.status_code == 200
    modules = {m["module"]: m for m in res.get_json()["modules"]}
    assert set(modules) == {
        "clients",
        "contacts",
        "prospects",
        "deals",
        "activities",
        "quotes",
        "products",
        "campaigns",
    }
    deals = {f["key"]: f for f in modules["deals"]["fields"]}
    assert deals["amount"] == {
        "key": "amount",
        "type": "money",
        "filterable": True,
        "groupable": False,
        "aggregatable": True,
        "date_buckets": [],
        "label_es": "Monto",
        "label_en": "Amount",
        "choices": [],
        "is_list": False,
    }
    assert deals["expected_close_date"]["date_buckets"] == ["none", "day", "week", "month", "quarter", "year"]
    assert deals["status"]["choices"] == ["open", "won", "lost"]
    assert modules["deals"]["label_en"] == "Deals"
    one = stack.http.get("/api/v1/reports/catalogue", query_string={"module": "deals"}, headers=ana).get_json()
    assert [m["module"] for m in one["modules"]] == ["deals"]
    assert stack.http.get("/api/v1/reports/catalogue?module=nope", headers=ana).status_code == 400
    # Whatever the catalogue offers, a run takes: every groupable field with each of its buckets,
    # every aggregatable one summed.
    for module, entry in modules.items():
        for f in entry["fields"]:
            for bucket in f["date_buckets"]:
                grouping = {"field": f["key"], "date_bucket": bucket}
                run = stack.http.post(
                    "/api/v1/reports:run", json={"module": module, "groupings": [grouping]}, headers=ana
                )
                assert run.status_code == 200, (module, grouping, run.get_json())
                column = run.get_json()["columns"][0]
                assert column["key"] == (f["key"] if bucket == "none" else f"{bucket}({f['key']})")
            if f["aggregatable"]:
                body = {
                    "module": module,
                    "groupings": [{"field": "owner_id"}] if module != "products" else [],
                    "aggregates": [{"function": "sum", "field": f["key"]}],
                }
                run = stack.http.post("/api/v1/reports:run", json=body, headers=ana)
                assert run.status_code == 200, (module, f["key"], run.get_json())


def _properties(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (schema, property, property schema) of the document's components."""
    out = []
    for name, schema in doc["components"]["schemas"].items():
        for prop, sub in schema.get("properties", {}).items():
            out.append((name, prop, sub))
    return out


def test_every_rate_is_a_fraction_named_rate(stack: Stack, doc: dict[str, Any]) -> None:
    rule = doc["info"]["description"]
    assert "`*_rate`" in rule and '"0.05" is 5 %' in rule
    names = {prop for _, prop, _ in _properties(doc)}
    assert not [n for n in names if "percent" in n], "a field named as a percentage"
    assert {"tax_rate", "discount_rate", "global_discount_rate"} <= names
    for schema, prop, sub in _properties(doc):
        if prop.endswith("_rate"):
            text = sub.get("description", "") + "".join(o.get("description", "") for o in sub.get("anyOf", []))
            assert '"0.19" is 19 %' in text, (schema, prop, sub)
    # A percentage is refused naming the field; a fraction is read exactly.
    admin = stack.auth("admin")
    body = {"sku": "RATE-1", "name": "Tasa", "kind": "service", "unit_price": {"amount": "10", "currency_code": "USD"}}
    percent = stack.http.post("/api/v1/products", json=body | {"tax_rate": "19"}, headers=admin)
    assert percent.status_code == 400 and percent.get_json()["errors"][0]["field"] == "tax_rate"
    assert "0.19 is 19 %" in percent.get_json()["errors"][0]["message"]
    product = stack.http.post("/api/v1/products", json=body | {"tax_rate": "0.19"}, headers=admin)
    assert product.status_code == 201 and product.get_json()["tax_rate"] == "0.19"


def test_the_document_states_the_constraints_the_gateway_enforces(doc: dict[str, Any]) -> None:
    """Ids, page tokens, If-Match, instants, currencies and rates carry their rule as a schema."""
    operation = doc["paths"]["/api/v1/quotes/{quote_id}"]["patch"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["If-Match"]["schema"]["pattern"]
    listing = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/clients"]["get"]["parameters"]}
    assert listing["page_token"]["pattern"] == "^[A-Za-z0-9_-]*$"
    assert any(o.get("pattern", "").startswith("^[0-9]{4}-") for o in listing["created_after"]["anyOf"])
    money = doc["components"]["schemas"]["MoneyIn"]["properties"]
    assert "COP" in money["currency_code"]["enum"] and "XAU" not in money["currency_code"]["enum"]
    line = doc["components"]["schemas"]["LineIn"]["properties"]
    assert line["discount_rate"]["pattern"] and line["quantity"]["pattern"]
