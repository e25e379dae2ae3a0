"""The public webhooks with the providers' documented sample payloads: a Google Ads lead form
webhook and an RD Station conversion become prospects of the campaign; a wrong secret (or an
unknown campaign) is 401, a payload of another shape 400 naming the problem, a replay creates no
second prospect; and a mailing's unsubscribe link."""

from __future__ import annotations

import copy
from typing import Any

from .conftest import Stack

# Google Ads lead form webhook, as its documentation shows it (Google Ads API, lead form assets).
GOOGLE_SAMPLE: dict[str, Any] = {
    "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
    "user_column_data": [
        {"column_name": "Full Name", "string_value": "FirstName LastName", "column_id": "FULL_NAME"},
        {"column_name": "User Phone", "string_value": "+16505550123", "column_id": "PHONE_NUMBER"},
        {"column_name": "User Email", "string_value": "test@example.com", "column_id": "EMAIL"},
        {"column_name": "Company Name", "string_value": "CompanyName", "column_id": "COMPANY_NAME"},
        {"column_name": "City", "string_value": "Mountain View", "column_id": "CITY"},
    ],
    "api_version": "1.0",
    "form_id": 40000000000,
    "campaign_id": 20000000000,
    "google_key": "",
    "is_test": True,
    "gcl_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
    "adgroup_id": 20000000000,
    "creative_id": 22222222222,
}

# RD Station Marketing conversion webhook, as its documentation shows it.
RD_SAMPLE: dict[str, Any] = {
    "leads": [
        {
            "id": "1",
            "email": "email@email.com",
            "name": "Fernando Mendes",
            "company": "Empresa Teste",
            "job_title": "Analista",
            "bio": "Biografia",
            "public_url": "http://rdstation.com.br/leads/public/807029ca-2c3c-4bdf-85ab-cf5d4b1d9bc4",
            "created_at": "2012-06-04T15:31:35-03:00",
            "opportunity": "false",
            "number_conversions": "3",
            "user": "email@user.com",
            "first_conversion": {
                "content": {"identificador": "ebook-abc", "nome": "Nome", "email_lead": "email@email.com"},
                "created_at": "2012-06-04T15:31:35-03:00",
                "cumulative_sum": "1",
                "source": "source 1",
                "conversion_origin": {
                    "source": "source 1",
                    "medium": "medium 1",
                    "value": None,
                    "campaign": "campaign 1",
                    "channel": "channel 1",
                },
            },
            "last_conversion": {
                "content": {"identificador": "webinar-abc", "email_lead": "email@email.com"},
                "created_at": "2012-06-04T15:31:35-03:00",
                "cumulative_sum": "2",
                "source": "source 2",
            },
            "custom_fields": {},
            "website": "http://www.rdstation.com.br",
            "personal_phone": "+55 48 3037-3600",
            "mobile_phone": "+55 48 99999-9999",
            "city": "Florianópolis",
            "state": "SC",
            "lead_stage": "Lead",
            "tags": ["tag 1", "tag 2"],
            "fit_score": "d",
            "interest": 0,
        }
    ]
}


def _ads_campaign(stack: Stack, name: str) -> dict[str, Any]:
    res = stack.http.post("/api/v1/campaigns", json={"name": name, "type": "social_ads"}, headers=stack.auth("ana"))
    assert res.status_code == 201, res.get_json()
    c = res.get_json()
    launched = stack.http.post(f"/api/v1/campaigns/{c['id']}:launch", json={}, headers=stack.auth("ana"))
    assert launched.status_code == 200, launched.get_json()
    return dict(c)


def _prospects(stack: Stack, campaign_id: str) -> list[dict[str, Any]]:
    items = stack.http.get("/api/v1/prospects?page_size=500", headers=stack.auth("admin")).get_json()["items"]
    return [p for p in items if p["source_campaign_id"] == campaign_id]


def test_google_ads_lead_form(stack: Stack) -> None:
    c = _ads_campaign(stack, "Google Ads")
    url = f"/api/v1/webhooks/google-ads/{c['id']}"
    payload = copy.deepcopy(GOOGLE_SAMPLE)
    payload["google_key"] = c["webhook_secret"]
    res = stack.http.post(url, json=payload)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["created"] == 1
    (p,) = _prospects(stack, c["id"])
    assert (p["first_name"], p["last_name"], p["email"], p["company_name"], p["source"]) == (
        "FirstName",
        "LastName",
        "test@example.com",
        "CompanyName",
        "ads",
    )
    assert p["owner_id"] == stack.id("ana")
    replay = stack.http.post(url, json=payload)
    assert replay.status_code == 200 and replay.get_json() == {"created": 0, "duplicates": 1, "errors": []}
    assert len(_prospects(stack, c["id"])) == 1

    wrong = dict(payload, google_key="not-the-secret")
    assert stack.http.post(url, json=wrong).status_code == 401
    unknown = stack.http.post("/api/v1/webhooks/google-ads/0192d6e0-0000-7000-8000-000000000000", json=payload)
    assert unknown.status_code == 401
    malformed = {k: v for k, v in payload.items() if k != "user_column_data"}
    res = stack.http.post(url, json=malformed)
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "user_column_data"
    res = stack.http.post(url, data="not json", headers={"Content-Type": "application/json"})
    assert res.status_code == 400
    assert len(_prospects(stack, c["id"])) == 1


def test_rd_station_conversion(stack: Stack) -> None:
    c = _ads_campaign(stack, "RD Station")
    url = f"/api/v1/webhooks/rd-station/{c['id']}"
    res = stack.http.post(f"{url}?secret={c['webhook_secret']}", json=RD_SAMPLE)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["created"] == 1
    (p,) = _prospects(stack, c["id"])
    assert (p["first_name"], p["last_name"], p["email"], p["company_name"], p["source"]) == (
        "Fernando",
        "Mendes",
        "email@email.com",
        "Empresa Teste",
        "rd_station",
    )
    replay = stack.http.post(url, json=RD_SAMPLE, headers={"X-CRM-Webhook-Secret": c["webhook_secret"]})
    assert replay.status_code == 200 and replay.get_json()["duplicates"] == 1
    assert len(_prospects(stack, c["id"])) == 1
    assert stack.http.post(f"{url}?secret=wrong", json=RD_SAMPLE).status_code == 401
    assert stack.http.post(url, json=RD_SAMPLE).status_code == 401
    res = stack.http.post(f"{url}?secret={c['webhook_secret']}", json={"lead": []})
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "leads"
    bad = {"leads": [{"name": "", "email": "no-es-correo"}]}
    res = stack.http.post(f"{url}?secret={c['webhook_secret']}", json=bad)
    assert res.status_code == 400 and "leads[0]" in res.get_json()["detail"]
    assert len(_prospects(stack, c["id"])) == 1


def test_unsubscribe_link_refuses_a_forged_token(stack: Stack) -> None:
    res = stack.http.get("/api/v1/unsubscribe?token=0192d6e0-0000-7000-8000-000000000000.forged")
    assert res.status_code == 400
    assert stack.http.get("/api/v1/unsubscribe").status_code == 400


def test_mailchimp_audience_webhook(stack: Stack) -> None:
    client = stack.http.post(
        "/api/v1/clients",
        json={
            "name": "Suscriptora SAS",
            "email": "suscrita@example.com",
            "segment_tags": ["mc-hook"],
            "force_duplicate": True,
        },
        headers=stack.auth("ana"),
    )
    assert client.status_code == 201, client.get_json()
    res = stack.http.post(
        "/api/v1/campaigns",
        json={"name": "Boletín MC", "type": "mailing", "target": {"kind": "clients", "segment_tags": ["mc-hook"]}},
        headers=stack.auth("ana"),
    )
    c = res.get_json()
    assert stack.http.post(f"/api/v1/campaigns/{c['id']}:launch", json={}, headers=stack.auth("ana")).status_code == 200
    url = f"/api/v1/webhooks/mailchimp/{c['id']}?secret={c['webhook_secret']}"
    assert stack.http.get(url).status_code == 200  # Mailchimp's check of the URL
    form = {
        "type": "unsubscribe",
        "fired_at": "2026-03-02 10:00:00",
        "data[email]": "suscrita@example.com",
        "data[list_id]": "a6b5da1054",
    }
    res = stack.http.post(url, data=form)
    assert res.status_code == 200 and res.get_json() == {"recorded": True}
    assert stack.http.post(url, data=form).status_code == 200  # a redelivery changes nothing
    members = stack.http.get(f"/api/v1/campaigns/{c['id']}/members", headers=stack.auth("ana")).get_json()["items"]
    assert [m["status"] for m in members] == ["unsubscribed"]
    results = stack.http.get(f"/api/v1/campaigns/{c['id']}/results", headers=stack.auth("ana")).get_json()
    assert results["unsubscribes"] == 1
    other = dict(form, **{"data[email]": "otra@example.com"})
    assert stack.http.post(url, data=other).get_json() == {"recorded": False}
    assert stack.http.post(f"/api/v1/webhooks/mailchimp/{c['id']}?secret=wrong", data=form).status_code == 401
    assert stack.http.post(url, data={"fired_at": "x"}).status_code == 400
