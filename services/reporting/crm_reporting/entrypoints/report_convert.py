"""Protobuf ↔ domain for reports: definitions (enums by name, UNSPECIFIED read as "not given"),
and a run's typed values as Cells."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from google.protobuf.message import Message

from crm.common.v1 import types_pb2
from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.money import Money
from crm_platform.protoconv import EnumMap, timestamp
from crm_reporting.adapters.report_query import OutputColumn
from crm_reporting.domain.report_catalogue import MODULES, FieldType, ReportModule
from crm_reporting.domain.report_definitions import (
    Aggregate,
    AggregateFunction,
    Bucket,
    Filter,
    Grouping,
    Operator,
    ReportSpec,
    SavedReport,
)
from crm_reporting.domain.report_labels_en import FIELD_LABELS_EN, MODULE_LABELS_EN

MODULE: EnumMap[str, pb.ReportModule] = EnumMap(
    "report module", {name: pb.ReportModule.Value(f"REPORT_MODULE_{name.upper()}") for name in MODULES}
)
OPERATOR: EnumMap[Operator, pb.FilterOperator] = EnumMap(
    "filter operator", {o: pb.FilterOperator.Value(f"FILTER_OPERATOR_{o.name}") for o in Operator}
)
BUCKET: EnumMap[Bucket, pb.DateBucket] = EnumMap(
    "date bucket", {b: pb.DateBucket.Value(f"DATE_BUCKET_{b.name}") for b in Bucket}
)
FUNCTION: EnumMap[AggregateFunction, pb.AggregateFunction] = EnumMap(
    "aggregate function", {f: pb.AggregateFunction.Value(f"AGGREGATE_FUNCTION_{f.name}") for f in AggregateFunction}
)
COLUMN_TYPE: dict[FieldType, pb.ColumnType] = {t: pb.ColumnType.Value(f"COLUMN_TYPE_{t.name}") for t in FieldType}


def spec_from_proto(
    msg: pb.ReportDefinition, prefix: str = "report_definition.", *, require_module: bool = True
) -> ReportSpec:
    """The definition's parts; without `require_module` (an update that keeps the module) an
    unset module is read as "" and the stored one is used."""
    module = MODULE.from_proto(msg.module, f"{prefix}module")
    if module is None:
        if require_module:
            raise InvalidArgument.field(f"{prefix}module", f"name a module ({', '.join(MODULES)})")
        module = ""
    problems: list[FieldViolation] = []

    def enum(m: EnumMap[Any, Any], number: int, name: str) -> Any:
        try:
            return m.from_proto(number, name)
        except InvalidArgument as exc:
            problems.extend(exc.violations)
            return None

    filters = tuple(
        Filter(f.field, enum(OPERATOR, f.operator, f"{prefix}filters[{i}].operator"), tuple(f.values))
        for i, f in enumerate(msg.filters)
    )
    groupings = tuple(
        Grouping(g.field, enum(BUCKET, g.date_bucket, f"{prefix}groupings[{i}].date_bucket") or Bucket.NONE)
        for i, g in enumerate(msg.groupings)
    )
    aggregates = tuple(
        Aggregate(enum(FUNCTION, a.function, f"{prefix}aggregates[{i}].function"), a.field)
        for i, a in enumerate(msg.aggregates)
    )
    if problems:
        raise InvalidArgument(problems)
    return ReportSpec(
        module=module,
        filters=filters,
        groupings=groupings,
        aggregates=aggregates,
        columns=tuple(msg.columns),
        order_by=msg.order_by,
    )


def draft_from_proto(msg: pb.ReportDefinition) -> SavedReport:
    return SavedReport(
        id=msg.id,
        name=msg.name,
        description=msg.description,
        spec=spec_from_proto(msg),
        owner_id=msg.owner_id,
        shared=msg.shared,
        created_at=None,
        updated_at=None,
        version=0,
    )


def lenient_draft_from_proto(msg: pb.ReportDefinition, paths: frozenset[str]) -> SavedReport:
    """An update's draft: the definition's parts are read only when the mask names them."""
    spec = spec_from_proto(msg, require_module="*" in paths or "module" in paths)
    return SavedReport(msg.id, msg.name, msg.description, spec, msg.owner_id, msg.shared, None, None, 0)


def definition_to_proto(report: SavedReport) -> pb.ReportDefinition:
    s = report.spec
    return pb.ReportDefinition(
        id=report.id,
        name=report.name,
        description=report.description,
        module=MODULE.to_proto(s.module),
        filters=[
            pb.ReportFilter(
                field=f.field,
                operator=OPERATOR.to_proto(f.operator) if f.operator is not None else pb.FILTER_OPERATOR_UNSPECIFIED,
                values=list(f.values),
            )
            for f in s.filters
        ],
        groupings=[pb.GroupBy(field=g.field, date_bucket=BUCKET.to_proto(g.bucket)) for g in s.groupings],
        aggregates=[
            pb.Aggregate(
                function=FUNCTION.to_proto(a.function) if a.function is not None else pb.AGGREGATE_FUNCTION_UNSPECIFIED,
                field=a.field,
            )
            for a in s.aggregates
        ],
        columns=list(s.columns),
        order_by=s.order_by,
        owner_id=report.owner_id,
        shared=report.shared,
        create_time=timestamp(report.created_at),
        update_time=timestamp(report.updated_at),
        version=report.version,
    )


def module_fields_to_proto(module: ReportModule) -> pb.ReportModuleFields:
    """A module's report fields as the catalogue shows them (GetReportCatalogue)."""
    fields = []
    for f in module.fields.values():
        # A grouping on a date or time may bucket it; on anything else only by its exact value.
        buckets = [] if not f.groupable else list(Bucket) if f.dated else [Bucket.NONE]
        fields.append(
            pb.ReportField(
                key=f.name,
                type=COLUMN_TYPE[f.type],
                filterable=f.filterable,
                groupable=f.groupable,
                aggregatable=f.aggregatable,
                date_buckets=[BUCKET.to_proto(b) for b in buckets],
                label_es=f.label,
                label_en=FIELD_LABELS_EN[f.name],
                choices=list(f.choices),
                is_list=f.is_list,
            )
        )
    return pb.ReportModuleFields(
        module=MODULE.to_proto(module.name),
        label_es=module.label,
        label_en=MODULE_LABELS_EN[module.name],
        fields=fields,
        default_columns=list(module.default_columns),
    )


def column_to_proto(col: OutputColumn) -> pb.Column:
    return pb.Column(key=col.key, label=col.label, type=COLUMN_TYPE[col.type])


def cell_to_proto(value: Any, type_: FieldType) -> pb.Cell:
    if value is None:
        return pb.Cell()
    if type_ == FieldType.MONEY:
        assert isinstance(value, Money)
        return pb.Cell(money_value=types_pb2.Money(**value.to_proto_fields()))
    if type_ == FieldType.DATE:
        d: date = value
        return pb.Cell(date_value=types_pb2.Date(year=d.year, month=d.month, day=d.day))
    if type_ == FieldType.TIMESTAMP:
        t: datetime = value
        return pb.Cell(timestamp_value=timestamp(t))
    if type_ == FieldType.INTEGER:
        return pb.Cell(integer_value=int(value))
    if type_ == FieldType.DECIMAL:
        return pb.Cell(decimal_value=format(Decimal(value), "f"))
    if type_ == FieldType.BOOL:
        return pb.Cell(bool_value=bool(value))
    return pb.Cell(string_value=str(value))


def row_to_proto(values: list[Any], columns: list[OutputColumn]) -> pb.Row:
    return pb.Row(cells=[cell_to_proto(v, c.type) for v, c in zip(values, columns, strict=True)])


def source_of(request: Message) -> tuple[ReportSpec | None, str]:
    """The unsaved definition or the saved id a run/export request names."""
    which = request.WhichOneof("source")
    if which == "report_definition":
        return spec_from_proto(request.report_definition), ""
    if which == "report_definition_id":
        return None, request.report_definition_id
    raise InvalidArgument.field("report_definition", "give a definition or the id of a saved one")
