from crm.canvas.v1 import canvas_pb2 as _canvas_pb2
from crm.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CanvasCreated(_message.Message):
    __slots__ = ("meta", "canvas")
    META_FIELD_NUMBER: _ClassVar[int]
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    canvas: _canvas_pb2.Canvas
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., canvas: _Optional[_Union[_canvas_pb2.Canvas, _Mapping]] = ...) -> None: ...

class CanvasUpdated(_message.Message):
    __slots__ = ("meta", "canvas", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    canvas: _canvas_pb2.Canvas
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., canvas: _Optional[_Union[_canvas_pb2.Canvas, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class CanvasArchived(_message.Message):
    __slots__ = ("meta", "canvas")
    META_FIELD_NUMBER: _ClassVar[int]
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    canvas: _canvas_pb2.Canvas
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., canvas: _Optional[_Union[_canvas_pb2.Canvas, _Mapping]] = ...) -> None: ...

class CanvasDeleted(_message.Message):
    __slots__ = ("meta", "canvas")
    META_FIELD_NUMBER: _ClassVar[int]
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    canvas: _canvas_pb2.Canvas
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., canvas: _Optional[_Union[_canvas_pb2.Canvas, _Mapping]] = ...) -> None: ...

class NoteAdded(_message.Message):
    __slots__ = ("meta", "note", "canvas_version")
    META_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CANVAS_VERSION_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    note: _canvas_pb2.Note
    canvas_version: int
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., note: _Optional[_Union[_canvas_pb2.Note, _Mapping]] = ..., canvas_version: _Optional[int] = ...) -> None: ...

class NoteChanged(_message.Message):
    __slots__ = ("meta", "note", "changed_fields", "canvas_version")
    META_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CANVAS_VERSION_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    note: _canvas_pb2.Note
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    canvas_version: int
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., note: _Optional[_Union[_canvas_pb2.Note, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ..., canvas_version: _Optional[int] = ...) -> None: ...

class NoteRemoved(_message.Message):
    __slots__ = ("meta", "note", "canvas_version")
    META_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CANVAS_VERSION_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    note: _canvas_pb2.Note
    canvas_version: int
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., note: _Optional[_Union[_canvas_pb2.Note, _Mapping]] = ..., canvas_version: _Optional[int] = ...) -> None: ...
