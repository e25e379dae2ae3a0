"""`crm demo-data`: loads the demo company (crm_platform.demo.plan) through the gateway's public
HTTP API, as any integrator would, never a service's gRPC or database. Idempotent: every record is
looked up by its natural key first (user and contact e-mail, client tax id, product SKU, deal
title, the quote of a deal, campaign external id, canvas name, budget owner and period, an
activity's kind, subject, record and owner) and only what is missing is created; records whose
state lags the plan (a deal still open that should be won, a quote still a draft that should be
sent) are moved on, so a run that was interrupted finishes the job. The bulk imports carry the
clients, contacts and products; the rest goes a record at a time over a small pool of threads."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from crm_platform.demo.plan import CURRENCY, DEMO_PASSWORD, LOST, OPEN_STAGES, QUOTE_TERMS, WON, Plan, build

API = "/api/v1"
# Statuses the gateway answers when it is only busy or a peer restarts: worth a few more tries.
RETRIABLE = (429, 502, 503, 504)


class DemoError(Exception):
    """A call the gateway refused; the message names the call and the problem's fields."""


@dataclass
class Api:
    base: str
    workers: int = 8
    timeout: float = 60.0
    token: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.workers)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def call(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(5):
            res = self.session.request(method, self.base + path, headers=headers, timeout=self.timeout, **kwargs)
            if res.status_code not in RETRIABLE or attempt == 4:
                break
            time.sleep(float(res.headers.get("Retry-After") or 0.5 * 2**attempt))
        if res.status_code in ok:
            return res.json() if res.content else None
        raise DemoError(f"{method} {path}: {describe(res)}")

    def list_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self.call("GET", f"{API}/{path}", params={**params, "page_size": 1000, "page_token": token})
            items += page["items"]
            token = page.get("next_page_token", "")
            if not token:
                return items


def describe(res: requests.Response) -> str:
    try:
        body = res.json()
    except ValueError:
        return f"{res.status_code} {res.text[:300]}"
    errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or [])
    return f"{res.status_code} {body.get('code', '')}: {body.get('detail', '')}" + (f" ({errors})" if errors else "")


@dataclass
class Tally:
    """What this run created and what was there already, per kind of record; and what failed."""

    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, created: int = 0, existing: int = 0) -> None:
        with self.lock:
            self.created[kind] = self.created.get(kind, 0) + created
            self.existing[kind] = self.existing.get(kind, 0) + existing

    def fail(self, text: str) -> None:
        with self.lock:
            self.failures.append(text)


def _csv(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _money(amount: Any) -> dict[str, str]:
    return {"amount": str(amount), "currency_code": CURRENCY}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class Loader:
    def __init__(self, api: Api, plan: Plan, log: Callable[[str], None] = print):
        self.api, self.plan, self.log = api, plan, log
        self.tally = Tally()
        self.users: dict[str, str] = {}  # plan key -> user id
        self.teams: dict[str, str] = {}
        self.products: dict[str, str] = {}  # sku -> id
        self.clients: list[str] = []  # plan index -> id
        self.contacts: list[str] = []
        self.prospects: list[str] = []
        self.campaigns: dict[str, dict[str, Any]] = {}  # plan key -> campaign
        self.deals: list[dict[str, Any]] = []
        self.stages: dict[str, str] = {}  # stage name -> id (default pipeline)
        self.pipeline_id = ""

    # Runs fn over items on the pool; a failing item is recorded, the others go on.
    def _each(self, what: str, items: Iterable[Any], fn: Callable[[Any], None]) -> None:
        def guarded(item: Any) -> None:
            try:
                fn(item)
            except (DemoError, requests.RequestException) as exc:
                self.tally.fail(f"{what}: {exc}")

        with ThreadPoolExecutor(max_workers=self.api.workers) as pool:
            list(pool.map(guarded, items))

    def run(self) -> Tally:
        steps = (
            self.load_team,
            self.load_products,
            self.load_clients,
            self.load_contacts,
            self.load_campaigns,
            self.load_prospects,
            self.load_deals,
            self.load_quotes,
            self.close_deals,
            self.load_activities,
            self.run_campaigns,
            self.load_budgets,
            self.load_canvases,
        )
        for step in steps:
            started = time.monotonic()
            step()
            self.log(f"  {step.__name__.replace('_', ' ')}: {time.monotonic() - started:.1f}s")
        return self.tally

    # --- People ----------------------------------------------------------------------------

    def load_team(self) -> None:
        users = {u["email"]: u for u in self.api.list_all("users", include_inactive="true")}
        teams = {t["name"]: t for t in self.api.list_all("teams")}

        def user(spec: dict[str, Any]) -> None:
            found = users.get(spec["email"])
            if found:
                self.tally.add("users", existing=1)
            else:
                body = {
                    "email": spec["email"],
                    "display_name": spec["display_name"],
                    "role": spec["role"],
                    "password": DEMO_PASSWORD,
                    "time_zone": "America/Bogota",
                    "locale": "es-CO",
                }
                if spec["team"]:
                    body["team_id"] = self.teams[spec["team"]]
                found = self.api.call("POST", f"{API}/users", json=body)
                self.tally.add("users", created=1)
            self.users[spec["key"]] = found["id"]

        for spec in self.plan.users:
            if spec["role"] == "manager":
                user(spec)
        for team in self.plan.teams:
            found = teams.get(team["name"])
            if found:
                self.tally.add("teams", existing=1)
            else:
                found = self.api.call(
                    "POST", f"{API}/teams", json={"name": team["name"], "manager_id": self.users[team["manager"]]}
                )
                self.tally.add("teams", created=1)
            self.teams[team["key"]] = found["id"]
        for spec in self.plan.users:
            if spec["role"] != "manager":
                user(spec)

    # --- Catalogue and companies (bulk imports) ---------------------------------------------

    def _import(self, kind: str, path: str, body: bytes, **params: str) -> None:
        report = self.api.call("POST", f"{API}/{path}", params=params, data=body, headers={"Content-Type": "text/csv"})
        self.tally.add(kind, created=report["created"], existing=report["duplicates"])
        for problem in report["problems"][:20]:
            self.tally.fail(f"{kind} import row {problem['row']}: {problem['field']}: {problem['message']}")

    def load_products(self) -> None:
        known = {p["sku"] for p in self.api.list_all("products", include_inactive="true")}
        missing = [p for p in self.plan.products if p["sku"] not in known]
        self.tally.add("products", existing=len(self.plan.products) - len(missing))
        if missing:
            header = ["sku", "nombre", "descripcion", "tipo", "unidad", "precio", "moneda", "iva"]
            rows = [
                [
                    p["sku"],
                    p["name"],
                    p["description"],
                    p["kind"],
                    p["unit_of_measure"],
                    p["unit_price"],
                    CURRENCY,
                    p["tax_rate"],
                ]
                for p in missing
            ]
            self._import("products", "products:import", _csv(header, rows))
        self.products = {p["sku"]: p["id"] for p in self.api.list_all("products", include_inactive="true")}

    def _clients_by_tax_id(self) -> dict[tuple[str, str], str]:
        return {
            (c["tax_id"]["country_code"], c["tax_id"]["value"]): c["id"]
            for c in self.api.list_all("clients", include_archived="true")
            if c.get("tax_id")
        }

    def load_clients(self) -> None:
        known = self._clients_by_tax_id()
        missing = [c for c in self.plan.clients if (c["country"], c["tax_id"]) not in known]
        self.tally.add("clients", existing=len(self.plan.clients) - len(missing))
        if missing:
            header = [
                "name",
                "legal_name",
                "kind",
                "tax_id",
                "tax_country",
                "industry",
                "segment_tags",
                "email",
                "phone",
                "website",
                "street",
                "city",
                "region",
                "country",
                "owner_id",
                "source",
            ]
            rows = [
                [
                    c["name"],
                    c["legal_name"],
                    c["kind"],
                    c["tax_id"],
                    c["country"],
                    c["industry"],
                    ";".join(c["segment_tags"]),
                    c["email"],
                    c["phone"],
                    c["website"],
                    c["street"],
                    c["city"],
                    c["region"],
                    c["country"],
                    self.users[c["owner"]],
                    "Datos de demostración",
                ]
                for c in missing
            ]
            self._import("clients", "clients:import", _csv(header, rows))
            known = self._clients_by_tax_id()
        self.clients = [known.get((c["country"], c["tax_id"]), "") for c in self.plan.clients]

    def load_contacts(self) -> None:
        known = {c["email"]: c["id"] for c in self.api.list_all("contacts", include_archived="true")}
        missing = [c for c in self.plan.contacts if c["email"] not in known and self.clients[c["client"]]]
        self.tally.add("contacts", existing=len(self.plan.contacts) - len(missing))
        if missing:
            header = [
                "first_name",
                "last_name",
                "job_title",
                "email",
                "phone",
                "decision_role",
                "primary",
                "owner_id",
                "client_id",
            ]
            rows = [
                [
                    c["first_name"],
                    c["last_name"],
                    c["job_title"],
                    c["email"],
                    c["phone"],
                    c["decision_role"],
                    "si" if c["primary"] else "no",
                    self.users[c["owner"]],
                    self.clients[c["client"]],
                ]
                for c in missing
            ]
            self._import("contacts", "contacts:import", _csv(header, rows))
            known = {c["email"]: c["id"] for c in self.api.list_all("contacts", include_archived="true")}
        self.contacts = [known.get(c["email"], "") for c in self.plan.contacts]

    # --- Campaigns and prospects ------------------------------------------------------------

    def load_campaigns(self) -> None:
        known = {c["external_id"]: c for c in self.api.list_all("campaigns") if c.get("external_id")}

        def one(spec: dict[str, Any]) -> None:
            external_id = f"demo-{spec['key']}"
            found = known.get(external_id)
            if found:
                self.tally.add("campaigns", existing=1)
            else:
                body: dict[str, Any] = {
                    "name": spec["name"],
                    "type": spec["type"],
                    "owner_id": self.users[spec["owner"]],
                    "budget": _money(spec["budget"]),
                    "start_date": spec["start"].isoformat(),
                    "end_date": spec["end"].isoformat() if spec["end"] else None,
                    "description": spec["description"],
                    "external_id": external_id,
                }
                if "target" in spec:
                    body["target"] = spec["target"]
                if "mailing" in spec:
                    body["mailing"] = spec["mailing"]
                found = self.api.call("POST", f"{API}/campaigns", json=body)
                self.tally.add("campaigns", created=1)
            self.campaigns[spec["key"]] = found

        self._each("campaign", self.plan.campaigns, one)

    def load_prospects(self) -> None:
        known = {p["email"]: p for p in self.api.list_all("prospects", include_archived="true")}
        self.prospects = [""] * len(self.plan.prospects)

        def one(index: int) -> None:
            spec = self.plan.prospects[index]
            found = known.get(spec["email"])
            if found:
                self.tally.add("prospects", existing=1)
            else:
                campaign = self.campaigns.get(spec["campaign"]) if spec["campaign"] else None
                body = {
                    "company_name": spec["company_name"],
                    "first_name": spec["first_name"],
                    "last_name": spec["last_name"],
                    "job_title": spec["job_title"],
                    "email": spec["email"],
                    "phones": [spec["phone"]],
                    "tax_id": {"country_code": spec["tax_country"], "value": spec["tax_id"]},
                    "industry": spec["industry"],
                    "address": {"city": spec["city"], "region": spec["region"], "country_code": spec["country"]},
                    "source": spec["source"],
                    "owner_id": self.users[spec["owner"]],
                }
                if campaign:
                    body["source_campaign_id"] = campaign["id"]
                found = self.api.call("POST", f"{API}/prospects", json=body)
                self.tally.add("prospects", created=1)
            self.prospects[index] = found["id"]
            self._advance_prospect(found, spec)

        self._each("prospect", range(len(self.plan.prospects)), one)

    def _advance_prospect(self, prospect: dict[str, Any], spec: dict[str, Any]) -> None:
        """new → contacted → qualified → converted, or → disqualified with a reason."""
        path = {
            "new": [],
            "contacted": ["contacted"],
            "qualified": ["contacted", "qualified"],
            "converted": ["contacted", "qualified", "converted"],
            "disqualified": ["contacted", "disqualified"],
        }
        steps = path[spec["status"]]
        current = prospect["status"]
        if current == spec["status"] or current == "converted" or current not in ("new", *steps):
            return
        for status in steps[steps.index(current) + 1 if current in steps else 0 :]:
            pid = prospect["id"]
            if status == "converted":
                self.api.call("POST", f"{API}/prospects/{pid}:convert", json={"reuse_matching_client": True})
            else:
                body = {"status": status}
                if status == "disqualified":
                    body["disqualified_reason"] = spec["disqualified_reason"]
                self.api.call("PATCH", f"{API}/prospects/{pid}", json=body)

    # --- Deals and quotes -------------------------------------------------------------------

    def load_deals(self) -> None:
        pipelines = self.api.list_all("pipelines")
        default = next(p for p in pipelines if p["is_default"])
        self.pipeline_id = default["id"]
        self.stages = {s["name"]: s["id"] for s in default["stages"]}
        missing_stages = [n for n in (*OPEN_STAGES, WON, LOST) if n not in self.stages]
        if missing_stages:
            raise DemoError(f"the default pipeline has no stage {', '.join(missing_stages)} (was it renamed?)")
        known = {d["title"]: d for d in self.api.list_all("deals")}
        self.deals = [{}] * len(self.plan.deals)

        def one(index: int) -> None:
            spec = self.plan.deals[index]
            found = known.get(spec["title"])
            if found:
                self.tally.add("deals", existing=1)
            elif not self.clients[spec["client"]]:
                raise DemoError(f"deal '{spec['title']}': its client was not created")
            else:
                # Won and lost deals pass through Negociación first, as a real one would.
                stage = spec["stage"] if spec["stage"] in OPEN_STAGES else OPEN_STAGES[-1]
                body: dict[str, Any] = {
                    "title": spec["title"],
                    "client_id": self.clients[spec["client"]],
                    "contact_ids": [self.contacts[k] for k in spec["contacts"] if self.contacts[k]],
                    "line_items": [{"product_id": self.products[sku], "quantity": str(q)} for sku, q in spec["lines"]],
                    "amount": _money(spec["amount"]),
                    "owner_id": self.users[spec["owner"]],
                    "pipeline_id": self.pipeline_id,
                    "stage_id": self.stages[stage],
                    "expected_close_date": spec["expected_close_date"].isoformat(),
                }
                if spec["campaign"] and spec["campaign"] in self.campaigns:
                    body["source_campaign_id"] = self.campaigns[spec["campaign"]]["id"]
                found = self.api.call("POST", f"{API}/deals", json=body)
                self.tally.add("deals", created=1)
            if (
                found["status"] == "open"
                and spec["stage"] in OPEN_STAGES
                and found["stage_id"] != self.stages[spec["stage"]]
            ):
                found = self.api.call(
                    "POST", f"{API}/deals/{found['id']}:move", json={"stage_id": self.stages[spec["stage"]]}
                )
            self.deals[index] = found

        self._each("deal", range(len(self.plan.deals)), one)

    def load_quotes(self) -> None:
        known = {q["deal_id"]: q for q in self.api.list_all("quotes", include_superseded="true")}
        order = ("draft", "sent", "accepted", "rejected")

        def one(spec: dict[str, Any]) -> None:
            deal = self.deals[spec["deal"]]
            if not deal:
                raise DemoError(f"quote of deal '{self.plan.deals[spec['deal']]['title']}': the deal was not created")
            quote = known.get(deal["id"])
            if quote:
                self.tally.add("quotes", existing=1)
            else:
                body = {
                    "deal_id": deal["id"],
                    "owner_id": self.users[spec["owner"]],
                    "currency_code": CURRENCY,
                    "lines": [
                        {"product_id": self.products[sku], "quantity": str(q), "discount_rate": disc}
                        for sku, q, disc in spec["lines"]
                    ],
                    "valid_until": spec["valid_until"].isoformat(),
                    "terms": QUOTE_TERMS,
                    "notes": "Incluye instalación y puesta en marcha en la sede principal.",
                }
                contact_ids = deal.get("contact_ids") or []
                if contact_ids:
                    body["contact_id"] = contact_ids[0]
                quote = self.api.call("POST", f"{API}/quotes", json=body)
                self.tally.add("quotes", created=1)
            if quote["status"] not in order or order.index(quote["status"]) >= order.index(spec["status"]):
                return
            if quote["status"] == "draft" and spec["status"] != "draft":
                quote = self.api.call("POST", f"{API}/quotes/{quote['id']}:send", json={})
            if spec["status"] == "accepted":
                self.api.call("POST", f"{API}/quotes/{quote['id']}:accept", json={})
            elif spec["status"] == "rejected":
                self.api.call("POST", f"{API}/quotes/{quote['id']}:reject", json={"reason": spec["reject_reason"]})

        self._each("quote", self.plan.quotes, one)

    def close_deals(self) -> None:
        """Won and lost deals closed (an accepted quote may have won its deal already: both fine)."""

        def one(index: int) -> None:
            spec, deal = self.plan.deals[index], self.deals[index]
            if not deal or spec["status"] == "open" or deal["status"] == spec["status"]:
                return
            current = self.api.call("GET", f"{API}/deals/{deal['id']}")
            if current["status"] != "open":
                self.deals[index] = current
                return
            if spec["status"] == "won":
                res = self.api.call("POST", f"{API}/deals/{deal['id']}:win", json={}, ok=(200, 409))
            else:
                res = self.api.call(
                    "POST", f"{API}/deals/{deal['id']}:lose", json={"reason": spec["lost_reason"]}, ok=(200, 409)
                )
            # 409: an accepted quote's event closed it meanwhile; the deal as it is now either way.
            self.deals[index] = res if res.get("id") else self.api.call("GET", f"{API}/deals/{deal['id']}")

        self._each("deal closing", range(len(self.plan.deals)), one)

    # --- Activities -------------------------------------------------------------------------

    def _activity_target(self, spec: dict[str, Any]) -> tuple[str, str]:
        if spec["target_kind"] == "deal":
            return "deal_id", (self.deals[spec["target"]] or {}).get("id", "")
        if spec["target_kind"] == "prospect":
            return "prospect_id", self.prospects[spec["target"]]
        return "client_id", self.clients[spec["target"]]

    def load_activities(self) -> None:
        known = {
            (a["kind"], a["subject"], a["deal_id"] or a["client_id"] or a["prospect_id"], a["owner_id"])
            for a in self.api.list_all("activities")
            if not a["campaign_id"]
        }

        def one(spec: dict[str, Any]) -> None:
            field_name, target_id = self._activity_target(spec)
            if not target_id:
                raise DemoError(f"activity '{spec['subject']}': its {field_name[:-3]} was not created")
            owner = self.users[spec["owner"]]
            if (spec["kind"], spec["subject"], target_id, owner) in known:
                self.tally.add("activities", existing=1)
                return
            body: dict[str, Any] = {
                "kind": spec["kind"],
                "subject": spec["subject"],
                field_name: target_id,
                "owner_id": owner,
                "due_time": _iso(spec["due_time"]),
                "status": spec["status"],
            }
            if spec["duration_seconds"]:
                body["duration_seconds"] = spec["duration_seconds"]
            if spec["status"] == "done":
                body.update(done_time=_iso(spec["done_time"]), outcome=spec["outcome"])
            self.api.call("POST", f"{API}/activities", json=body)
            self.tally.add("activities", created=1)

        self._each("activity", self.plan.activities, one)

    # --- Campaign life: launch, leads, calls, spend -----------------------------------------

    def run_campaigns(self) -> None:
        def one(spec: dict[str, Any]) -> None:
            campaign = self.campaigns.get(spec["key"])
            if not campaign or not spec.get("launch"):
                return
            cid = campaign["id"]
            if campaign["status"] == "draft":
                body: dict[str, Any] = {"rep_ids": [self.users[r] for r in spec.get("call_reps", ())]}
                campaign = self.api.call("POST", f"{API}/campaigns/{cid}:launch", json=body)["campaign"]
                self.tally.add("campaign launches", created=1)
            if campaign["status"] not in ("running", "scheduled"):  # completed by an earlier run: all in
                self.tally.add("campaign leads", existing=len(spec.get("lead_list", ())))
                self.tally.add("campaign spend entries", existing=len(spec.get("spend", ())))
                return
            for lead in spec.get("lead_list", ()):
                res = self.api.call("POST", f"{API}/campaigns/{cid}/leads", json={"lead": lead})
                self.tally.add("campaign leads", created=int(res["created"]), existing=int(not res["created"]))
            if spec.get("calls"):
                members = self.api.list_all(f"campaigns/{cid}/members")
                called = sum(1 for m in members if m["call_count"])
                self.tally.add("telemarketing calls", existing=min(called, len(spec["calls"])))
                waiting = [m for m in members if not m["call_count"]]
                for outcome, member in zip(spec["calls"][called:], waiting, strict=False):
                    body = {"outcome": outcome, "notes": "Llamada del guion de telemercadeo"}
                    if outcome == "call_back":
                        body["call_back_time"] = _iso(datetime.now().astimezone() + timedelta(days=2))
                    self.api.call("POST", f"{API}/campaigns/{cid}/members/{member['id']}:call", json=body)
                    self.tally.add("telemarketing calls", created=1)
            if spec.get("spend") and not float(((campaign.get("cost") or {}).get("amount")) or 0):
                for day, amount, description in spec["spend"]:
                    body = {"spend_date": day.isoformat(), "amount": _money(amount), "description": description}
                    self.api.call("POST", f"{API}/campaigns/{cid}/spend", json=body)
                    self.tally.add("campaign spend entries", created=1)
            elif spec.get("spend"):
                self.tally.add("campaign spend entries", existing=len(spec["spend"]))
            if spec.get("complete"):
                self.api.call("POST", f"{API}/campaigns/{cid}:complete", json={})

        self._each("campaign", self.plan.campaigns, one)

    # --- Budgets and canvases ---------------------------------------------------------------

    def load_budgets(self) -> None:
        year = self.plan.today.year
        known = {
            (b["user_id"], b["period_start"])
            for b in self.api.list_all(
                "budgets",
                period_kind="month",
                period_start_from=date(year, 1, 1).isoformat(),
                period_start_to=date(year, 12, 1).isoformat(),
            )
        }

        def one(spec: dict[str, Any]) -> None:
            user_id = self.users[spec["owner"]]
            if (user_id, spec["period_start"].isoformat()) in known:
                self.tally.add("budgets", existing=1)
                return
            body = {
                "user_id": user_id,
                "period_kind": "month",
                "period_start": spec["period_start"].isoformat(),
                "target": _money(spec["amount"]),
            }
            self.api.call("POST", f"{API}/budgets", json=body)
            self.tally.add("budgets", created=1)

        self._each("budget", self.plan.budgets, one)

    def load_canvases(self) -> None:
        known = {c["name"] for c in self.api.list_all("canvases", include_archived="true")}

        def link(kind: str, key: str) -> dict[str, str] | None:
            targets: dict[str, Callable[[], str]] = {
                "product": lambda: self.products.get(key, ""),
                "client_segment": lambda: key,
                "campaign": lambda: (self.campaigns.get(key) or {}).get("id", ""),
            }
            target = targets[kind]()
            return {"kind": kind, "target_id": target} if target else None

        def one(spec: dict[str, Any]) -> None:
            if spec["name"] in known:
                self.tally.add("canvases", existing=1)
                return
            notes = []
            for order, (block, text, links) in enumerate(spec["notes"]):
                resolved = [x for x in (link(k, t) for k, t in links) if x]
                notes.append({"block": block, "text": text, "order": order, "links": resolved})
            body = {
                "name": spec["name"],
                "description": spec["description"],
                "owner_id": self.users[spec["owner"]],
                "status": spec["status"],
                "notes": notes,
            }
            self.api.call("POST", f"{API}/canvases", json=body)
            self.tally.add("canvases", created=1)

        self._each("canvas", self.plan.canvases, one)


# --- The command ------------------------------------------------------------------------------


def sign_in(api: Api, email: str, password: str) -> str:
    """The admin's access token, or a DemoError that says what to do."""
    if not password:
        raise DemoError(
            f"no password for {email}: pass --admin-password or set CRM_ADMIN_PASSWORD "
            "(the first admin's password, as `crm up` was given it or as you chose it at first sign-in)"
        )
    res = api.session.post(
        f"{api.base}{API}/auth/login", json={"email": email, "password": password}, timeout=api.timeout
    )
    if res.status_code != 200:
        raise DemoError(f"signing in as {email} failed: {describe(res)}")
    body = res.json()
    if body.get("user", {}).get("password_change_required"):
        raise DemoError(
            f"{email} still has its one-time password: sign in once and choose a new one (the web application, or "
            f"POST {API}/auth/password with current_password and new_password), then run "
            "`crm demo-data --admin-password <the new one>`"
        )
    if body.get("user", {}).get("role") != "admin":
        raise DemoError(f"{email} is not an admin: demo-data creates users and teams, which needs an admin")
    return str(body["access_token"])


def summary(tally: Tally, plan: Plan, seconds: float) -> str:
    kinds = list(dict.fromkeys([*tally.created, *tally.existing]))
    width = max(len(k) for k in kinds) if kinds else 10
    lines = [f"demo-data: done in {seconds:.1f}s", f"  {'':<{width}}  {'created':>8}  {'already there':>13}"]
    for kind in kinds:
        lines.append(f"  {kind:<{width}}  {tally.created.get(kind, 0):>8}  {tally.existing.get(kind, 0):>13}")
    lines.append(f"Demo users (password: {DEMO_PASSWORD!r}; users already there keep theirs):")
    for user in plan.users:
        lines.append(f"  {user['role']:<8} {user['display_name']:<18} {user['email']}")
    if tally.failures:
        lines.append(f"{len(tally.failures)} problems (the rest was loaded; run again to retry):")
        lines += [f"  {f}" for f in tally.failures[:40]]
    return "\n".join(lines)


def demo_data(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crm demo-data", description=__doc__.split("\n\n")[0])
    listen = os.environ.get("CRM_GATEWAY_LISTEN", "127.0.0.1:8080")
    parser.add_argument("--url", default=f"http://{listen}", help="the gateway (default: %(default)s)")
    parser.add_argument("--admin-email", default=os.environ.get("CRM_ADMIN_EMAIL") or "admin@example.com")
    parser.add_argument("--admin-password", default=os.environ.get("CRM_ADMIN_PASSWORD", ""))
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 200 clients, 300 deals, 1,000 activities ...")
    parser.add_argument("--workers", type=int, default=8, help="requests in flight at once (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 10:
        parser.error("--scale must be greater than 0 and at most 10")
    if not 1 <= args.workers <= 32:
        parser.error("--workers must be between 1 and 32")
    started = time.monotonic()
    api = Api(args.url, workers=args.workers)
    try:
        api.token = sign_in(api, args.admin_email, args.admin_password)
        plan = build(args.scale)
        print(f"demo-data: loading a company at scale {args.scale} into {args.url} ...", flush=True)
        tally = Loader(api, plan, log=lambda text: print(text, flush=True)).run()
    except requests.ConnectionError:
        print(f"crm demo-data: no gateway answers at {args.url} (is `crm up` running?)", file=sys.stderr)
        return 2
    except DemoError as exc:
        print(f"crm demo-data: {exc}", file=sys.stderr)
        return 1
    print(summary(tally, plan, time.monotonic() - started))
    return 1 if tally.failures else 0
