from crm.common.v1 import types_pb2 as _types_pb2
from crm.deals.v1 import deals_pb2 as _deals_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PipelineCreated(_message.Message):
    __slots__ = ("meta", "pipeline")
    META_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    pipeline: _deals_pb2.Pipeline
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., pipeline: _Optional[_Union[_deals_pb2.Pipeline, _Mapping]] = ...) -> None: ...

class PipelineUpdated(_message.Message):
    __slots__ = ("meta", "pipeline", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    pipeline: _deals_pb2.Pipeline
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., pipeline: _Optional[_Union[_deals_pb2.Pipeline, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class PipelineDeleted(_message.Message):
    __slots__ = ("meta", "pipeline")
    META_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    pipeline: _deals_pb2.Pipeline
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., pipeline: _Optional[_Union[_deals_pb2.Pipeline, _Mapping]] = ...) -> None: ...

class DealCreated(_message.Message):
    __slots__ = ("meta", "deal")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ...) -> None: ...

class DealUpdated(_message.Message):
    __slots__ = ("meta", "deal", "changed_fields", "previous_amount")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    previous_amount: _types_pb2.Money
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ..., previous_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class DealStageChanged(_message.Message):
    __slots__ = ("meta", "deal", "from_stage_id", "to_stage_id", "previous_probability")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    from_stage_id: str
    to_stage_id: str
    previous_probability: int
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ..., from_stage_id: _Optional[str] = ..., to_stage_id: _Optional[str] = ..., previous_probability: _Optional[int] = ...) -> None: ...

class DealWon(_message.Message):
    __slots__ = ("meta", "deal", "from_stage_id")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    from_stage_id: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ..., from_stage_id: _Optional[str] = ...) -> None: ...

class DealLost(_message.Message):
    __slots__ = ("meta", "deal", "from_stage_id")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    from_stage_id: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ..., from_stage_id: _Optional[str] = ...) -> None: ...

class DealReopened(_message.Message):
    __slots__ = ("meta", "deal", "previous_status", "from_stage_id")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    previous_status: _deals_pb2.DealStatus
    from_stage_id: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ..., previous_status: _Optional[_Union[_deals_pb2.DealStatus, str]] = ..., from_stage_id: _Optional[str] = ...) -> None: ...

class DealDeleted(_message.Message):
    __slots__ = ("meta", "deal")
    META_FIELD_NUMBER: _ClassVar[int]
    DEAL_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    deal: _deals_pb2.Deal
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., deal: _Optional[_Union[_deals_pb2.Deal, _Mapping]] = ...) -> None: ...

class ActivityScheduled(_message.Message):
    __slots__ = ("meta", "activity")
    META_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    activity: _deals_pb2.Activity
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., activity: _Optional[_Union[_deals_pb2.Activity, _Mapping]] = ...) -> None: ...

class ActivityUpdated(_message.Message):
    __slots__ = ("meta", "activity", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    activity: _deals_pb2.Activity
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., activity: _Optional[_Union[_deals_pb2.Activity, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ActivityCompleted(_message.Message):
    __slots__ = ("meta", "activity")
    META_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    activity: _deals_pb2.Activity
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., activity: _Optional[_Union[_deals_pb2.Activity, _Mapping]] = ...) -> None: ...

class ActivityCancelled(_message.Message):
    __slots__ = ("meta", "activity")
    META_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    activity: _deals_pb2.Activity
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., activity: _Optional[_Union[_deals_pb2.Activity, _Mapping]] = ...) -> None: ...

class ActivityDeleted(_message.Message):
    __slots__ = ("meta", "activity")
    META_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    activity: _deals_pb2.Activity
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., activity: _Optional[_Union[_deals_pb2.Activity, _Mapping]] = ...) -> None: ...
