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

class StageKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_KIND_UNSPECIFIED: _ClassVar[StageKind]
    STAGE_KIND_OPEN: _ClassVar[StageKind]
    STAGE_KIND_WON: _ClassVar[StageKind]
    STAGE_KIND_LOST: _ClassVar[StageKind]

class DealStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEAL_STATUS_UNSPECIFIED: _ClassVar[DealStatus]
    DEAL_STATUS_OPEN: _ClassVar[DealStatus]
    DEAL_STATUS_WON: _ClassVar[DealStatus]
    DEAL_STATUS_LOST: _ClassVar[DealStatus]

class ActivityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_KIND_UNSPECIFIED: _ClassVar[ActivityKind]
    ACTIVITY_KIND_CALL: _ClassVar[ActivityKind]
    ACTIVITY_KIND_MEETING: _ClassVar[ActivityKind]
    ACTIVITY_KIND_VISIT: _ClassVar[ActivityKind]
    ACTIVITY_KIND_TASK: _ClassVar[ActivityKind]
    ACTIVITY_KIND_EMAIL: _ClassVar[ActivityKind]

class ActivityStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_STATUS_UNSPECIFIED: _ClassVar[ActivityStatus]
    ACTIVITY_STATUS_SCHEDULED: _ClassVar[ActivityStatus]
    ACTIVITY_STATUS_DONE: _ClassVar[ActivityStatus]
    ACTIVITY_STATUS_CANCELLED: _ClassVar[ActivityStatus]

class ActivityDueFilter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_DUE_FILTER_UNSPECIFIED: _ClassVar[ActivityDueFilter]
    ACTIVITY_DUE_FILTER_OVERDUE: _ClassVar[ActivityDueFilter]
    ACTIVITY_DUE_FILTER_UPCOMING: _ClassVar[ActivityDueFilter]
STAGE_KIND_UNSPECIFIED: StageKind
STAGE_KIND_OPEN: StageKind
STAGE_KIND_WON: StageKind
STAGE_KIND_LOST: StageKind
DEAL_STATUS_UNSPECIFIED: DealStatus
DEAL_STATUS_OPEN: DealStatus
DEAL_STATUS_WON: DealStatus
DEAL_STATUS_LOST: DealStatus
ACTIVITY_KIND_UNSPECIFIED: ActivityKind
ACTIVITY_KIND_CALL: ActivityKind
ACTIVITY_KIND_MEETING: ActivityKind
ACTIVITY_KIND_VISIT: ActivityKind
ACTIVITY_KIND_TASK: ActivityKind
ACTIVITY_KIND_EMAIL: ActivityKind
ACTIVITY_STATUS_UNSPECIFIED: ActivityStatus
ACTIVITY_STATUS_SCHEDULED: ActivityStatus
ACTIVITY_STATUS_DONE: ActivityStatus
ACTIVITY_STATUS_CANCELLED: ActivityStatus
ACTIVITY_DUE_FILTER_UNSPECIFIED: ActivityDueFilter
ACTIVITY_DUE_FILTER_OVERDUE: ActivityDueFilter
ACTIVITY_DUE_FILTER_UPCOMING: ActivityDueFilter

class Stage(_message.Message):
    __slots__ = ("id", "name", "default_probability", "kind")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    default_probability: int
    kind: StageKind
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., default_probability: _Optional[int] = ..., kind: _Optional[_Union[StageKind, str]] = ...) -> None: ...

class Pipeline(_message.Message):
    __slots__ = ("id", "name", "stages", "is_default", "create_time", "update_time", "version", "win_on_quote_accepted")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WIN_ON_QUOTE_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    stages: _containers.RepeatedCompositeFieldContainer[Stage]
    is_default: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    win_on_quote_accepted: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[Stage, _Mapping]]] = ..., is_default: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., win_on_quote_accepted: _Optional[bool] = ...) -> None: ...

class DealLineItem(_message.Message):
    __slots__ = ("product_id", "quantity")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    quantity: str
    def __init__(self, product_id: _Optional[str] = ..., quantity: _Optional[str] = ...) -> None: ...

class StageHistoryEntry(_message.Message):
    __slots__ = ("from_stage_id", "to_stage_id", "moved_by", "move_time")
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MOVED_BY_FIELD_NUMBER: _ClassVar[int]
    MOVE_TIME_FIELD_NUMBER: _ClassVar[int]
    from_stage_id: str
    to_stage_id: str
    moved_by: str
    move_time: _timestamp_pb2.Timestamp
    def __init__(self, from_stage_id: _Optional[str] = ..., to_stage_id: _Optional[str] = ..., moved_by: _Optional[str] = ..., move_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StageTime(_message.Message):
    __slots__ = ("stage_id", "seconds")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    seconds: int
    def __init__(self, stage_id: _Optional[str] = ..., seconds: _Optional[int] = ...) -> None: ...

class Deal(_message.Message):
    __slots__ = ("id", "title", "line_items", "client_id", "contact_ids", "amount", "owner_id", "pipeline_id", "stage_id", "probability", "expected_close_date", "source_campaign_id", "status", "lost_reason", "won_time", "lost_time", "stage_history", "accepted_quote_id", "create_time", "update_time", "version", "stage_times", "sales_cycle_seconds", "source_prospect_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_IDS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOST_REASON_FIELD_NUMBER: _ClassVar[int]
    WON_TIME_FIELD_NUMBER: _ClassVar[int]
    LOST_TIME_FIELD_NUMBER: _ClassVar[int]
    STAGE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_TIMES_FIELD_NUMBER: _ClassVar[int]
    SALES_CYCLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    line_items: _containers.RepeatedCompositeFieldContainer[DealLineItem]
    client_id: str
    contact_ids: _containers.RepeatedScalarFieldContainer[str]
    amount: _types_pb2.Money
    owner_id: str
    pipeline_id: str
    stage_id: str
    probability: int
    expected_close_date: _types_pb2.Date
    source_campaign_id: str
    status: DealStatus
    lost_reason: str
    won_time: _timestamp_pb2.Timestamp
    lost_time: _timestamp_pb2.Timestamp
    stage_history: _containers.RepeatedCompositeFieldContainer[StageHistoryEntry]
    accepted_quote_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    stage_times: _containers.RepeatedCompositeFieldContainer[StageTime]
    sales_cycle_seconds: int
    source_prospect_id: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., line_items: _Optional[_Iterable[_Union[DealLineItem, _Mapping]]] = ..., client_id: _Optional[str] = ..., contact_ids: _Optional[_Iterable[str]] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., owner_id: _Optional[str] = ..., pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., probability: _Optional[int] = ..., expected_close_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., source_campaign_id: _Optional[str] = ..., status: _Optional[_Union[DealStatus, str]] = ..., lost_reason: _Optional[str] = ..., won_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lost_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stage_history: _Optional[_Iterable[_Union[StageHistoryEntry, _Mapping]]] = ..., accepted_quote_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., stage_times: _Optional[_Iterable[_Union[StageTime, _Mapping]]] = ..., sales_cycle_seconds: _Optional[int] = ..., source_prospect_id: _Optional[str] = ...) -> None: ...

class ProductDealFigures(_message.Message):
    __slots__ = ("product_id", "deal_count", "open_deal_count", "won_deal_count", "won_amounts")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPEN_DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    WON_DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    WON_AMOUNTS_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    deal_count: int
    open_deal_count: int
    won_deal_count: int
    won_amounts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Money]
    def __init__(self, product_id: _Optional[str] = ..., deal_count: _Optional[int] = ..., open_deal_count: _Optional[int] = ..., won_deal_count: _Optional[int] = ..., won_amounts: _Optional[_Iterable[_Union[_types_pb2.Money, _Mapping]]] = ...) -> None: ...

class Activity(_message.Message):
    __slots__ = ("id", "kind", "subject", "notes", "due_time", "duration_seconds", "done_time", "outcome", "owner_id", "deal_id", "client_id", "contact_id", "prospect_id", "campaign_id", "status", "cancel_reason", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DONE_TIME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: ActivityKind
    subject: str
    notes: str
    due_time: _timestamp_pb2.Timestamp
    duration_seconds: int
    done_time: _timestamp_pb2.Timestamp
    outcome: str
    owner_id: str
    deal_id: str
    client_id: str
    contact_id: str
    prospect_id: str
    campaign_id: str
    status: ActivityStatus
    cancel_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[ActivityKind, str]] = ..., subject: _Optional[str] = ..., notes: _Optional[str] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_seconds: _Optional[int] = ..., done_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[str] = ..., owner_id: _Optional[str] = ..., deal_id: _Optional[str] = ..., client_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., prospect_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., status: _Optional[_Union[ActivityStatus, str]] = ..., cancel_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class GetPipelineRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetPipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class ListPipelinesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPipelinesResponse(_message.Message):
    __slots__ = ("pipelines", "next_page_token")
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pipelines: _containers.RepeatedCompositeFieldContainer[Pipeline]
    next_page_token: str
    def __init__(self, pipelines: _Optional[_Iterable[_Union[Pipeline, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePipelineRequest(_message.Message):
    __slots__ = ("pipeline", "request_id")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    request_id: str
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreatePipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class UpdatePipelineRequest(_message.Message):
    __slots__ = ("pipeline", "update_mask", "expected_version")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdatePipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class DeletePipelineRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeletePipelineResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AddStageRequest(_message.Message):
    __slots__ = ("pipeline_id", "stage", "before_stage_id", "expected_version", "request_id")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    BEFORE_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    stage: Stage
    before_stage_id: str
    expected_version: int
    request_id: str
    def __init__(self, pipeline_id: _Optional[str] = ..., stage: _Optional[_Union[Stage, _Mapping]] = ..., before_stage_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddStageResponse(_message.Message):
    __slots__ = ("pipeline", "stage")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    stage: Stage
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ..., stage: _Optional[_Union[Stage, _Mapping]] = ...) -> None: ...

class UpdateStageRequest(_message.Message):
    __slots__ = ("pipeline_id", "stage", "update_mask", "expected_version")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    stage: Stage
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, pipeline_id: _Optional[str] = ..., stage: _Optional[_Union[Stage, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateStageResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class ReorderStagesRequest(_message.Message):
    __slots__ = ("pipeline_id", "stage_ids", "expected_version")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    stage_ids: _containers.RepeatedScalarFieldContainer[str]
    expected_version: int
    def __init__(self, pipeline_id: _Optional[str] = ..., stage_ids: _Optional[_Iterable[str]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ReorderStagesResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class DeleteStageRequest(_message.Message):
    __slots__ = ("pipeline_id", "stage_id", "move_deals_to_stage_id", "expected_version")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MOVE_DEALS_TO_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    stage_id: str
    move_deals_to_stage_id: str
    expected_version: int
    def __init__(self, pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., move_deals_to_stage_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteStageResponse(_message.Message):
    __slots__ = ("pipeline", "moved_deal_count")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    MOVED_DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    moved_deal_count: int
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ..., moved_deal_count: _Optional[int] = ...) -> None: ...

class GetDealRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class ListDealsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "owner_ids", "pipeline_id", "stage_id", "status", "client_id", "contact_id", "product_id", "source_campaign_id", "expected_close_from", "expected_close_to", "include_total_size")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLOSE_FROM_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLOSE_TO_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    pipeline_id: str
    stage_id: str
    status: DealStatus
    client_id: str
    contact_id: str
    product_id: str
    source_campaign_id: str
    expected_close_from: _types_pb2.Date
    expected_close_to: _types_pb2.Date
    include_total_size: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., status: _Optional[_Union[DealStatus, str]] = ..., client_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., product_id: _Optional[str] = ..., source_campaign_id: _Optional[str] = ..., expected_close_from: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., expected_close_to: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., include_total_size: _Optional[bool] = ...) -> None: ...

class ListDealsResponse(_message.Message):
    __slots__ = ("deals", "next_page_token", "total_size")
    DEALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    deals: _containers.RepeatedCompositeFieldContainer[Deal]
    next_page_token: str
    total_size: int
    def __init__(self, deals: _Optional[_Iterable[_Union[Deal, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateDealRequest(_message.Message):
    __slots__ = ("deal", "request_id")
    DEAL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    request_id: str
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class UpdateDealRequest(_message.Message):
    __slots__ = ("deal", "update_mask", "expected_version")
    DEAL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class DeleteDealRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteDealResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MoveDealRequest(_message.Message):
    __slots__ = ("deal_id", "stage_id", "keep_probability", "expected_version", "allowed_owner_ids")
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    deal_id: str
    stage_id: str
    keep_probability: bool
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deal_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., keep_probability: _Optional[bool] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class MoveDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class WinDealRequest(_message.Message):
    __slots__ = ("deal_id", "expected_version", "allowed_owner_ids")
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    deal_id: str
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deal_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WinDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class LoseDealRequest(_message.Message):
    __slots__ = ("deal_id", "reason", "expected_version", "allowed_owner_ids")
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    deal_id: str
    reason: str
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deal_id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class LoseDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class ReopenDealRequest(_message.Message):
    __slots__ = ("deal_id", "stage_id", "expected_version", "allowed_owner_ids")
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    deal_id: str
    stage_id: str
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deal_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReopenDealResponse(_message.Message):
    __slots__ = ("deal",)
    DEAL_FIELD_NUMBER: _ClassVar[int]
    deal: Deal
    def __init__(self, deal: _Optional[_Union[Deal, _Mapping]] = ...) -> None: ...

class BatchGetProductDealFiguresRequest(_message.Message):
    __slots__ = ("product_ids", "owner_ids")
    PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    product_ids: _containers.RepeatedScalarFieldContainer[str]
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, product_ids: _Optional[_Iterable[str]] = ..., owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetProductDealFiguresResponse(_message.Message):
    __slots__ = ("figures",)
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    figures: _containers.RepeatedCompositeFieldContainer[ProductDealFigures]
    def __init__(self, figures: _Optional[_Iterable[_Union[ProductDealFigures, _Mapping]]] = ...) -> None: ...

class GetActivityRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...

class ListActivitiesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "owner_ids", "kind", "status", "due", "deal_id", "client_id", "contact_id", "prospect_id", "campaign_id", "due_after", "due_before")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    DUE_AFTER_FIELD_NUMBER: _ClassVar[int]
    DUE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    kind: ActivityKind
    status: ActivityStatus
    due: ActivityDueFilter
    deal_id: str
    client_id: str
    contact_id: str
    prospect_id: str
    campaign_id: str
    due_after: _timestamp_pb2.Timestamp
    due_before: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[ActivityKind, str]] = ..., status: _Optional[_Union[ActivityStatus, str]] = ..., due: _Optional[_Union[ActivityDueFilter, str]] = ..., deal_id: _Optional[str] = ..., client_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., prospect_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., due_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListActivitiesResponse(_message.Message):
    __slots__ = ("activities", "next_page_token")
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    activities: _containers.RepeatedCompositeFieldContainer[Activity]
    next_page_token: str
    def __init__(self, activities: _Optional[_Iterable[_Union[Activity, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateActivityRequest(_message.Message):
    __slots__ = ("activity", "request_id", "allowed_owner_ids")
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    request_id: str
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ..., request_id: _Optional[str] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...

class UpdateActivityRequest(_message.Message):
    __slots__ = ("activity", "update_mask", "expected_version", "allowed_owner_ids")
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...

class DeleteActivityRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteActivityResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CompleteActivityRequest(_message.Message):
    __slots__ = ("activity_id", "outcome", "done_time", "expected_version")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DONE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    outcome: str
    done_time: _timestamp_pb2.Timestamp
    expected_version: int
    def __init__(self, activity_id: _Optional[str] = ..., outcome: _Optional[str] = ..., done_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class CompleteActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...

class CancelActivityRequest(_message.Message):
    __slots__ = ("activity_id", "reason", "expected_version")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    reason: str
    expected_version: int
    def __init__(self, activity_id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class CancelActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...
