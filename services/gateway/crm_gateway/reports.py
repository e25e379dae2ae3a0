"""/api/v1/reports: report definitions (Informe) saved by their owner, private or shared, their runs
and their exports as an Excel workbook or an iCalendar file.

Who sees which definition: a rep their own and the shared ones; a manager those of the users of
their teams and the shared ones; an admin all. Only the owner, their manager or an admin changes
or deletes one. A run (of a saved or an unsaved definition) reads only the records the caller may
see: the gateway passes the caller's owner scope for the report's module (a rep's deal report
sums their own deals, even when the definition was shared by someone else).

Exports stream: the reporting service sends the file in chunks and the gateway passes them on as
they come (a workbook of a million rows is far larger than one gRPC message)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

import grpc
from flask import Response, stream_with_context, url_for
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.reporting.v1 import reporting_pb2 as pb
from crm.reporting.v1 import reporting_pb2_grpc
from crm_gateway.access import change_scope, principal, read_scope
from crm_gateway.api import ProblemError, UpstreamError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.convert import ProtoJson, ProtoPage, from_json, page, to_json
from crm_gateway.routing import CHANGE, Resource
from crm_platform.config import platform_settings
from crm_platform.context import ACTOR_HEADER, REQUEST_ID_HEADER, current_actor, current_request_id
from crm_platform.grpc_client import decode_error, stub
from crm_platform.grpc_server import INTERNAL_TOKEN_HEADER

res = Resource(
    "reports",
    "Reports",
    "Reports (Informe): saved definitions, runs, and exports as Excel (.xlsx) or calendar (.ics) files.",
)

Module = Literal["clients", "contacts", "prospects", "deals", "activities", "quotes", "products", "campaigns"]
Operator = Literal[
    "equals",
    "not_equals",
    "in",
    "contains",
    "between",
    "greater_than",
    "less_than",
    "greater_or_equal",
    "less_or_equal",
]
Bucket = Literal["none", "day", "week", "month", "quarter", "year"]
Function = Literal["count", "sum", "avg", "min", "max"]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Value = Annotated[str, StringConstraints(max_length=500)]
TimeZone = Annotated[str, StringConstraints(max_length=64), Field(description="IANA zone; empty = the caller's.")]
PageSize = Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")]
PageToken = Annotated[str, StringConstraints(max_length=4000)]
# An export of a million rows takes about two minutes on two cores (bench/reporting_reports.py).
EXPORT_DEADLINE_SECONDS = 600.0
RUN_DEADLINE_SECONDS = 30.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FilterIn(_Strict):
    field: FieldName
    operator: Operator
    values: Annotated[list[Value], Field(max_length=1000)] = Field(
        description="One value; two for between; one or more for in. Dates YYYY-MM-DD, money as decimal strings."
    )


class GroupByIn(_Strict):
    field: FieldName
    date_bucket: Bucket | None = None


class AggregateIn(_Strict):
    function: Function
    field: Annotated[str, StringConstraints(max_length=64)] = Field("", description="Empty for count.")


class DefinitionIn(_Strict):
    """What a report computes: a module's records, filtered (ANDed), grouped, aggregated."""

    module: Module
    filters: Annotated[list[FilterIn], Field(max_length=50)] = []
    groupings: Annotated[list[GroupByIn], Field(max_length=5)] = []
    aggregates: Annotated[list[AggregateIn], Field(max_length=20)] = []
    columns: Annotated[list[FieldName], Field(max_length=50)] = []
    order_by: Annotated[str, StringConstraints(max_length=500)] = ""


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]


class ReportCreate(DefinitionIn):
    """A saved report, owned by the caller; `shared` makes it visible to every user."""

    name: Name
    description: Description = ""
    shared: bool = False


class ReportPatch(_Strict):
    """The parts to change."""

    name: Name | None = None
    description: Description | None = None
    shared: bool | None = None
    module: Module | None = None
    filters: Annotated[list[FilterIn], Field(max_length=50)] | None = None
    groupings: Annotated[list[GroupByIn], Field(max_length=5)] | None = None
    aggregates: Annotated[list[AggregateIn], Field(max_length=20)] | None = None
    columns: Annotated[list[FieldName], Field(max_length=50)] | None = None
    order_by: Annotated[str, StringConstraints(max_length=500)] | None = None


class RunOptions(_Strict):
    page_size: PageSize = 0
    page_token: PageToken = ""
    time_zone: TimeZone = ""


class RunIn(DefinitionIn, RunOptions):
    """An unsaved definition to run (the report builder's preview)."""


class ExportOptions(_Strict):
    format: Literal["xlsx", "ics"]
    time_zone: TimeZone = ""
    date_field: Annotated[str, StringConstraints(max_length=64)] = Field(
        "", description="ICS: the date or time field placing each record; empty = the module's default."
    )


class ExportIn(DefinitionIn, ExportOptions):
    """An unsaved definition to export."""


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["xlsx", "ics"]
    time_zone: TimeZone = ""
    date_field: Annotated[str, StringConstraints(max_length=64)] = ""


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: PageSize = 0
    page_token: PageToken = ""
    q: Annotated[str, StringConstraints(max_length=200), Field(description="Search in names and descriptions.")] = ""
    module: Module | None = None


class ColumnOut(BaseModel):
    key: str
    label: str
    type: Literal["string", "integer", "decimal", "money", "date", "timestamp", "bool"]


class RunOut(BaseModel):
    """A page of a report's rows: one value per column, typed by the column (money as
    {"amount", "currency_code"}, decimals as strings, dates as YYYY-MM-DD, timestamps as RFC 3339
    UTC, null when empty)."""

    columns: list[ColumnOut]
    rows: list[list[Any]]
    next_page_token: str
    total_row_count: int
    data_time: str | None = Field(description="The newest event the rows include.")


class Empty(_Strict):
    pass


def _stub() -> reporting_pb2_grpc.ReportingServiceStub:
    return stub(reporting_pb2_grpc.ReportingServiceStub, "reporting")


def _definition_message(data: dict[str, Any]) -> pb.ReportDefinition:
    for g in data.get("groupings") or []:
        if g.get("date_bucket") is None:
            g.pop("date_bucket", None)
    return from_json(pb.ReportDefinition(), data)


def _definition_fields(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(include=set(DefinitionIn.model_fields), exclude_unset=False)


def _fetch(report_id: str) -> pb.ReportDefinition:
    """The definition, when the caller may see it (404 otherwise, as for a missing one)."""
    definition = call("reporting", _stub().GetReportDefinition, pb.GetReportDefinitionRequest(id=report_id))
    found = definition.report_definition
    scope = change_scope()
    if not found.shared and scope is not None and found.owner_id not in scope:
        raise _not_found(report_id)
    return found


def _not_found(report_id: str) -> ProblemError:
    return ProblemError(404, "report_not_found", f"report '{report_id}' not found")


def _fetch_for_change(report_id: str) -> pb.ReportDefinition:
    found = _fetch(report_id)
    scope = change_scope()
    if scope is not None and found.owner_id not in scope:
        raise ProblemError(403, "forbidden", "you may not change this report: it is not yours")
    return found


def _module_word(module: int) -> str:
    return pb.ReportModule.Name(module).removeprefix("REPORT_MODULE_").lower()


def _owner_scope(module: str) -> list[str]:
    """The owners whose records a run of this module reads; [] = every owner."""
    scope = read_scope(module)
    return [] if scope is None else sorted(scope)


ONE = ProtoJson(pb.ReportDefinition)


@res.route("GET", "/api/v1/reports", query=ListQuery, response=ProtoPage(pb.ReportDefinition))
def list_reports(query: ListQuery) -> Response:
    """List the saved reports the caller may see (their own, their team's for a manager, the shared ones)."""
    scope = change_scope()
    req = pb.ListReportDefinitionsRequest(
        page_size=query.page_size,
        page_token=query.page_token,
        query=query.q,
        owner_ids=[] if scope is None else sorted(scope),
        include_shared=scope is not None,
    )
    if query.module:
        req.module = pb.ReportModule.Value(f"REPORT_MODULE_{query.module.upper()}")
    found = call("reporting", _stub().ListReportDefinitions, req)
    return respond(page(list(found.report_definitions), found.next_page_token))


@res.route(
    "POST",
    "/api/v1/reports",
    body=ReportCreate,
    response=ONE,
    status=201,
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_report(body: ReportCreate) -> Response:
    """Save a report definition (owned by the caller).
    Field names are checked against the module: an unknown field, operator or a wrong value is a 400
    whose `errors` name the part ("report_definition.filters[1].field")."""
    p = principal()
    msg = _definition_message(_definition_fields(body))
    msg.name, msg.description, msg.shared, msg.owner_id = body.name, body.description, body.shared, p.id
    created = call(
        "reporting",
        _stub().CreateReportDefinition,
        pb.CreateReportDefinitionRequest(report_definition=msg, request_id=idempotency_key(p.id)),
    ).report_definition
    location = url_for("reports.get_report", report_id=created.id)
    return respond(to_json(created), 201, {"Location": location, **etag(created.version)})


class CatalogueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    module: Module | None = Field(None, description="One module; none = every module.")


@res.route("GET", "/api/v1/reports/catalogue", query=CatalogueQuery, response=ProtoJson(pb.GetReportCatalogueResponse))
def get_report_catalogue(query: CatalogueQuery) -> Response:
    """The fields a report may use, per module (the report builder's catalogue).
    For each field: its `key` (what filters, groupings, aggregates, columns and order_by name), its
    `type` (which says how its cells look in a run: see the run's answer), whether it can be
    filtered, grouped and aggregated (sum, avg, min, max; count takes no field), the `date_buckets`
    a grouping on it may use (only `none` unless it is a date or a time; none at all when it cannot
    be grouped), the values an enum-like field takes (`choices`, as filters name them), and its
    labels in Spanish (`label_es`, the product's language) and English (`label_en`). Served from the
    reporting service, which checks definitions against the same catalogue."""
    req = pb.GetReportCatalogueRequest()
    if query.module:
        req.module = pb.ReportModule.Value(f"REPORT_MODULE_{query.module.upper()}")
    return respond(to_json(call("reporting", _stub().GetReportCatalogue, req)))


@res.route("GET", "/api/v1/reports/<id:report_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_report(report_id: str) -> Response:
    """Get a saved report definition."""
    found = _fetch(report_id)
    return respond(to_json(found), headers=etag(found.version))


@res.route("PATCH", "/api/v1/reports/<id:report_id>", body=ReportPatch, response=ONE, **CHANGE)
def update_report(report_id: str, body: ReportPatch) -> Response:
    """Change a saved report (its owner, their manager, or an admin)."""
    changed = body.model_dump(exclude_unset=True)
    if not changed:
        raise ProblemError(400, "empty_update", "name at least one field to change")
    if any(v is None for v in changed.values()):
        nulls = ", ".join(sorted(k for k, v in changed.items() if v is None))
        raise ProblemError(400, "null_field", f"these fields cannot be null: {nulls}")
    current = _fetch_for_change(report_id)
    msg = _definition_message({k: v for k, v in changed.items() if k in DefinitionIn.model_fields})
    msg.id = report_id
    for name in ("name", "description", "shared"):
        if name in changed:
            setattr(msg, name, changed[name])
    if "module" not in changed:
        msg.module = current.module
    updated = call(
        "reporting",
        _stub().UpdateReportDefinition,
        pb.UpdateReportDefinitionRequest(
            report_definition=msg,
            update_mask=FieldMask(paths=sorted(changed)),
            expected_version=check_version(if_match(), current.version, "report"),
        ),
    ).report_definition
    return respond(to_json(updated), headers=etag(updated.version))


@res.route("DELETE", "/api/v1/reports/<id:report_id>", status=204, errors=(404,))
def delete_report(report_id: str) -> Response:
    """Delete a saved report (its owner, their manager, or an admin)."""
    _fetch_for_change(report_id)
    call("reporting", _stub().DeleteReportDefinition, pb.DeleteReportDefinitionRequest(id=report_id))
    return Response(status=204)


# --- runs -----------------------------------------------------------------------------------------


def _cell_json(cell: pb.Cell) -> Any:
    which = cell.WhichOneof("value")
    if which is None:
        return None
    value = getattr(cell, which)
    if which in ("money_value", "date_value", "timestamp_value"):
        return to_json(value)
    return value


def _run(req: pb.RunReportRequest) -> Response:
    found = call("reporting", _stub().RunReport, req, timeout=RUN_DEADLINE_SECONDS)
    body = {
        "columns": [
            {"key": c.key, "label": c.label, "type": pb.ColumnType.Name(c.type).removeprefix("COLUMN_TYPE_").lower()}
            for c in found.columns
        ],
        "rows": [[_cell_json(c) for c in row.cells] for row in found.rows],
        "next_page_token": found.next_page_token,
        "total_row_count": found.total_row_count,
        "data_time": to_json(found.data_time) if found.HasField("data_time") else None,
    }
    return respond(body)


@res.route("POST", "/api/v1/reports:run", body=RunIn, response=RunOut)
def run_unsaved_report(body: RunIn) -> Response:
    """Run a definition without saving it; answers one page of its rows.
    The rows are only those of the records the caller may see."""
    definition = _definition_message(_definition_fields(body))
    return _run(
        pb.RunReportRequest(
            report_definition=definition,
            page_size=body.page_size,
            page_token=body.page_token,
            time_zone=body.time_zone,
            owner_ids=_owner_scope(body.module),
        )
    )


@res.route("POST", "/api/v1/reports/<id:report_id>:run", body=RunOptions, response=RunOut, errors=(404,))
def run_saved_report(report_id: str, body: RunOptions) -> Response:
    """Run a saved report over the records the caller may see; answers one page of its rows."""
    found = _fetch(report_id)
    return _run(
        pb.RunReportRequest(
            report_definition_id=report_id,
            page_size=body.page_size,
            page_token=body.page_token,
            time_zone=body.time_zone,
            owner_ids=_owner_scope(_module_word(found.module)),
        )
    )


# --- exports --------------------------------------------------------------------------------------

FORMATS = {"xlsx": pb.EXPORT_FORMAT_XLSX, "ics": pb.EXPORT_FORMAT_ICS}


def _metadata() -> list[tuple[str, str]]:
    """What the channel's interceptor adds to unary calls (it does not see streaming ones)."""
    md = []
    if current_request_id():
        md.append((REQUEST_ID_HEADER, current_request_id()))
    if current_actor():
        md.append((ACTOR_HEADER, current_actor()))
    token = platform_settings().internal_token
    if token:
        md.append((INTERNAL_TOKEN_HEADER, token))
    return md


def _stream_export(req: pb.ExportReportRequest) -> Response:
    chunks = _stub().StreamExportReport(req, timeout=EXPORT_DEADLINE_SECONDS, metadata=_metadata())
    try:
        first = next(chunks)  # a refused export fails here, before any byte is sent
    except StopIteration:
        raise ProblemError(503, "service_unavailable", "the reporting service sent no file; retry later") from None
    except grpc.RpcError as exc:
        raise UpstreamError(decode_error(exc), "reporting") from None

    def body() -> Iterator[bytes]:
        yield first.content
        try:
            for chunk in chunks:
                yield chunk.content
        finally:
            chunks.cancel()  # the client went away: stop the service's export too

    return Response(
        stream_with_context(body()),
        mimetype=first.content_type,
        headers={"Content-Disposition": f'attachment; filename="{first.filename}"'},
    )


XLSX_ICS = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/calendar")


@res.route("GET", "/api/v1/reports/<id:report_id>/export", query=ExportQuery, content_type=XLSX_ICS, errors=(404,))
def export_saved_report(report_id: str, query: ExportQuery) -> Response:
    """Export a saved report as an Excel workbook (format=xlsx) or a calendar (format=ics, text/calendar).
    Only the records the caller may see. A calendar needs a report of dated records without
    groupings (400 otherwise)."""
    found = _fetch(report_id)
    return _stream_export(
        pb.ExportReportRequest(
            report_definition_id=report_id,
            format=FORMATS[query.format],
            time_zone=query.time_zone,
            date_field=query.date_field,
            owner_ids=_owner_scope(_module_word(found.module)),
        )
    )


@res.route("POST", "/api/v1/reports:export", body=ExportIn, content_type=XLSX_ICS)
def export_unsaved_report(body: ExportIn) -> Response:
    """Export a definition without saving it, as an Excel workbook or a calendar (see the GET export)."""
    return _stream_export(
        pb.ExportReportRequest(
            report_definition=_definition_message(_definition_fields(body)),
            format=FORMATS[body.format],
            time_zone=body.time_zone,
            date_field=body.date_field,
            owner_ids=_owner_scope(body.module),
        )
    )
