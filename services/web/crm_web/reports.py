"""Informes: the report builder and the saved reports, over the reporting API as the signed-in user.

The builder is one form that works without JavaScript: choose a module, add filter, grouping
(with a date bucket) and aggregate rows — every field, type, bucket and label from the catalogue
the API publishes (`GET /api/v1/reports/catalogue`), shown in the user's language — then run it
(`POST /api/v1/reports:run`: a table, and a Chart.js chart for one grouping), download it as
.xlsx or .ics (the API's export, streamed through as the user), or save it private or shared.
With htmx, adding or removing a row and changing the module or a field redraw the builder in
place; without it the same buttons post the form and the page comes back with the change.

Other pages link to a prefilled, already run builder with query parameters:
`/reports/new?module=deals&f.status=won&group=owner_id&group=create_time&bucket=month&agg=sum:amount`
- `f.<field>=<value>`: a filter; `equals`, or `in` when the field is repeated; `<from>..<to>` is
  `between`; `op.<field>=<operator>` names another operator;
- `group=<field>` (repeatable) with `bucket=<none|day|week|month|quarter|year>` for the date
  groupings, in order (one bucket serves every dated grouping);
- `agg=<function>:<field>` (repeatable; `count` alone); a grouped report without one counts.

Saved reports: the list (mine, then the shared and my team's, with their owners' names), a saved
report's page (its definition in words and its run), edit, delete, and its .xlsx/.ics downloads.
The API decides who sees and changes what; these pages only show what it answers."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from babel.dates import format_date
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from crm_web import labels, lookups, pool
from crm_web import session as web_session
from crm_web.api import Api, ApiError
from crm_web.formatting import babel_locale, day, moment, money, number
from crm_web.forms import field_message

bp = Blueprint("reports", __name__, url_prefix="/reports")

# Rows shown of one run (the API answers up to 500 per page).
PAGE_SIZE = 200
# Record names looked up for the ids a page shows (clients, contacts, campaigns), at most.
MAX_NAME_LOOKUPS = 60
STALE_EDIT = lazy_gettext(
    "Otra persona cambió este informe mientras lo editabas. Vuelve a abrirlo para ver sus cambios."
)
EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ics": "text/calendar",
}

OPERATORS: dict[str, Any] = {
    "equals": lazy_gettext("es igual a"),
    "not_equals": lazy_gettext("es distinto de"),
    "in": lazy_gettext("es uno de"),
    "contains": lazy_gettext("contiene"),
    "between": lazy_gettext("está entre"),
    "greater_than": lazy_gettext("mayor que"),
    "less_than": lazy_gettext("menor que"),
    "greater_or_equal": lazy_gettext("mayor o igual que"),
    "less_or_equal": lazy_gettext("menor o igual que"),
}
# The operators the builder offers per field type (the API checks them again and says why not).
_EQUALITY = ["equals", "not_equals", "in"]
_RANGE = ["between", "greater_than", "less_than", "greater_or_equal", "less_or_equal"]
TYPE_OPERATORS: dict[str, list[str]] = {
    "string": [*_EQUALITY, "contains"],
    "integer": _EQUALITY + _RANGE,
    "money": _EQUALITY + _RANGE,
    "date": _EQUALITY + _RANGE,
    "timestamp": ["equals", "not_equals", *_RANGE],
    "bool": ["equals", "not_equals"],
    "decimal": [],
}
LIST_OPERATORS = ["contains", "in"]
BUCKETS: dict[str, Any] = {
    "none": lazy_gettext("Valor exacto"),
    "day": lazy_gettext("Día"),
    "week": lazy_gettext("Semana"),
    "month": lazy_gettext("Mes"),
    "quarter": lazy_gettext("Trimestre"),
    "year": lazy_gettext("Año"),
}
BUCKET_WORDS: dict[str, Any] = {
    "day": lazy_gettext("día"),
    "week": lazy_gettext("semana"),
    "month": lazy_gettext("mes"),
    "quarter": lazy_gettext("trimestre"),
    "year": lazy_gettext("año"),
}
FUNCTIONS: dict[str, Any] = {
    "count": lazy_gettext("Conteo"),
    "sum": lazy_gettext("Suma"),
    "avg": lazy_gettext("Promedio"),
    "min": lazy_gettext("Mínimo"),
    "max": lazy_gettext("Máximo"),
}
FUNCTION_OF: dict[str, Any] = {
    "sum": lazy_gettext("Suma de %(field)s"),
    "avg": lazy_gettext("Promedio de %(field)s"),
    "min": lazy_gettext("Mínimo de %(field)s"),
    "max": lazy_gettext("Máximo de %(field)s"),
}
# Coded values shown in words: (module, field) -> the labels.py group.
VALUE_LABELS = {
    ("deals", "status"): "deal_status",
    ("activities", "kind"): "activity_kind",
    ("activities", "status"): "activity_status",
    ("quotes", "status"): "quote_status",
    ("clients", "kind"): "client_kind",
}
# Coded values labels.py has no words for, in the report's own words.
VALUE_WORDS: dict[tuple[str, str], dict[str, Any]] = {
    ("products", "kind"): {"product": lazy_gettext("Producto"), "service": lazy_gettext("Servicio")},
    ("prospects", "status"): {
        "new": lazy_gettext("Nuevo"),
        "contacted": lazy_gettext("Contactado"),
        "qualified": lazy_gettext("Calificado"),
        "converted": lazy_gettext("Convertido"),
        "disqualified": lazy_gettext("Descartado"),
    },
    ("prospects", "source"): {
        "web": lazy_gettext("Sitio web"),
        "referral": lazy_gettext("Referido"),
        "campaign": lazy_gettext("Campaña"),
        "trade_fair": lazy_gettext("Feria"),
        "ads": lazy_gettext("Anuncios"),
        "rd_station": "RD Station",
        "other": lazy_gettext("Otro"),
    },
    ("campaigns", "type"): {
        "mailing": lazy_gettext("Correo masivo"),
        "telemarketing": lazy_gettext("Telemercadeo"),
        "social_ads": lazy_gettext("Anuncios en redes"),
        "trade_fair": lazy_gettext("Feria"),
    },
    ("campaigns", "status"): {
        "draft": lazy_gettext("Borrador"),
        "scheduled": lazy_gettext("Programada"),
        "running": lazy_gettext("En curso"),
        "completed": lazy_gettext("Completada"),
        "cancelled": lazy_gettext("Cancelada"),
    },
    ("quotes", "status"): {"superseded": lazy_gettext("Reemplazada")},
}


def value_word(module: str, name: str, value: Any) -> str:
    """A coded value ("won", "service") in the user's words; the value itself when it has none."""
    words = VALUE_WORDS.get((module, name), {})
    if value in words:
        return str(words[value])
    group = VALUE_LABELS.get((module, name))
    return labels.label(group, value) if group else str(value)


# Fields holding another record's id, shown by that record's name.
USER_FIELDS = ("owner_id", "manager_id")
RECORD_FIELDS = {
    "client_id": "/api/v1/clients/{}",
    "converted_client_id": "/api/v1/clients/{}",
    "contact_id": "/api/v1/contacts/{}",
    "campaign_id": "/api/v1/campaigns/{}",
    "source_campaign_id": "/api/v1/campaigns/{}",
}


# --- the catalogue --------------------------------------------------------------------------------


# The catalogue is the same for every user: kept per process as long as the names lookups keeps.
_catalogue_lock = threading.Lock()
_catalogue: list[tuple[float, dict[str, dict[str, Any]]]] = []


def catalogue(api: Api) -> dict[str, dict[str, Any]]:
    """The API's report catalogue by module (the same for every user; kept like the user list)."""

    def load() -> dict[str, dict[str, Any]]:
        body = api.get("/api/v1/reports/catalogue")
        return {m["module"]: {**m, "by_key": {f["key"]: f for f in m["fields"]}} for m in body.get("modules") or []}

    now = time.monotonic()
    with _catalogue_lock:
        if _catalogue and now - _catalogue[0][0] < lookups.TIME_TO_LIVE:
            return _catalogue[0][1]
    loaded = load()
    with _catalogue_lock:
        _catalogue[:] = [(now, loaded)]
    return loaded


def _lang_label(item: dict[str, Any]) -> str:
    return str(item.get("label_en") if web_session.language() == "en" else item.get("label_es")) or ""


def field_label(module: dict[str, Any], key: str) -> str:
    f = module["by_key"].get(key)
    return _lang_label(f) if f else key


_AGG_KEY = re.compile(r"^(count|sum|avg|min|max)\((\w*)\)$")
_BUCKET_KEY = re.compile(r"^(day|week|month|quarter|year)\((\w+)\)$")


def column_label(module: dict[str, Any], key: str, api_label: str) -> str:
    """A result column's heading in the user's language, from the catalogue (the run's own labels
    are the product's language, Spanish)."""
    if m := _AGG_KEY.match(key):
        function, name = m.groups()
        if function == "count" or not name:
            return str(FUNCTIONS["count"])
        return str(FUNCTION_OF[function]) % {"field": field_label(module, name).lower()}
    if m := _BUCKET_KEY.match(key):
        bucket, name = m.groups()
        return f"{field_label(module, name)} ({BUCKET_WORDS[bucket]})"
    if key in module["by_key"]:
        return field_label(module, key)
    return api_label or key


# --- the builder's definition ---------------------------------------------------------------------


@dataclass
class FilterRow:
    field: str = ""
    operator: str = "equals"
    value: str = ""
    value2: str = ""


@dataclass
class GroupRow:
    field: str = ""
    bucket: str = "none"


@dataclass
class AggRow:
    function: str = "count"
    field: str = ""


@dataclass
class Draft:
    """What the builder holds: a definition as typed (rows may be incomplete), and for a saved
    report its name, description and sharing."""

    module: str = "deals"
    filters: list[FilterRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    aggs: list[AggRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    order_field: str = ""
    order_desc: bool = False
    name: str = ""
    description: str = ""
    shared: bool = False
    chart_group: str = ""
    chart_value: str = ""

    def definition(self) -> dict[str, Any]:
        """The API's definition (rows left without a field are left out)."""
        filters = []
        for f in self.filters:
            if not f.field:
                continue
            if f.operator == "between":
                values = [f.value, f.value2]
            elif f.operator == "in":
                values = [v.strip() for v in f.value.split(",") if v.strip()]
            else:
                values = [f.value]
            filters.append({"field": f.field, "operator": f.operator, "values": values})
        groupings: list[dict[str, Any]] = []
        for g in self.groups:
            if g.field:
                groupings.append({"field": g.field, "date_bucket": g.bucket or "none"})
        # Every calculation row is sent (one without its field is the API's 400, shown beside it).
        aggregates = [{"function": a.function, "field": "" if a.function == "count" else a.field} for a in self.aggs]
        order = f"{self.order_field} desc" if self.order_field and self.order_desc else self.order_field
        return {
            "module": self.module,
            "filters": filters,
            "groupings": groupings,
            "aggregates": aggregates if groupings else [],
            "columns": [] if groupings else self.columns,
            "order_by": "" if groupings else order,
        }

    @classmethod
    def from_saved(cls, report: dict[str, Any]) -> Draft:
        d = cls(
            module=report.get("module") or "deals",
            name=report.get("name") or "",
            description=report.get("description") or "",
            shared=bool(report.get("shared")),
            columns=list(report.get("columns") or []),
        )
        for f in report.get("filters") or []:
            values = list(f.get("values") or [])
            op = f.get("operator") or "equals"
            if op == "in":
                d.filters.append(FilterRow(f.get("field", ""), op, ", ".join(values)))
            else:
                d.filters.append(
                    FilterRow(f.get("field", ""), op, values[0] if values else "", values[1] if len(values) > 1 else "")
                )
        for g in report.get("groupings") or []:
            d.groups.append(GroupRow(g.get("field", ""), g.get("date_bucket") or "none"))
        for a in report.get("aggregates") or []:
            d.aggs.append(AggRow(a.get("function") or "count", a.get("field") or ""))
        order = (report.get("order_by") or "").split(",")[0].split()
        if order:
            d.order_field, d.order_desc = order[0], len(order) > 1 and order[1].lower() == "desc"
        return d

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> Draft:
        d = cls(
            module=form.get("module", "deals"),
            name=form.get("name", "").strip(),
            description=form.get("description", "").strip(),
            shared=form.get("shared") == "1",
            columns=form.getlist("columns"),
            order_field=form.get("order_field", ""),
            order_desc=form.get("order_dir") == "desc",
            chart_group=form.get("chart_group", ""),
            chart_value=form.get("chart_value", ""),
        )
        cols = [form.getlist(k) for k in ("filter_field", "filter_op", "filter_value", "filter_value2")]
        for fld, op, v1, v2 in zip(*cols, strict=False):
            d.filters.append(FilterRow(fld, op or "equals", v1.strip(), v2.strip()))
        for fld, bucket in zip(form.getlist("group_field"), form.getlist("group_bucket"), strict=False):
            d.groups.append(GroupRow(fld, bucket or "none"))
        for fn, fld in zip(form.getlist("agg_function"), form.getlist("agg_field"), strict=False):
            d.aggs.append(AggRow(fn or "count", fld))
        return d

    @classmethod
    def from_link(cls, args: MultiDict[str, str], cat: dict[str, dict[str, Any]]) -> Draft:
        """The prefill other pages link to (see the module's docstring)."""
        d = cls(module=args.get("module", "deals"))
        module = cat.get(d.module) or {"by_key": {}}
        for key in args:
            if not key.startswith("f."):
                continue
            name, values = key[2:], [v for v in args.getlist(key) if v != ""]
            if not values:
                continue
            op = args.get(f"op.{name}", "")
            if len(values) > 1:
                d.filters.append(FilterRow(name, op or "in", ", ".join(values)))
            elif ".." in values[0] and op in ("", "between"):
                low, high = values[0].split("..", 1)
                d.filters.append(FilterRow(name, "between", low, high))
            else:
                d.filters.append(FilterRow(name, op or "equals", values[0]))
        buckets = args.getlist("bucket")
        dated = 0
        for name in args.getlist("group"):
            f = module["by_key"].get(name) or {}
            bucket = "none"
            if len(f.get("date_buckets") or []) > 1 and buckets:
                bucket = buckets[min(dated, len(buckets) - 1)]
                dated += 1
            d.groups.append(GroupRow(name, bucket))
        for spec in args.getlist("agg"):
            function, _sep, name = spec.partition(":")
            d.aggs.append(AggRow(function, name))
        if d.groups and not d.aggs:
            d.aggs.append(AggRow("count"))
        d.columns = args.getlist("columns")
        return d

    def apply(self, action: str, cat: dict[str, dict[str, Any]]) -> None:
        """A builder button: add or remove a row, or a changed module (which keeps nothing of the
        old module's fields)."""
        kind, _sep, index = action.partition(":")
        rows: dict[str, list[Any]] = {"filter": self.filters, "group": self.groups, "agg": self.aggs}
        if kind == "module":
            module = cat.get(self.module)
            keys = set(module["by_key"]) if module else set()
            self.filters = [f for f in self.filters if f.field in keys]
            self.groups = [g for g in self.groups if g.field in keys]
            self.aggs = [a for a in self.aggs if a.function == "count" or a.field in keys]
            self.columns = [c for c in self.columns if c in keys]
            if self.order_field not in keys:
                self.order_field = ""
        elif kind == "add-filter":
            self.filters.append(FilterRow())
        elif kind == "add-group":
            self.groups.append(GroupRow())
        elif kind == "add-agg":
            self.aggs.append(AggRow())
        elif kind.startswith("remove-") and kind[7:] in rows and index.isdigit():
            target = rows[kind[7:]]
            if int(index) < len(target):
                del target[int(index)]


# --- running and showing --------------------------------------------------------------------------


@dataclass
class Result:
    columns: list[dict[str, Any]]
    rows: list[list[str]]
    raw: list[list[Any]]
    total: int
    next_page_token: str
    chart: dict[str, Any] | None
    chart_groups: list[tuple[str, str]]
    chart_values: list[tuple[str, str]]


def _names(api: Api, module: dict[str, Any], columns: list[dict[str, Any]], rows: list[list[Any]]) -> dict[str, str]:
    """Names for the ids the rows hold (users, stages, pipelines, clients, contacts, campaigns)."""
    out: dict[str, str] = {}
    keys = [c["key"] for c in columns]
    user_columns = [i for i, k in enumerate(keys) if k in USER_FIELDS]
    if user_columns:
        shown = {str(row[i]) for row in rows for i in user_columns if i < len(row) and row[i]}
        out.update({i: u.get("display_name") or u.get("email") or i for i, u in lookups.users(api, shown).items()})
    if "stage_id" in keys or "pipeline_id" in keys:
        for sid, stage in lookups.stages(api).items():
            out[sid] = stage.get("name", sid)
            if stage.get("pipeline_id"):
                out[stage["pipeline_id"]] = stage.get("pipeline", "")
    wanted: dict[str, str] = {}
    for i, k in enumerate(keys):
        if k in RECORD_FIELDS:
            for row in rows:
                if row[i] and row[i] not in out and len(wanted) < MAX_NAME_LOOKUPS:
                    wanted.setdefault(row[i], RECORD_FIELDS[k])
    futures = {rid: pool.submit(api.get, path.format(rid)) for rid, path in wanted.items()}
    for rid, fut in futures.items():
        try:
            rec = fut.result()
        except ApiError as exc:
            if exc.status == 401:
                raise
            continue
        name = rec.get("name") or " ".join(x for x in (rec.get("first_name"), rec.get("last_name")) if x)
        if name:
            out[rid] = name
    if "pipeline_id" in keys:
        missing = {row[keys.index("pipeline_id")] for row in rows} - set(out)
        if missing:
            for p in api.list("/api/v1/pipelines", page_size=500).items:
                out[p["id"]] = p.get("name", p["id"])
    return out


def _bucket_text(value: str, bucket: str) -> str:
    try:
        d = date.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value or "")
    locale = babel_locale(web_session.user_locale())
    if bucket == "month":
        return format_date(d, "MMM y", locale=locale)
    if bucket == "quarter":
        return format_date(d, "QQQ y", locale=locale)
    if bucket == "year":
        return format_date(d, "y", locale=locale)
    if bucket == "week":
        return _("Semana del %(day)s", day=day(d, web_session.user_locale()))
    return day(d, web_session.user_locale())


def cell_text(module_name: str, col: dict[str, Any], value: Any, names: dict[str, str]) -> str:
    """One cell as the user reads it: money per its currency, dates in their locale, ids by name."""
    if value is None or value == "":
        return ""
    loc, tz, kind, key = web_session.user_locale(), web_session.user_time_zone(), col["type"], col["key"]
    if kind == "money":
        return money(value, loc)
    if kind in ("integer", "decimal"):
        return number(value, loc)
    if kind == "bool":
        return _("Sí") if value else _("No")
    if kind == "date":
        m = _BUCKET_KEY.match(key)
        return _bucket_text(value, m.group(1)) if m else day(value, loc, tz)
    if kind == "timestamp":
        return moment(value, loc, tz)
    if key in names or value in names:
        return names.get(value, value)
    if (module_name, key) in VALUE_LABELS or (module_name, key) in VALUE_WORDS:
        return value_word(module_name, key, value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


Choices = list[tuple[str, str]]


def _chart(
    draft: Draft, module: dict[str, Any], columns: list[dict[str, Any]], raw: list[list[Any]], text: list[list[str]]
) -> tuple[dict[str, Any] | None, Choices, Choices]:
    """The chart of a grouped run: the chosen grouping along the axis, the chosen aggregate as the
    bars, one series per value of the other groupings; money is drawn in one panel per currency
    (amounts of different currencies never share an axis)."""
    keys = [c["key"] for c in columns]
    group_keys = [
        g["field"] if g["date_bucket"] == "none" else f"{g['date_bucket']}({g['field']})"
        for g in draft.definition()["groupings"]
    ]
    group_keys = [k for k in group_keys if k in keys]
    value_keys = [c["key"] for c in columns if _AGG_KEY.match(c["key"])]
    groups = [(k, column_label(module, k, "")) for k in group_keys]
    values = [(k, column_label(module, k, "")) for k in value_keys]
    if not group_keys or not value_keys or not raw:
        return None, groups, values
    dated = [k for k in group_keys if _BUCKET_KEY.match(k)]
    axis = draft.chart_group if draft.chart_group in group_keys else (dated[0] if dated else group_keys[0])
    value = (
        draft.chart_value
        if draft.chart_value in value_keys
        else next((k for k in value_keys if not k.startswith("count")), value_keys[0])
    )
    ai, vi = keys.index(axis), keys.index(value)
    others = [keys.index(k) for k in group_keys if k != axis]
    axis_values: list[Any] = []
    for row in raw:
        if row[ai] not in axis_values:
            axis_values.append(row[ai])
    if _BUCKET_KEY.match(axis) or columns[ai]["type"] in ("date", "timestamp"):
        axis_values.sort(key=lambda v: (v is None, str(v)))
    axis_text = {v: next(text[r][ai] for r, row in enumerate(raw) if row[ai] == v) or "—" for v in axis_values}
    value_label = column_label(module, value, "")
    panels: dict[str, dict[str, list[float | None]]] = {}
    for r, row in enumerate(raw):
        cell = row[vi]
        currency = str(cell.get("currency_code") or "") if isinstance(cell, dict) else ""
        amount = cell.get("amount") if isinstance(cell, dict) else cell
        name = " · ".join(text[r][i] or "—" for i in others) or value_label
        points = panels.setdefault(currency, {}).setdefault(name, [None] * len(axis_values))
        try:
            points[axis_values.index(row[ai])] = float(amount) if amount is not None else None
        except (TypeError, ValueError):
            continue
    chart = {
        "labels": [axis_text[v] for v in axis_values],
        "panels": [
            {"currency": currency, "series": [{"name": n, "data": p} for n, p in series.items()]}
            for currency, series in sorted(panels.items())
        ],
        "value_label": value_label,
        "axis_label": column_label(module, axis, ""),
        "axis_key": axis,
        "value_key": value,
        "locale": web_session.user_locale(),
        "money": columns[vi]["type"] == "money",
    }
    return chart, groups, values


def run(api: Api, draft: Draft, module: dict[str, Any], report_id: str = "", page_token: str = "") -> Result:
    options = {"page_size": PAGE_SIZE, "page_token": page_token, "time_zone": web_session.user_time_zone()}
    if report_id:
        body = api.post(f"/api/v1/reports/{report_id}:run", options)
    else:
        body = api.post("/api/v1/reports:run", {**draft.definition(), **options})
    columns = [{**c, "heading": column_label(module, c["key"], c.get("label", ""))} for c in body["columns"]]
    raw = body.get("rows") or []
    names = _names(api, module, columns, raw)
    text = [[cell_text(draft.module, c, v, names) for c, v in zip(columns, row, strict=False)] for row in raw]
    chart, groups, values = _chart(draft, module, columns, raw, text)
    return Result(
        columns=columns,
        rows=text,
        raw=raw,
        total=int(body.get("total_row_count") or 0),
        next_page_token=body.get("next_page_token") or "",
        chart=chart,
        chart_groups=groups,
        chart_values=values,
    )


_ROW_ERROR = re.compile(r"^(?:report_definition\.)?(filters|groupings|aggregates)\[(\d+)\]")


def _row_errors(exc: ApiError, draft: Draft) -> tuple[dict[str, str], list[str]]:
    """The API's errors beside the builder row they name ("filter-0"), the rest for the summary.
    The API numbers only the rows it was sent (complete ones), so its index is mapped back."""
    sent = {
        "filters": [i for i, f in enumerate(draft.filters) if f.field],
        "groupings": [i for i, g in enumerate(draft.groups) if g.field],
        "aggregates": list(range(len(draft.aggs))),
    }
    prefix = {"filters": "filter", "groupings": "group", "aggregates": "agg"}
    rows: dict[str, str] = {}
    general: list[str] = []
    for name, api_message in exc.field_errors.items():
        code, params = exc.field_codes.get(name, ("", {}))
        message = field_message(code, params, api_message)  # in the page's language when the code is known
        m = _ROW_ERROR.match(name)
        if m and int(m.group(2)) < len(sent[m.group(1)]):
            rows.setdefault(f"{prefix[m.group(1)]}-{sent[m.group(1)][int(m.group(2))]}", message)
        else:
            general.append(message)
    if not exc.field_errors:
        general.append(exc.detail)
    return rows, general


def _stream(res: Any, kind: str) -> Response:
    headers = {"Content-Disposition": res.headers.get("Content-Disposition", f'attachment; filename="informe.{kind}"')}
    chunks = res.iter_content(64 * 1024)
    return current_app.response_class(
        stream_with_context(chunks), mimetype=res.headers.get("Content-Type", EXPORT_TYPES[kind]), headers=headers
    )


# --- pages ----------------------------------------------------------------------------------------


@bp.get("/")
def list_reports() -> str:
    api = web_session.api()
    q = request.args.get("q", "").strip()
    module = request.args.get("module", "")
    token = request.args.get("page_token", "")
    cat = pool.submit(catalogue, api)
    users = pool.submit(lookups.users, api)
    page = api.list("/api/v1/reports", page_size=100, page_token=token, q=q, module=module)
    me = web_session.user().get("id")
    mine = [r for r in page.items if r.get("owner_id") == me]
    others = [r for r in page.items if r.get("owner_id") != me]
    modules = cat.result()
    args = {k: v for k, v in (("q", q), ("module", module), ("page_token", token)) if v}
    return render_template(
        "reports/list.html",
        mine=mine,
        others=others,
        page=page,
        users=users.result(),
        modules=modules,
        module_options=[(k, _lang_label(m)) for k, m in modules.items()],
        filters={"q": q, "module": module},
        args=args,
    )


def _builder(report: dict[str, Any] | None = None) -> str | Response:
    """The builder, new (`report` None) or editing a saved report."""
    api = web_session.api()
    cat = catalogue(api)
    if not cat:
        abort(404)
    action = request.form.get("action", "run") if request.method == "POST" else ""
    if request.method == "POST":
        draft = Draft.from_form(request.form)
    elif report is not None:
        draft = Draft.from_saved(report)
    else:
        draft = Draft.from_link(request.args, cat)
    if draft.module not in cat:
        draft.module = "deals" if "deals" in cat else next(iter(cat))
    module = cat[draft.module]
    result: Result | None = None
    row_errors: dict[str, str] = {}
    general: list[str] = []
    name_error = ""
    if action.startswith(("add-", "remove-", "module", "refresh")):
        draft.apply(action, cat)
    elif action.startswith("export-") and action[7:] in EXPORT_TYPES:
        kind = action[7:]
        body = {**draft.definition(), "format": kind, "time_zone": web_session.user_time_zone()}
        try:
            res = api.request("POST", "/api/v1/reports:export", json=body, stream=True, headers={"Accept": "*/*"})
        except ApiError as exc:
            if exc.status != 400:
                raise
            row_errors, general = _row_errors(exc, draft)
        else:
            return _stream(res, kind)
    elif action == "save":
        if not draft.name:
            name_error = _("Escribe un nombre para el informe.")
        else:
            body = {**draft.definition(), "name": draft.name, "description": draft.description, "shared": draft.shared}
            try:
                if report is None:
                    saved = api.post("/api/v1/reports", body)
                else:
                    version = request.form.get("version", "")
                    headers = {"If-Match": f'"{version}"'} if version else None
                    saved = api.patch(f"/api/v1/reports/{report['id']}", body, headers=headers)
            except ApiError as exc:
                if exc.status == 412:
                    general.append(str(STALE_EDIT))
                elif exc.status == 400:
                    row_errors, general = _row_errors(exc, draft)
                    if "name" in exc.field_errors:
                        code, params = exc.field_codes.get("name", ("", {}))
                        name_error = field_message(code, params, exc.field_errors["name"])
                        general = [g for g in general if g != name_error]
                else:
                    raise
            else:
                flash(_("Informe «%(name)s» guardado.", name=saved["name"]), "success")
                return redirect(url_for("reports.show_report", report_id=saved["id"]))
    run_now = action in ("run", "chart") or (
        request.method == "GET" and (report is not None or "module" in request.args)
    )
    if run_now:
        try:
            result = run(api, draft, module)
        except ApiError as exc:
            if exc.status != 400:
                raise
            row_errors, general = _row_errors(exc, draft)
    ctx = {
        "draft": draft,
        "report": report,
        "cat": cat,
        "module": module,
        "result": result,
        "row_errors": row_errors,
        "general": general,
        "name_error": name_error,
        "opts": _options(module),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "report-form":
        return render_template("reports/_builder.html", **ctx)
    return render_template("reports/builder.html", **ctx)


def _options(module: dict[str, Any]) -> dict[str, Any]:
    """The choices the builder's rows offer, from the module's catalogue, labelled in the user's
    language."""
    fields = module["fields"]
    return {
        "filterable": [(f["key"], _lang_label(f)) for f in fields if f["filterable"]],
        "groupable": [(f["key"], _lang_label(f)) for f in fields if f["groupable"]],
        "aggregatable": [(f["key"], _lang_label(f)) for f in fields if f["aggregatable"]],
        "columns": [(f["key"], _lang_label(f)) for f in fields],
        "operators": OPERATORS,
        "type_operators": TYPE_OPERATORS,
        "list_operators": LIST_OPERATORS,
        "buckets": BUCKETS,
        "functions": FUNCTIONS,
        "value_labels": {
            f["key"]: [(c, value_word(module["module"], f["key"], c)) for c in f["choices"]]
            for f in fields
            if f["choices"]
        },
    }


@bp.route("/new", methods=["GET", "POST"])
def new_report() -> str | Response:
    return _builder()


@bp.get("/<uuid:report_id>")
def show_report(report_id: UUID) -> str:
    api = web_session.api()
    cat = pool.submit(catalogue, api)
    users = pool.submit(lookups.users, api)
    report = api.get(f"/api/v1/reports/{report_id}")
    draft = Draft.from_saved(report)
    draft.chart_group = request.args.get("chart_group", "")
    draft.chart_value = request.args.get("chart_value", "")
    modules = cat.result()
    module = modules.get(draft.module)
    if module is None:
        abort(404)
    token = request.args.get("page_token", "")
    result = run(api, draft, module, report_id=str(report_id), page_token=token)
    people = users.result()
    return render_template(
        "reports/show.html",
        report=report,
        draft=draft,
        module=module,
        result=result,
        users=people,
        summary=_summary(draft, module, people),
        may_change=_may_change(report, people),
        page_token=token,
    )


def _may_change(report: dict[str, Any], people: dict[str, dict[str, Any]]) -> bool:
    """Whether to offer edit and delete: the owner, an admin, or the owner's team manager (the API
    decides again when the change is sent)."""
    me = web_session.user()
    if report.get("owner_id") == me.get("id") or web_session.is_admin():
        return True
    owner = people.get(report.get("owner_id") or "") or {}
    return bool(me.get("role") == "manager" and me.get("team_id") and owner.get("team_id") == me.get("team_id"))


def _summary(draft: Draft, module: dict[str, Any], people: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The definition in words, for a saved report's page (people and coded values by name)."""

    def word(name: str, value: str) -> str:
        if name in USER_FIELDS and value in people:
            return str(people[value].get("display_name") or value)
        return value_word(draft.module, name, value)

    filters = []
    for f in draft.filters:
        if f.operator == "between":
            values = f"{f.value} .. {f.value2}"
        elif f.operator == "in":
            values = ", ".join(word(f.field, v.strip()) for v in f.value.split(","))
        else:
            values = word(f.field, f.value)
        filters.append(f"{field_label(module, f.field)} {OPERATORS.get(f.operator, f.operator)} {values}")
    groups = [
        field_label(module, g.field) + ("" if g.bucket == "none" else f" ({BUCKET_WORDS.get(g.bucket, g.bucket)})")
        for g in draft.groups
    ]
    aggs = [column_label(module, f"{a.function}({'' if a.function == 'count' else a.field})", "") for a in draft.aggs]
    return {"filters": filters, "groups": groups, "aggs": aggs}


@bp.route("/<uuid:report_id>/edit", methods=["GET", "POST"])
def edit_report(report_id: UUID) -> str | Response:
    report = web_session.api().get(f"/api/v1/reports/{report_id}")
    return _builder(report)


@bp.get("/<uuid:report_id>/export.<kind>")
def export_report(report_id: UUID, kind: str) -> Response:
    """The saved report's workbook or calendar from the API, streamed through as the user."""
    if kind not in EXPORT_TYPES:
        abort(404)
    api = web_session.api()
    try:
        res, _chunks = api.stream(
            f"/api/v1/reports/{report_id}/export", format=kind, time_zone=web_session.user_time_zone()
        )
    except ApiError as exc:
        if exc.status != 400:
            raise
        flash(_("No se pudo descargar: %(detail)s", detail=exc.detail), "error")
        return redirect(url_for("reports.show_report", report_id=report_id))
    return _stream(res, kind)


@bp.route("/<uuid:report_id>/delete", methods=["GET", "POST"])
def delete_report(report_id: UUID) -> str | Response:
    api = web_session.api()
    report = api.get(f"/api/v1/reports/{report_id}")
    if request.method == "POST":
        api.delete(f"/api/v1/reports/{report_id}")
        flash(_("Informe «%(name)s» eliminado.", name=report["name"]), "success")
        return redirect(url_for("reports.list_reports"))
    return render_template(
        "confirm.html",
        crumbs=[
            (url_for("reports.list_reports"), _("Informes")),
            (url_for("reports.show_report", report_id=report_id), report["name"]),
            (None, _("Eliminar")),
        ],
        heading=_("¿Eliminar «%(name)s»?", name=report["name"]),
        message=_("El informe guardado se borra para siempre; los registros que lista no cambian."),
        consequence=_("Si está compartido, deja de estar disponible para los demás."),
        action=url_for("reports.delete_report", report_id=report_id),
        button=_("Eliminar informe"),
        cancel=url_for("reports.show_report", report_id=report_id),
        danger=True,
    )


def chart_json(chart: dict[str, Any] | None) -> str:
    """The chart's data for the page's <script type="application/json"> block (never executed)."""
    return json.dumps(chart or {}, ensure_ascii=False).replace("</", "<\\/")


bp.add_app_template_global(chart_json, "report_chart_json")
