import datetime

from crm.common.v1 import types_pb2 as _types_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PeriodKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERIOD_KIND_UNSPECIFIED: _ClassVar[PeriodKind]
    PERIOD_KIND_MONTH: _ClassVar[PeriodKind]
    PERIOD_KIND_QUARTER: _ClassVar[PeriodKind]
    PERIOD_KIND_YEAR: _ClassVar[PeriodKind]

class ReportModule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_MODULE_UNSPECIFIED: _ClassVar[ReportModule]
    REPORT_MODULE_CLIENTS: _ClassVar[ReportModule]
    REPORT_MODULE_CONTACTS: _ClassVar[ReportModule]
    REPORT_MODULE_PROSPECTS: _ClassVar[ReportModule]
    REPORT_MODULE_DEALS: _ClassVar[ReportModule]
    REPORT_MODULE_ACTIVITIES: _ClassVar[ReportModule]
    REPORT_MODULE_QUOTES: _ClassVar[ReportModule]
    REPORT_MODULE_PRODUCTS: _ClassVar[ReportModule]
    REPORT_MODULE_CAMPAIGNS: _ClassVar[ReportModule]

class FilterOperator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILTER_OPERATOR_UNSPECIFIED: _ClassVar[FilterOperator]
    FILTER_OPERATOR_EQUALS: _ClassVar[FilterOperator]
    FILTER_OPERATOR_NOT_EQUALS: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_CONTAINS: _ClassVar[FilterOperator]
    FILTER_OPERATOR_BETWEEN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GREATER_THAN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LESS_THAN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GREATER_OR_EQUAL: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LESS_OR_EQUAL: _ClassVar[FilterOperator]

class DateBucket(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATE_BUCKET_UNSPECIFIED: _ClassVar[DateBucket]
    DATE_BUCKET_NONE: _ClassVar[DateBucket]
    DATE_BUCKET_DAY: _ClassVar[DateBucket]
    DATE_BUCKET_WEEK: _ClassVar[DateBucket]
    DATE_BUCKET_MONTH: _ClassVar[DateBucket]
    DATE_BUCKET_QUARTER: _ClassVar[DateBucket]
    DATE_BUCKET_YEAR: _ClassVar[DateBucket]

class AggregateFunction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATE_FUNCTION_UNSPECIFIED: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_COUNT: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_SUM: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_AVG: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_MIN: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_MAX: _ClassVar[AggregateFunction]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_XLSX: _ClassVar[ExportFormat]
    EXPORT_FORMAT_ICS: _ClassVar[ExportFormat]

class ColumnType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLUMN_TYPE_UNSPECIFIED: _ClassVar[ColumnType]
    COLUMN_TYPE_STRING: _ClassVar[ColumnType]
    COLUMN_TYPE_INTEGER: _ClassVar[ColumnType]
    COLUMN_TYPE_DECIMAL: _ClassVar[ColumnType]
    COLUMN_TYPE_MONEY: _ClassVar[ColumnType]
    COLUMN_TYPE_DATE: _ClassVar[ColumnType]
    COLUMN_TYPE_TIMESTAMP: _ClassVar[ColumnType]
    COLUMN_TYPE_BOOL: _ClassVar[ColumnType]

class IndicatorScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDICATOR_SCOPE_UNSPECIFIED: _ClassVar[IndicatorScope]
    INDICATOR_SCOPE_USER: _ClassVar[IndicatorScope]
    INDICATOR_SCOPE_TEAM: _ClassVar[IndicatorScope]
    INDICATOR_SCOPE_COMPANY: _ClassVar[IndicatorScope]

class AttainmentBreakdown(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTAINMENT_BREAKDOWN_UNSPECIFIED: _ClassVar[AttainmentBreakdown]
    ATTAINMENT_BREAKDOWN_USERS: _ClassVar[AttainmentBreakdown]
    ATTAINMENT_BREAKDOWN_TEAMS: _ClassVar[AttainmentBreakdown]
PERIOD_KIND_UNSPECIFIED: PeriodKind
PERIOD_KIND_MONTH: PeriodKind
PERIOD_KIND_QUARTER: PeriodKind
PERIOD_KIND_YEAR: PeriodKind
REPORT_MODULE_UNSPECIFIED: ReportModule
REPORT_MODULE_CLIENTS: ReportModule
REPORT_MODULE_CONTACTS: ReportModule
REPORT_MODULE_PROSPECTS: ReportModule
REPORT_MODULE_DEALS: ReportModule
REPORT_MODULE_ACTIVITIES: ReportModule
REPORT_MODULE_QUOTES: ReportModule
REPORT_MODULE_PRODUCTS: ReportModule
REPORT_MODULE_CAMPAIGNS: ReportModule
FILTER_OPERATOR_UNSPECIFIED: FilterOperator
FILTER_OPERATOR_EQUALS: FilterOperator
FILTER_OPERATOR_NOT_EQUALS: FilterOperator
FILTER_OPERATOR_IN: FilterOperator
FILTER_OPERATOR_CONTAINS: FilterOperator
FILTER_OPERATOR_BETWEEN: FilterOperator
FILTER_OPERATOR_GREATER_THAN: FilterOperator
FILTER_OPERATOR_LESS_THAN: FilterOperator
FILTER_OPERATOR_GREATER_OR_EQUAL: FilterOperator
FILTER_OPERATOR_LESS_OR_EQUAL: FilterOperator
DATE_BUCKET_UNSPECIFIED: DateBucket
DATE_BUCKET_NONE: DateBucket
DATE_BUCKET_DAY: DateBucket
DATE_BUCKET_WEEK: DateBucket
DATE_BUCKET_MONTH: DateBucket
DATE_BUCKET_QUARTER: DateBucket
DATE_BUCKET_YEAR: DateBucket
AGGREGATE_FUNCTION_UNSPECIFIED: AggregateFunction
AGGREGATE_FUNCTION_COUNT: AggregateFunction
AGGREGATE_FUNCTION_SUM: AggregateFunction
AGGREGATE_FUNCTION_AVG: AggregateFunction
AGGREGATE_FUNCTION_MIN: AggregateFunction
AGGREGATE_FUNCTION_MAX: AggregateFunction
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_XLSX: ExportFormat
EXPORT_FORMAT_ICS: ExportFormat
COLUMN_TYPE_UNSPECIFIED: ColumnType
COLUMN_TYPE_STRING: ColumnType
COLUMN_TYPE_INTEGER: ColumnType
COLUMN_TYPE_DECIMAL: ColumnType
COLUMN_TYPE_MONEY: ColumnType
COLUMN_TYPE_DATE: ColumnType
COLUMN_TYPE_TIMESTAMP: ColumnType
COLUMN_TYPE_BOOL: ColumnType
INDICATOR_SCOPE_UNSPECIFIED: IndicatorScope
INDICATOR_SCOPE_USER: IndicatorScope
INDICATOR_SCOPE_TEAM: IndicatorScope
INDICATOR_SCOPE_COMPANY: IndicatorScope
ATTAINMENT_BREAKDOWN_UNSPECIFIED: AttainmentBreakdown
ATTAINMENT_BREAKDOWN_USERS: AttainmentBreakdown
ATTAINMENT_BREAKDOWN_TEAMS: AttainmentBreakdown

class Budget(_message.Message):
    __slots__ = ("id", "user_id", "team_id", "period_kind", "period_start", "target", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_KIND_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    team_id: str
    period_kind: PeriodKind
    period_start: _types_pb2.Date
    target: _types_pb2.Money
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., team_id: _Optional[str] = ..., period_kind: _Optional[_Union[PeriodKind, str]] = ..., period_start: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., target: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class ReportFilter(_message.Message):
    __slots__ = ("field", "operator", "values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    operator: FilterOperator
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., operator: _Optional[_Union[FilterOperator, str]] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class GroupBy(_message.Message):
    __slots__ = ("field", "date_bucket")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DATE_BUCKET_FIELD_NUMBER: _ClassVar[int]
    field: str
    date_bucket: DateBucket
    def __init__(self, field: _Optional[str] = ..., date_bucket: _Optional[_Union[DateBucket, str]] = ...) -> None: ...

class Aggregate(_message.Message):
    __slots__ = ("function", "field")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    function: AggregateFunction
    field: str
    def __init__(self, function: _Optional[_Union[AggregateFunction, str]] = ..., field: _Optional[str] = ...) -> None: ...

class ReportDefinition(_message.Message):
    __slots__ = ("id", "name", "description", "module", "filters", "groupings", "aggregates", "columns", "order_by", "owner_id", "shared", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    GROUPINGS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATES_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    module: ReportModule
    filters: _containers.RepeatedCompositeFieldContainer[ReportFilter]
    groupings: _containers.RepeatedCompositeFieldContainer[GroupBy]
    aggregates: _containers.RepeatedCompositeFieldContainer[Aggregate]
    columns: _containers.RepeatedScalarFieldContainer[str]
    order_by: str
    owner_id: str
    shared: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., module: _Optional[_Union[ReportModule, str]] = ..., filters: _Optional[_Iterable[_Union[ReportFilter, _Mapping]]] = ..., groupings: _Optional[_Iterable[_Union[GroupBy, _Mapping]]] = ..., aggregates: _Optional[_Iterable[_Union[Aggregate, _Mapping]]] = ..., columns: _Optional[_Iterable[str]] = ..., order_by: _Optional[str] = ..., owner_id: _Optional[str] = ..., shared: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("key", "label", "type")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    type: ColumnType
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., type: _Optional[_Union[ColumnType, str]] = ...) -> None: ...

class Cell(_message.Message):
    __slots__ = ("string_value", "integer_value", "decimal_value", "money_value", "date_value", "timestamp_value", "bool_value")
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    INTEGER_VALUE_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    MONEY_VALUE_FIELD_NUMBER: _ClassVar[int]
    DATE_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    string_value: str
    integer_value: int
    decimal_value: str
    money_value: _types_pb2.Money
    date_value: _types_pb2.Date
    timestamp_value: _timestamp_pb2.Timestamp
    bool_value: bool
    def __init__(self, string_value: _Optional[str] = ..., integer_value: _Optional[int] = ..., decimal_value: _Optional[str] = ..., money_value: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., date_value: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., timestamp_value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class Row(_message.Message):
    __slots__ = ("cells",)
    CELLS_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    def __init__(self, cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ...) -> None: ...

class BudgetAttainment(_message.Message):
    __slots__ = ("target", "achieved", "attainment")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_FIELD_NUMBER: _ClassVar[int]
    ATTAINMENT_FIELD_NUMBER: _ClassVar[int]
    target: _types_pb2.Money
    achieved: _types_pb2.Money
    attainment: str
    def __init__(self, target: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., achieved: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., attainment: _Optional[str] = ...) -> None: ...

class StageValue(_message.Message):
    __slots__ = ("pipeline_id", "stage_id", "stage_name", "deal_count", "amount")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    stage_id: str
    stage_name: str
    deal_count: int
    amount: _types_pb2.Money
    def __init__(self, pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_name: _Optional[str] = ..., deal_count: _Optional[int] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class RepActivityCount(_message.Message):
    __slots__ = ("user_id", "activity_kind", "done_count")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_KIND_FIELD_NUMBER: _ClassVar[int]
    DONE_COUNT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    activity_kind: str
    done_count: int
    def __init__(self, user_id: _Optional[str] = ..., activity_kind: _Optional[str] = ..., done_count: _Optional[int] = ...) -> None: ...

class CampaignIndicator(_message.Message):
    __slots__ = ("campaign_id", "campaign_name", "cost", "lead_count", "cost_per_lead", "roi")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_NAME_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    LEAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    COST_PER_LEAD_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    campaign_name: str
    cost: _types_pb2.Money
    lead_count: int
    cost_per_lead: _types_pb2.Money
    roi: str
    def __init__(self, campaign_id: _Optional[str] = ..., campaign_name: _Optional[str] = ..., cost: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., lead_count: _Optional[int] = ..., cost_per_lead: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., roi: _Optional[str] = ...) -> None: ...

class Indicators(_message.Message):
    __slots__ = ("scope", "scope_id", "period_kind", "period_start", "period_end", "budget_attainments", "pipeline_stage_values", "weighted_forecasts", "win_rate", "average_deal_sizes", "average_sales_cycle_days", "activities_done", "prospect_conversion_rate", "quote_acceptance_rate", "campaigns", "data_time")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_KIND_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    BUDGET_ATTAINMENTS_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_STAGE_VALUES_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_FORECASTS_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_DEAL_SIZES_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_SALES_CYCLE_DAYS_FIELD_NUMBER: _ClassVar[int]
    ACTIVITIES_DONE_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_CONVERSION_RATE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ACCEPTANCE_RATE_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    DATA_TIME_FIELD_NUMBER: _ClassVar[int]
    scope: IndicatorScope
    scope_id: str
    period_kind: PeriodKind
    period_start: _types_pb2.Date
    period_end: _types_pb2.Date
    budget_attainments: _containers.RepeatedCompositeFieldContainer[BudgetAttainment]
    pipeline_stage_values: _containers.RepeatedCompositeFieldContainer[StageValue]
    weighted_forecasts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Money]
    win_rate: str
    average_deal_sizes: _containers.RepeatedCompositeFieldContainer[_types_pb2.Money]
    average_sales_cycle_days: str
    activities_done: _containers.RepeatedCompositeFieldContainer[RepActivityCount]
    prospect_conversion_rate: str
    quote_acceptance_rate: str
    campaigns: _containers.RepeatedCompositeFieldContainer[CampaignIndicator]
    data_time: _timestamp_pb2.Timestamp
    def __init__(self, scope: _Optional[_Union[IndicatorScope, str]] = ..., scope_id: _Optional[str] = ..., period_kind: _Optional[_Union[PeriodKind, str]] = ..., period_start: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., period_end: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., budget_attainments: _Optional[_Iterable[_Union[BudgetAttainment, _Mapping]]] = ..., pipeline_stage_values: _Optional[_Iterable[_Union[StageValue, _Mapping]]] = ..., weighted_forecasts: _Optional[_Iterable[_Union[_types_pb2.Money, _Mapping]]] = ..., win_rate: _Optional[str] = ..., average_deal_sizes: _Optional[_Iterable[_Union[_types_pb2.Money, _Mapping]]] = ..., average_sales_cycle_days: _Optional[str] = ..., activities_done: _Optional[_Iterable[_Union[RepActivityCount, _Mapping]]] = ..., prospect_conversion_rate: _Optional[str] = ..., quote_acceptance_rate: _Optional[str] = ..., campaigns: _Optional[_Iterable[_Union[CampaignIndicator, _Mapping]]] = ..., data_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBudgetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetBudgetResponse(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class ListBudgetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "user_id", "team_id", "period_kind", "period_start_from", "period_start_to")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_KIND_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FROM_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_TO_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    user_id: str
    team_id: str
    period_kind: PeriodKind
    period_start_from: _types_pb2.Date
    period_start_to: _types_pb2.Date
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., user_id: _Optional[str] = ..., team_id: _Optional[str] = ..., period_kind: _Optional[_Union[PeriodKind, str]] = ..., period_start_from: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., period_start_to: _Optional[_Union[_types_pb2.Date, _Mapping]] = ...) -> None: ...

class ListBudgetsResponse(_message.Message):
    __slots__ = ("budgets", "next_page_token")
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    budgets: _containers.RepeatedCompositeFieldContainer[Budget]
    next_page_token: str
    def __init__(self, budgets: _Optional[_Iterable[_Union[Budget, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateBudgetRequest(_message.Message):
    __slots__ = ("budget", "request_id")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    request_id: str
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateBudgetResponse(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class UpdateBudgetRequest(_message.Message):
    __slots__ = ("budget", "update_mask", "expected_version")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateBudgetResponse(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class DeleteBudgetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteBudgetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetReportDefinitionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetReportDefinitionResponse(_message.Message):
    __slots__ = ("report_definition",)
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    report_definition: ReportDefinition
    def __init__(self, report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ...) -> None: ...

class ListReportDefinitionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "module", "owner_ids", "include_shared")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SHARED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    module: ReportModule
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    include_shared: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., module: _Optional[_Union[ReportModule, str]] = ..., owner_ids: _Optional[_Iterable[str]] = ..., include_shared: _Optional[bool] = ...) -> None: ...

class ListReportDefinitionsResponse(_message.Message):
    __slots__ = ("report_definitions", "next_page_token")
    REPORT_DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    report_definitions: _containers.RepeatedCompositeFieldContainer[ReportDefinition]
    next_page_token: str
    def __init__(self, report_definitions: _Optional[_Iterable[_Union[ReportDefinition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateReportDefinitionRequest(_message.Message):
    __slots__ = ("report_definition", "request_id")
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    report_definition: ReportDefinition
    request_id: str
    def __init__(self, report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateReportDefinitionResponse(_message.Message):
    __slots__ = ("report_definition",)
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    report_definition: ReportDefinition
    def __init__(self, report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ...) -> None: ...

class UpdateReportDefinitionRequest(_message.Message):
    __slots__ = ("report_definition", "update_mask", "expected_version")
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    report_definition: ReportDefinition
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateReportDefinitionResponse(_message.Message):
    __slots__ = ("report_definition",)
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    report_definition: ReportDefinition
    def __init__(self, report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ...) -> None: ...

class DeleteReportDefinitionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteReportDefinitionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunReportRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "report_definition", "report_definition_id", "time_zone", "owner_ids")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    REPORT_DEFINITION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    report_definition: ReportDefinition
    report_definition_id: str
    time_zone: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ..., report_definition_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RunReportResponse(_message.Message):
    __slots__ = ("columns", "rows", "next_page_token", "total_row_count", "data_time")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    DATA_TIME_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    rows: _containers.RepeatedCompositeFieldContainer[Row]
    next_page_token: str
    total_row_count: int
    data_time: _timestamp_pb2.Timestamp
    def __init__(self, columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[Row, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_row_count: _Optional[int] = ..., data_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportReportRequest(_message.Message):
    __slots__ = ("report_definition", "report_definition_id", "format", "time_zone", "date_field", "owner_ids")
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    REPORT_DEFINITION_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    report_definition: ReportDefinition
    report_definition_id: str
    format: ExportFormat
    time_zone: str
    date_field: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, report_definition: _Optional[_Union[ReportDefinition, _Mapping]] = ..., report_definition_id: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., time_zone: _Optional[str] = ..., date_field: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportReportResponse(_message.Message):
    __slots__ = ("content", "content_type", "filename")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    content_type: str
    filename: str
    def __init__(self, content: _Optional[bytes] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ExportReportChunk(_message.Message):
    __slots__ = ("content", "content_type", "filename")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    content_type: str
    filename: str
    def __init__(self, content: _Optional[bytes] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ReportField(_message.Message):
    __slots__ = ("key", "type", "filterable", "groupable", "aggregatable", "date_buckets", "label_es", "label_en", "choices", "is_list")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTERABLE_FIELD_NUMBER: _ClassVar[int]
    GROUPABLE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATABLE_FIELD_NUMBER: _ClassVar[int]
    DATE_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    LABEL_ES_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    IS_LIST_FIELD_NUMBER: _ClassVar[int]
    key: str
    type: ColumnType
    filterable: bool
    groupable: bool
    aggregatable: bool
    date_buckets: _containers.RepeatedScalarFieldContainer[DateBucket]
    label_es: str
    label_en: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    is_list: bool
    def __init__(self, key: _Optional[str] = ..., type: _Optional[_Union[ColumnType, str]] = ..., filterable: _Optional[bool] = ..., groupable: _Optional[bool] = ..., aggregatable: _Optional[bool] = ..., date_buckets: _Optional[_Iterable[_Union[DateBucket, str]]] = ..., label_es: _Optional[str] = ..., label_en: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ..., is_list: _Optional[bool] = ...) -> None: ...

class ReportModuleFields(_message.Message):
    __slots__ = ("module", "label_es", "label_en", "fields", "default_columns")
    MODULE_FIELD_NUMBER: _ClassVar[int]
    LABEL_ES_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    module: ReportModule
    label_es: str
    label_en: str
    fields: _containers.RepeatedCompositeFieldContainer[ReportField]
    default_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, module: _Optional[_Union[ReportModule, str]] = ..., label_es: _Optional[str] = ..., label_en: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[ReportField, _Mapping]]] = ..., default_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class GetReportCatalogueRequest(_message.Message):
    __slots__ = ("module",)
    MODULE_FIELD_NUMBER: _ClassVar[int]
    module: ReportModule
    def __init__(self, module: _Optional[_Union[ReportModule, str]] = ...) -> None: ...

class GetReportCatalogueResponse(_message.Message):
    __slots__ = ("modules",)
    MODULES_FIELD_NUMBER: _ClassVar[int]
    modules: _containers.RepeatedCompositeFieldContainer[ReportModuleFields]
    def __init__(self, modules: _Optional[_Iterable[_Union[ReportModuleFields, _Mapping]]] = ...) -> None: ...

class GetIndicatorsRequest(_message.Message):
    __slots__ = ("scope", "scope_id", "period_kind", "period_start")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_KIND_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    scope: IndicatorScope
    scope_id: str
    period_kind: PeriodKind
    period_start: _types_pb2.Date
    def __init__(self, scope: _Optional[_Union[IndicatorScope, str]] = ..., scope_id: _Optional[str] = ..., period_kind: _Optional[_Union[PeriodKind, str]] = ..., period_start: _Optional[_Union[_types_pb2.Date, _Mapping]] = ...) -> None: ...

class GetIndicatorsResponse(_message.Message):
    __slots__ = ("indicators",)
    INDICATORS_FIELD_NUMBER: _ClassVar[int]
    indicators: Indicators
    def __init__(self, indicators: _Optional[_Union[Indicators, _Mapping]] = ...) -> None: ...

class GetAttainmentsRequest(_message.Message):
    __slots__ = ("scope", "scope_id", "period_kind", "period_start", "period_count", "breakdown")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_KIND_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_COUNT_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    scope: IndicatorScope
    scope_id: str
    period_kind: PeriodKind
    period_start: _types_pb2.Date
    period_count: int
    breakdown: AttainmentBreakdown
    def __init__(self, scope: _Optional[_Union[IndicatorScope, str]] = ..., scope_id: _Optional[str] = ..., period_kind: _Optional[_Union[PeriodKind, str]] = ..., period_start: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., period_count: _Optional[int] = ..., breakdown: _Optional[_Union[AttainmentBreakdown, str]] = ...) -> None: ...

class ScopeAttainment(_message.Message):
    __slots__ = ("scope", "scope_id", "period_start", "period_end", "budget_attainments")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    BUDGET_ATTAINMENTS_FIELD_NUMBER: _ClassVar[int]
    scope: IndicatorScope
    scope_id: str
    period_start: _types_pb2.Date
    period_end: _types_pb2.Date
    budget_attainments: _containers.RepeatedCompositeFieldContainer[BudgetAttainment]
    def __init__(self, scope: _Optional[_Union[IndicatorScope, str]] = ..., scope_id: _Optional[str] = ..., period_start: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., period_end: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., budget_attainments: _Optional[_Iterable[_Union[BudgetAttainment, _Mapping]]] = ...) -> None: ...

class GetAttainmentsResponse(_message.Message):
    __slots__ = ("attainments", "data_time")
    ATTAINMENTS_FIELD_NUMBER: _ClassVar[int]
    DATA_TIME_FIELD_NUMBER: _ClassVar[int]
    attainments: _containers.RepeatedCompositeFieldContainer[ScopeAttainment]
    data_time: _timestamp_pb2.Timestamp
    def __init__(self, attainments: _Optional[_Iterable[_Union[ScopeAttainment, _Mapping]]] = ..., data_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SegmentFigures(_message.Message):
    __slots__ = ("segment_tag", "client_count", "won_deal_count", "won_amounts")
    SEGMENT_TAG_FIELD_NUMBER: _ClassVar[int]
    CLIENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    WON_DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    WON_AMOUNTS_FIELD_NUMBER: _ClassVar[int]
    segment_tag: str
    client_count: int
    won_deal_count: int
    won_amounts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Money]
    def __init__(self, segment_tag: _Optional[str] = ..., client_count: _Optional[int] = ..., won_deal_count: _Optional[int] = ..., won_amounts: _Optional[_Iterable[_Union[_types_pb2.Money, _Mapping]]] = ...) -> None: ...

class BatchGetSegmentFiguresRequest(_message.Message):
    __slots__ = ("segment_tags", "won_after", "owner_ids")
    SEGMENT_TAGS_FIELD_NUMBER: _ClassVar[int]
    WON_AFTER_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    segment_tags: _containers.RepeatedScalarFieldContainer[str]
    won_after: _timestamp_pb2.Timestamp
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, segment_tags: _Optional[_Iterable[str]] = ..., won_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetSegmentFiguresResponse(_message.Message):
    __slots__ = ("figures", "data_time")
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    DATA_TIME_FIELD_NUMBER: _ClassVar[int]
    figures: _containers.RepeatedCompositeFieldContainer[SegmentFigures]
    data_time: _timestamp_pb2.Timestamp
    def __init__(self, figures: _Optional[_Iterable[_Union[SegmentFigures, _Mapping]]] = ..., data_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
