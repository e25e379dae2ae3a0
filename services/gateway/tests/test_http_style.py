"""One HTTP style for every resource: Idempotency-Key on POST, ETag/If-Match on PATCH, request
ids, CORS, problem+json errors that name the field and change nothing, body limits, metrics."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_contacts.adapters.tables import clients

from .conftest import Stack


def _clients_in_db(stack: Stack) -> int:
    assert stack.contacts.db is not None
    with stack.contacts.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(clients)) or 0)


def test_the_same_post_with_the_same_key_creates_one_record(stack: Stack) -> None:
    before = _clients_in_db(stack)
    body = {"name": "Idempotente SA", "email": "idem@cliente.example"}
    headers = {**stack.auth("ana"), "Idempotency-Key": "alta-cliente-1"}
    a = stack.http.post("/api/v1/clients", json=body, headers=headers)
    b = stack.http.post("/api/v1/clients", json=body, headers=headers)
    assert a.status_code == b.status_code == 201 and a.get_json()["id"] == b.get_json()["id"]
    assert _clients_in_db(stack) == before + 1
    # Keys are per user: the same key from someone else is another request (here a duplicate client).
    c = stack.http.post(
        "/api/v1/clients", json=body, headers={**stack.auth("beto"), "Idempotency-Key": "alta-cliente-1"}
    )
    assert c.status_code == 409 and c.get_json()["existing_id"] == a.get_json()["id"]
    bad = stack.http.post("/api/v1/clients", json=body, headers={**stack.auth("ana"), "Idempotency-Key": "ñ" * 3})
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_idempotency_key"
    assert _clients_in_db(stack) == before + 1


def test_if_match_guards_updates(stack: Stack) -> None:
    made = stack.http.post("/api/v1/clients", json={"name": "Versionado SA"}, headers=stack.auth("ana"))
    client_id, etag = made.get_json()["id"], made.headers["ETag"]
    assert etag == '"1"'
    ok = stack.http.patch(
        f"/api/v1/clients/{client_id}", json={"industry": "Textil"}, headers={**stack.auth("ana"), "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = stack.http.patch(
        f"/api/v1/clients/{client_id}", json={"industry": "Otra"}, headers={**stack.auth("ana"), "If-Match": etag}
    )
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition_failed"
    junk = stack.http.patch(
        f"/api/v1/clients/{client_id}", json={"industry": "Otra"}, headers={**stack.auth("ana"), "If-Match": "v2"}
    )
    assert junk.status_code == 400 and junk.get_json()["code"] == "invalid_if_match"
    got = stack.http.get(f"/api/v1/clients/{client_id}", headers=stack.auth("ana"))
    assert got.get_json()["industry"] == "Textil" and got.headers["ETag"] == '"2"'


def test_bad_input_names_the_field_and_changes_nothing(stack: Stack) -> None:
    before = _clients_in_db(stack)
    cases = [
        ({"name": ""}, "name"),
        ({"name": "X", "email": "no-es-correo"}, "email"),
        ({"name": "X", "phones": ["12"]}, "phones[0]"),
        ({"name": "X", "kind": "planet"}, "kind"),
        ({"name": "X", "address": {"city": "Cali", "planet": "Tierra"}}, "address.planet"),
        ({"name": 7}, "name"),
    ]
    for body, field in cases:
        res = stack.http.post("/api/v1/clients", json=body, headers=stack.auth("ana"))
        assert res.status_code == 400, body
        assert res.mimetype == "application/problem+json"
        problem = res.get_json()
        assert {"type", "title", "status", "code", "detail", "request_id"} <= set(problem)
        assert field in [e["field"] for e in problem["errors"]], (body, problem)
    raw = stack.http.post("/api/v1/clients", data="{", content_type="application/json", headers=stack.auth("ana"))
    assert raw.status_code == 400 and raw.get_json()["code"] == "malformed_json"
    text = stack.http.post("/api/v1/clients", data="name=x", headers=stack.auth("ana"))
    assert text.status_code == 415
    big = stack.http.post("/api/v1/clients", json={"name": "x" * 20_000}, headers=stack.auth("ana"))
    assert big.status_code == 413 and big.get_json()["code"] == "body_too_large"
    query = stack.http.get("/api/v1/clients?colour=red", headers=stack.auth("ana"))
    assert query.status_code == 400 and query.get_json()["errors"][0]["field"] == "colour"
    assert _clients_in_db(stack) == before


def test_request_ids_and_cors(stack: Stack) -> None:
    res = stack.http.get("/api/v1/clients", headers={**stack.auth("ana"), "X-Request-Id": "req-42"})
    assert res.headers["X-Request-Id"] == "req-42"
    preflight = stack.http.options(
        "/api/v1/clients",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    elsewhere = stack.http.get("/api/v1/clients", headers={**stack.auth("ana"), "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


def test_metrics_count_requests_by_route_and_status(stack: Stack) -> None:
    stack.http.get("/api/v1/clients/0192d6e0-0000-7000-8000-000000000000", headers=stack.auth("ana"))
    stack.http.get("/api/v1/clients")
    text = stack.http.get("/metrics").get_data(as_text=True)
    assert 'crm_http_requests_total{method="GET",route="/api/v1/clients/<id:client_id>",status="404"}' in text
    assert "crm_http_request_duration_seconds_bucket" in text
    assert 'crm_http_auth_failures_total{code="missing_token"}' in text
    # Not from another address.
    far = stack.http.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert far.status_code == 404
