from crm.common.v1 import types_pb2 as _types_pb2
from crm.reporting.v1 import reporting_pb2 as _reporting_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BudgetCreated(_message.Message):
    __slots__ = ("meta", "budget")
    META_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    budget: _reporting_pb2.Budget
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., budget: _Optional[_Union[_reporting_pb2.Budget, _Mapping]] = ...) -> None: ...

class BudgetUpdated(_message.Message):
    __slots__ = ("meta", "budget", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    budget: _reporting_pb2.Budget
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., budget: _Optional[_Union[_reporting_pb2.Budget, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class BudgetDeleted(_message.Message):
    __slots__ = ("meta", "budget")
    META_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    budget: _reporting_pb2.Budget
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., budget: _Optional[_Union[_reporting_pb2.Budget, _Mapping]] = ...) -> None: ...

class ReportSaved(_message.Message):
    __slots__ = ("meta", "report_definition", "created")
    META_FIELD_NUMBER: _ClassVar[int]
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    report_definition: _reporting_pb2.ReportDefinition
    created: bool
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., report_definition: _Optional[_Union[_reporting_pb2.ReportDefinition, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ReportDeleted(_message.Message):
    __slots__ = ("meta", "report_definition")
    META_FIELD_NUMBER: _ClassVar[int]
    REPORT_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    report_definition: _reporting_pb2.ReportDefinition
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., report_definition: _Optional[_Union[_reporting_pb2.ReportDefinition, _Mapping]] = ...) -> None: ...
