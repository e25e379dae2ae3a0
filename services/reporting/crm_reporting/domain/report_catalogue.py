"""The fields a report may use, per module: which read model a module reads, each field's API name,
its Spanish label (the product's language), its type, and what a definition may do with it
(filter, group, aggregate). Pure Python: the adapter maps `table` and `column` onto the tables.

Money fields store integer minor units (`column`, e.g. amount_minor) beside the row's currency
(`currency_column`); a report shows them as money in the row's currency and aggregates them per
currency (see report_definitions). Decimal fields (a product's unit price, tax rate) are exact
text on SQLite, so they are shown and grouped but neither compared by size nor aggregated."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict, Unpack


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOL = "bool"


NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.MONEY})
DATED_TYPES = frozenset({FieldType.DATE, FieldType.TIMESTAMP})


@dataclass(frozen=True)
class ReportField:
    name: str
    label: str
    type: FieldType
    # The read model's column (money: the minor-unit column).
    column: str
    currency_column: str = ""
    # The values an enum-like text field takes (as stored: "won", "call").
    choices: tuple[str, ...] = ()
    # A space-separated list of values (segment tags, product ids): CONTAINS and IN test membership.
    is_list: bool = False
    filterable: bool = True
    groupable: bool = True

    @property
    def aggregatable(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def dated(self) -> bool:
        return self.type in DATED_TYPES


@dataclass(frozen=True)
class CalendarPlacement:
    """How a module's rows become calendar events (ICS): the default date field, the field that
    ends a multi-day event (campaigns) and the field holding a duration in seconds (activities)."""

    date_field: str = ""
    end_date_field: str = ""
    duration_seconds_field: str = ""


@dataclass(frozen=True)
class ReportModule:
    name: str
    label: str
    table: str
    fields: dict[str, ReportField]
    default_columns: tuple[str, ...]
    # AIP-132 order of a listing report when the definition names none (the id breaks ties).
    default_order: str
    # The fields whose values (joined by a space) title a record (an ICS event's SUMMARY).
    title_fields: tuple[str, ...]
    calendar: CalendarPlacement = field(default_factory=CalendarPlacement)
    # Whether records have an owner_id (the owner scope of a run applies to it).
    owned: bool = True

    def field(self, name: str) -> ReportField | None:
        return self.fields.get(name)


def _fields(*items: ReportField) -> dict[str, ReportField]:
    return {f.name: f for f in items}


S, INT, D, M, DT, TS, B = (
    FieldType.STRING,
    FieldType.INTEGER,
    FieldType.DECIMAL,
    FieldType.MONEY,
    FieldType.DATE,
    FieldType.TIMESTAMP,
    FieldType.BOOL,
)


class _FieldOptions(TypedDict, total=False):
    """The optional parts of a ReportField that the catalogue below sets by keyword."""

    currency_column: str
    choices: tuple[str, ...]
    is_list: bool
    filterable: bool
    groupable: bool


def _f(name: str, label: str, type_: FieldType = S, column: str = "", **kw: Unpack[_FieldOptions]) -> ReportField:
    return ReportField(name, label, type_, column or name, **kw)


def _money(name: str, label: str, column: str) -> ReportField:
    return ReportField(name, label, M, column, currency_column="currency_code", groupable=False)


ID = _f("id", "ID")
OWNER = _f("owner_id", "Responsable")
CURRENCY = _f("currency_code", "Moneda")
CREATED = _f("create_time", "Creado", TS, "created_at")

MODULES: dict[str, ReportModule] = {
    m.name: m
    for m in (
        ReportModule(
            name="clients",
            label="Clientes",
            table="rm_clients",
            fields=_fields(
                ID,
                _f("name", "Nombre"),
                _f("kind", "Tipo", choices=("company", "person")),
                _f("industry", "Industria"),
                _f("segment_tags", "Segmentos", is_list=True, groupable=False),
                _f("city", "Ciudad"),
                _f("country_code", "País"),
                OWNER,
                _f("source", "Origen"),
                _f("archived", "Archivado", B),
                CREATED,
            ),
            default_columns=("name", "kind", "industry", "city", "owner_id", "create_time"),
            default_order="name",
            title_fields=("name",),
        ),
        ReportModule(
            name="contacts",
            label="Contactos",
            table="rm_contacts",
            fields=_fields(
                ID,
                _f("client_id", "Cliente"),
                _f("first_name", "Nombre"),
                _f("last_name", "Apellido"),
                _f("job_title", "Cargo"),
                _f("email", "Correo"),
                _f("decision_role", "Rol en la decisión"),
                OWNER,
                _f("archived", "Archivado", B),
                CREATED,
            ),
            default_columns=("first_name", "last_name", "job_title", "email", "client_id", "owner_id"),
            default_order="last_name, first_name",
            title_fields=("first_name", "last_name"),
        ),
        ReportModule(
            name="prospects",
            label="Prospectos",
            table="rm_prospects",
            fields=_fields(
                ID,
                _f("company_name", "Empresa"),
                _f("first_name", "Nombre"),
                _f("last_name", "Apellido"),
                _f("email", "Correo"),
                _f(
                    "source",
                    "Origen",
                    choices=("web", "referral", "campaign", "trade_fair", "ads", "rd_station", "other"),
                ),
                _f("source_campaign_id", "Campaña de origen"),
                _f("status", "Estado", choices=("new", "contacted", "qualified", "converted", "disqualified")),
                OWNER,
                _f("converted_client_id", "Cliente convertido"),
                CREATED,
                _f("convert_time", "Convertido el", TS, "converted_at"),
            ),
            default_columns=("company_name", "first_name", "last_name", "source", "status", "owner_id", "create_time"),
            default_order="create_time desc",
            title_fields=("company_name",),
        ),
        ReportModule(
            name="deals",
            label="Negocios",
            table="rm_deals",
            fields=_fields(
                ID,
                _f("title", "Título"),
                OWNER,
                _f("client_id", "Cliente"),
                _f("pipeline_id", "Embudo"),
                _f("stage_id", "Etapa"),
                _f("status", "Estado", choices=("open", "won", "lost")),
                _f("probability", "Probabilidad (%)", INT),
                _money("amount", "Monto", "amount_minor"),
                CURRENCY,
                _f("expected_close_date", "Fecha de cierre prevista", DT),
                _f("source_campaign_id", "Campaña de origen"),
                _f("lost_reason", "Motivo de pérdida"),
                _f("product_ids", "Productos", is_list=True, groupable=False),
                CREATED,
                _f("win_time", "Ganado el", TS, "won_at"),
                _f("lose_time", "Perdido el", TS, "lost_at"),
                _f("close_time", "Cerrado el", TS, "closed_at"),
            ),
            default_columns=("title", "owner_id", "stage_id", "status", "amount", "expected_close_date"),
            default_order="expected_close_date",
            title_fields=("title",),
            calendar=CalendarPlacement(date_field="expected_close_date"),
        ),
        ReportModule(
            name="activities",
            label="Actividades",
            table="rm_activities",
            fields=_fields(
                ID,
                _f("kind", "Tipo", choices=("call", "meeting", "visit", "task", "email")),
                _f("subject", "Asunto"),
                OWNER,
                _f("status", "Estado", choices=("scheduled", "done", "cancelled")),
                _f("due_time", "Vence", TS, "due_at"),
                _f("duration_seconds", "Duración (s)", INT),
                _f("done_time", "Realizada el", TS, "done_at"),
                _f("outcome", "Resultado"),
                _f("deal_id", "Negocio"),
                _f("client_id", "Cliente"),
                _f("contact_id", "Contacto"),
                _f("prospect_id", "Prospecto"),
                _f("campaign_id", "Campaña"),
                CREATED,
            ),
            default_columns=("subject", "kind", "status", "due_time", "owner_id"),
            default_order="due_time",
            title_fields=("subject",),
            calendar=CalendarPlacement(date_field="due_time", duration_seconds_field="duration_seconds"),
        ),
        ReportModule(
            name="quotes",
            label="Cotizaciones",
            table="rm_quotes",
            fields=_fields(
                ID,
                _f("number", "Número"),
                OWNER,
                _f("deal_id", "Negocio"),
                _f("client_id", "Cliente"),
                _f("status", "Estado", choices=("draft", "sent", "accepted", "rejected", "expired", "superseded")),
                _money("total", "Total", "total_minor"),
                CURRENCY,
                _f("valid_until", "Válida hasta", DT),
                CREATED,
                _f("send_time", "Enviada el", TS, "sent_at"),
                _f("decide_time", "Decidida el", TS, "decided_at"),
            ),
            default_columns=("number", "client_id", "status", "total", "valid_until", "owner_id"),
            default_order="number",
            title_fields=("number",),
            calendar=CalendarPlacement(date_field="valid_until"),
        ),
        ReportModule(
            name="products",
            label="Productos",
            table="rm_products",
            fields=_fields(
                ID,
                _f("sku", "SKU"),
                _f("name", "Nombre"),
                _f("kind", "Tipo", choices=("product", "service")),
                _f("unit_of_measure", "Unidad"),
                CURRENCY,
                _f("unit_price", "Precio unitario", D, filterable=False),
                _f("tax_rate", "Impuesto", D, filterable=False),
                _f("active", "Activo", B),
                CREATED,
            ),
            default_columns=("sku", "name", "kind", "unit_price", "currency_code", "active"),
            default_order="sku",
            title_fields=("name",),
            owned=False,
        ),
        ReportModule(
            name="campaigns",
            label="Campañas",
            table="rm_campaigns",
            fields=_fields(
                ID,
                _f("name", "Nombre"),
                _f("type", "Tipo", choices=("mailing", "telemarketing", "social_ads", "trade_fair")),
                _f("status", "Estado", choices=("draft", "scheduled", "running", "completed", "cancelled")),
                OWNER,
                _f("start_date", "Inicio", DT),
                _f("end_date", "Fin", DT),
                CURRENCY,
                _money("budget", "Presupuesto", "budget_minor"),
                _money("cost", "Costo", "cost_minor"),
                _f("member_count", "Miembros", INT),
                _f("launch_time", "Lanzada el", TS, "launched_at"),
                _f("complete_time", "Completada el", TS, "completed_at"),
                CREATED,
            ),
            default_columns=("name", "type", "status", "start_date", "end_date", "budget", "cost"),
            default_order="start_date",
            title_fields=("name",),
            calendar=CalendarPlacement(date_field="start_date", end_date_field="end_date"),
        ),
    )
}
