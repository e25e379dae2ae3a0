"""A 400's field errors carry a stable `code` per kind of mistake (with its `params`), beside the
English `message`, whether the gateway's request check or a service found the mistake, so that a
client words each one in its own language; the OpenAPI document lists the codes."""

from __future__ import annotations

from typing import Any

from crm_gateway.problems import FIELD_ERROR_CODES, violation_code

from .conftest import Stack


def _errors(res: Any) -> dict[str, dict[str, Any]]:
    assert res.status_code == 400, res.get_data(as_text=True)
    assert res.get_json()["code"] in ("validation_failed", "invalid_argument")  # the gateway's check, a service's
    return {e["field"]: e for e in res.get_json()["errors"]}


def test_the_request_check_names_each_kind_of_mistake_with_its_params(stack: Stack) -> None:
    body = {
        "name": "",
        "kind": "cooperative",
        "legal_name": "x" * 501,
        "segment_tags": ["t"] * 51,
        "tax_id": {"country_code": "Colombia", "value": "900"},
        "force_duplicate": "yes",
        "colour": "red",
    }
    errors = _errors(stack.http.post("/api/v1/clients", json=body, headers=stack.auth("ana")))
    assert errors["name"]["code"] == "required" and "params" not in errors["name"]
    assert errors["name"]["message"]  # the English text is still there, for people reading the API
    assert errors["kind"]["code"] == "invalid_choice"
    assert errors["kind"]["params"] == {"expected": ["company", "person"]}
    assert errors["legal_name"]["code"] == "too_long" and errors["legal_name"]["params"] == {"max_length": 500}
    assert errors["segment_tags"]["code"] == "too_many_items"
    assert errors["segment_tags"]["params"] == {"max_length": 50}
    assert errors["tax_id.country_code"]["code"] == "invalid_format"
    assert errors["force_duplicate"]["code"] == "invalid_type"
    assert errors["force_duplicate"]["params"] == {"expected": "boolean"}
    assert errors["colour"]["code"] == "unknown_field"
    missing = _errors(stack.http.post("/api/v1/clients", json={}, headers=stack.auth("ana")))
    assert missing["name"]["code"] == "required"


def test_a_services_violation_gets_its_code_too(stack: Stack) -> None:
    body = {"name": "Correo Malo SA", "email": "esto-no-es-un-correo", "phones": ["abc"]}
    errors = _errors(stack.http.post("/api/v1/clients", json=body, headers=stack.auth("ana")))
    assert errors["email"]["code"] == "invalid_email"
    assert "e-mail" in errors["email"]["message"]
    assert [e["code"] for field, e in errors.items() if field.startswith("phones")] == ["invalid_phone"]


def test_a_query_parameter_error_has_its_code(stack: Stack) -> None:
    errors = _errors_query(stack.http.get("/api/v1/clients?page_size=abc", headers=stack.auth("ana")))
    assert errors["page_size"]["code"] == "invalid_type"
    assert errors["page_size"]["params"] == {"expected": "integer"}


def _errors_query(res: Any) -> dict[str, dict[str, Any]]:
    assert res.status_code == 400 and res.get_json()["code"] == "invalid_query", res.get_data(as_text=True)
    return {e["field"]: e for e in res.get_json()["errors"]}


def test_service_descriptions_map_to_codes() -> None:
    assert violation_code("is required") == ("required", {})
    assert violation_code("a first or last name is required") == ("required", {})
    assert violation_code("must be at most 200 characters") == ("too_long", {"max_length": 200})
    assert violation_code("'x' is not a valid e-mail address: no @") == ("invalid_email", {})
    assert violation_code("'1' is not a valid phone number") == ("invalid_phone", {})
    assert violation_code("must be an ISO 3166-1 alpha-2 code such as CO") == ("invalid_country_code", {})
    assert violation_code("at most 10 phone numbers") == ("too_many_items", {"max_length": 10})
    assert violation_code("must be in the future") == ("invalid", {})


def test_the_openapi_document_describes_the_codes(stack: Stack) -> None:
    doc = stack.http.get("/api/v1/openapi.json").get_json()
    item = doc["components"]["schemas"]["Problem"]["properties"]["errors"]["items"]
    assert "code" in item["required"] and "params" in item["properties"]
    for code in FIELD_ERROR_CODES:
        assert f"`{code}`" in item["properties"]["code"]["description"]
