"""The gateway's thin path over HTTP (Flask test client) to a real contacts service over gRPC:
create and list clients; bad input gets a clear problem+json answer and writes nothing; an
unreachable service is a 503 that says so."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.contacts.v1 import events_pb2
from crm_contacts.bootstrap import SPEC
from crm_gateway.app import create_app
from crm_platform.nats_server import free_port
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events


@pytest.fixture
def contacts(start_service: Callable[..., ServiceRuntime], sqlite_url: str) -> ServiceRuntime:
    return start_service(SPEC, sqlite_url)


@pytest.fixture
def http(contacts: ServiceRuntime, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts.grpc_port}")
    return create_app(max_body_bytes=4096, services=["contacts"]).test_client()


def test_the_request_id_travels_from_the_gateway_into_the_event(http: FlaskClient, contacts: ServiceRuntime) -> None:
    res = http.post("/api/v1/clients", json={"name": "Traza SA", "owner_id": "u1"}, headers={"X-Request-Id": "trace-7"})
    assert res.status_code == 201 and res.headers["X-Request-Id"] == "trace-7"
    generated = http.get("/api/v1/clients")
    assert len(generated.headers["X-Request-Id"]) == 32  # none given: the gateway makes one
    assert contacts.db is not None
    with contacts.db.read() as s:
        row = s.execute(select(outbox_events.c.request_id, outbox_events.c.payload)).one()
    assert row.request_id == "trace-7"
    assert events_pb2.ClientCreated.FromString(row.payload).meta.request_id == "trace-7"


def _total(http: FlaskClient) -> int:
    return len(http.get("/api/v1/clients?page_size=500").get_json()["items"])


def test_create_then_get_and_list(http: FlaskClient) -> None:
    res = http.post(
        "/api/v1/clients",
        json={
            "name": "Café Ñandú",
            "owner_id": "u1",
            "email": "Hola@Example.com",
            "phones": ["+57 300 123 4567"],
            "address": {"city": "Medellín", "country_code": "CO"},
            "segment_tags": ["Retail"],
        },
        headers={"X-Request-Id": "req-abc"},
    )
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert res.headers["Location"] == f"/api/v1/clients/{body['id']}"
    assert res.headers["X-Request-Id"] == "req-abc"
    assert body["name"] == "Café Ñandú" and body["email"] == "hola@example.com"
    assert body["phones"] == ["+573001234567"] and body["kind"] == "company" and body["version"] == 1

    got = http.get(f"/api/v1/clients/{body['id']}")
    assert got.status_code == 200 and got.get_json() == body and got.headers["ETag"] == '"1"'
    listed = http.get("/api/v1/clients?segment_tag=retail").get_json()
    assert [c["id"] for c in listed["items"]] == [body["id"]] and listed["next_page_token"] == ""


def test_idempotency_key_makes_a_retried_post_create_one_client(http: FlaskClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    a = http.post("/api/v1/clients", json={"name": "Uno", "owner_id": "u1"}, headers=headers)
    b = http.post("/api/v1/clients", json={"name": "Uno", "owner_id": "u1"}, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] == b.get_json()["id"] and _total(http) == 1


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"owner_id": "u1"}, 400, "validation_failed", "name"),
        ({"name": "", "owner_id": "u1"}, 400, "validation_failed", "name"),
        ({"name": 42, "owner_id": "u1"}, 400, "validation_failed", "name"),
        ({"name": "A", "owner_id": "u1", "phones": "300"}, 400, "validation_failed", "phones"),
        ({"name": "A", "owner_id": "u1", "colour": "red"}, 400, "validation_failed", "colour"),
        ({"name": "A", "owner_id": "u1", "address": {"planet": "Mars"}}, 400, "validation_failed", "address.planet"),
        ({"name": "A", "owner_id": "u1", "email": "nope"}, 400, "invalid_argument", "email"),
        ({"name": "A", "owner_id": "u1", "phones": ["123"]}, 400, "invalid_argument", "phones[0]"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    http: FlaskClient, payload: dict[str, object], status: int, code: str, field: str
) -> None:
    res = http.post("/api/v1/clients", json=payload)
    assert res.status_code == status
    assert res.mimetype == "application/problem+json"
    body = res.get_json()
    assert body["code"] == code and body["status"] == status and body["request_id"]
    assert field in [e["field"] for e in body["errors"]], body
    assert _total(http) == 0


def test_malformed_oversized_and_wrongly_typed_bodies(http: FlaskClient) -> None:
    res = http.post("/api/v1/clients", data="{not json", content_type="application/json")
    assert res.status_code == 400 and res.get_json()["code"] == "malformed_json"
    res = http.post("/api/v1/clients", data="[1, 2]", content_type="application/json")
    assert res.status_code == 400 and res.get_json()["code"] == "malformed_json"
    res = http.post("/api/v1/clients", data="name=A", content_type="application/x-www-form-urlencoded")
    assert res.status_code == 415 and res.get_json()["code"] == "unsupported_media_type"
    res = http.post("/api/v1/clients", json={"name": "A" * 5000, "owner_id": "u1"})
    assert res.status_code == 413 and res.mimetype == "application/problem+json"
    assert res.get_json()["code"] == "body_too_large"
    assert _total(http) == 0


def test_unknown_ids_routes_and_query_parameters(http: FlaskClient) -> None:
    res = http.get("/api/v1/clients/0190f0e0-0000-7000-8000-000000000000")
    assert res.status_code == 404 and res.get_json()["code"] == "client_not_found"
    res = http.get("/api/v1/clients?page_size=-1")
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "page_size"
    res = http.get("/api/v1/clients?sort=name")
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "sort"
    res = http.get("/api/v1/clients?page_token=garbage")
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "page_token"
    res = http.get("/api/v1/nothing-here")
    assert res.status_code == 404 and res.mimetype == "application/problem+json"
    res = http.delete("/api/v1/clients")
    assert res.status_code == 405 and "POST" in res.headers["Allow"]


def test_readyz_and_metrics(http: FlaskClient) -> None:
    res = http.get("/readyz")
    assert res.status_code == 200 and res.get_json()["services"] == {"contacts": "SERVING"}
    http.get("/api/v1/clients")
    metrics = http.get("/metrics").get_data(as_text=True)
    assert 'crm_http_requests_total{method="GET",route="/api/v1/clients",status="200"}' in metrics


def test_an_unreachable_service_is_a_503_that_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{free_port()}")
    client = create_app(services=["contacts"]).test_client()
    res = client.post("/api/v1/clients", json={"name": "A", "owner_id": "u1"})
    assert res.status_code == 503
    body = res.get_json()
    assert body["code"] == "service_unavailable" and "contacts" in body["detail"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["services"]["contacts"] == "UNREACHABLE"
