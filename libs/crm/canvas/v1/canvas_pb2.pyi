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

class CanvasStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANVAS_STATUS_UNSPECIFIED: _ClassVar[CanvasStatus]
    CANVAS_STATUS_DRAFT: _ClassVar[CanvasStatus]
    CANVAS_STATUS_ACTIVE: _ClassVar[CanvasStatus]
    CANVAS_STATUS_ARCHIVED: _ClassVar[CanvasStatus]

class CanvasBlock(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANVAS_BLOCK_UNSPECIFIED: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_KEY_PARTNERS: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_KEY_ACTIVITIES: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_KEY_RESOURCES: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_VALUE_PROPOSITIONS: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_CUSTOMER_RELATIONSHIPS: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_CHANNELS: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_CUSTOMER_SEGMENTS: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_COST_STRUCTURE: _ClassVar[CanvasBlock]
    CANVAS_BLOCK_REVENUE_STREAMS: _ClassVar[CanvasBlock]

class LinkKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINK_KIND_UNSPECIFIED: _ClassVar[LinkKind]
    LINK_KIND_PRODUCT: _ClassVar[LinkKind]
    LINK_KIND_CLIENT_SEGMENT: _ClassVar[LinkKind]
    LINK_KIND_CAMPAIGN: _ClassVar[LinkKind]

class LinkState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINK_STATE_UNSPECIFIED: _ClassVar[LinkState]
    LINK_STATE_ACTIVE: _ClassVar[LinkState]
    LINK_STATE_ARCHIVED: _ClassVar[LinkState]
    LINK_STATE_MISSING: _ClassVar[LinkState]
    LINK_STATE_RESTRICTED: _ClassVar[LinkState]
CANVAS_STATUS_UNSPECIFIED: CanvasStatus
CANVAS_STATUS_DRAFT: CanvasStatus
CANVAS_STATUS_ACTIVE: CanvasStatus
CANVAS_STATUS_ARCHIVED: CanvasStatus
CANVAS_BLOCK_UNSPECIFIED: CanvasBlock
CANVAS_BLOCK_KEY_PARTNERS: CanvasBlock
CANVAS_BLOCK_KEY_ACTIVITIES: CanvasBlock
CANVAS_BLOCK_KEY_RESOURCES: CanvasBlock
CANVAS_BLOCK_VALUE_PROPOSITIONS: CanvasBlock
CANVAS_BLOCK_CUSTOMER_RELATIONSHIPS: CanvasBlock
CANVAS_BLOCK_CHANNELS: CanvasBlock
CANVAS_BLOCK_CUSTOMER_SEGMENTS: CanvasBlock
CANVAS_BLOCK_COST_STRUCTURE: CanvasBlock
CANVAS_BLOCK_REVENUE_STREAMS: CanvasBlock
LINK_KIND_UNSPECIFIED: LinkKind
LINK_KIND_PRODUCT: LinkKind
LINK_KIND_CLIENT_SEGMENT: LinkKind
LINK_KIND_CAMPAIGN: LinkKind
LINK_STATE_UNSPECIFIED: LinkState
LINK_STATE_ACTIVE: LinkState
LINK_STATE_ARCHIVED: LinkState
LINK_STATE_MISSING: LinkState
LINK_STATE_RESTRICTED: LinkState

class LinkFigures(_message.Message):
    __slots__ = ("deal_count", "won_deal_count", "won_amounts", "unit_price", "lead_count", "cost", "roi", "fetch_time", "client_count")
    DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    WON_DEAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    WON_AMOUNTS_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    LEAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    FETCH_TIME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    deal_count: int
    won_deal_count: int
    won_amounts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Money]
    unit_price: _types_pb2.Money
    lead_count: int
    cost: _types_pb2.Money
    roi: str
    fetch_time: _timestamp_pb2.Timestamp
    client_count: int
    def __init__(self, deal_count: _Optional[int] = ..., won_deal_count: _Optional[int] = ..., won_amounts: _Optional[_Iterable[_Union[_types_pb2.Money, _Mapping]]] = ..., unit_price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., lead_count: _Optional[int] = ..., cost: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., roi: _Optional[str] = ..., fetch_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_count: _Optional[int] = ...) -> None: ...

class NoteLink(_message.Message):
    __slots__ = ("kind", "target_id", "state", "label", "figures")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    kind: LinkKind
    target_id: str
    state: LinkState
    label: str
    figures: LinkFigures
    def __init__(self, kind: _Optional[_Union[LinkKind, str]] = ..., target_id: _Optional[str] = ..., state: _Optional[_Union[LinkState, str]] = ..., label: _Optional[str] = ..., figures: _Optional[_Union[LinkFigures, _Mapping]] = ...) -> None: ...

class Note(_message.Message):
    __slots__ = ("id", "canvas_id", "block", "text", "color", "order", "x", "y", "author_id", "links", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    canvas_id: str
    block: CanvasBlock
    text: str
    color: str
    order: int
    x: int
    y: int
    author_id: str
    links: _containers.RepeatedCompositeFieldContainer[NoteLink]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., canvas_id: _Optional[str] = ..., block: _Optional[_Union[CanvasBlock, str]] = ..., text: _Optional[str] = ..., color: _Optional[str] = ..., order: _Optional[int] = ..., x: _Optional[int] = ..., y: _Optional[int] = ..., author_id: _Optional[str] = ..., links: _Optional[_Iterable[_Union[NoteLink, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Canvas(_message.Message):
    __slots__ = ("id", "name", "description", "owner_id", "status", "notes", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    owner_id: str
    status: CanvasStatus
    notes: _containers.RepeatedCompositeFieldContainer[Note]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., owner_id: _Optional[str] = ..., status: _Optional[_Union[CanvasStatus, str]] = ..., notes: _Optional[_Iterable[_Union[Note, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Revision(_message.Message):
    __slots__ = ("canvas_id", "revision_number", "author_id", "summary", "create_time")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    revision_number: int
    author_id: str
    summary: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, canvas_id: _Optional[str] = ..., revision_number: _Optional[int] = ..., author_id: _Optional[str] = ..., summary: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCanvasRequest(_message.Message):
    __slots__ = ("id", "allowed_owner_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCanvasResponse(_message.Message):
    __slots__ = ("canvas",)
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class ListCanvasesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "owner_ids", "status", "include_archived")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    status: CanvasStatus
    include_archived: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[CanvasStatus, str]] = ..., include_archived: _Optional[bool] = ...) -> None: ...

class ListCanvasesResponse(_message.Message):
    __slots__ = ("canvases", "next_page_token")
    CANVASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    canvases: _containers.RepeatedCompositeFieldContainer[Canvas]
    next_page_token: str
    def __init__(self, canvases: _Optional[_Iterable[_Union[Canvas, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateCanvasRequest(_message.Message):
    __slots__ = ("canvas", "request_id")
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    request_id: str
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateCanvasResponse(_message.Message):
    __slots__ = ("canvas",)
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class UpdateCanvasRequest(_message.Message):
    __slots__ = ("canvas", "update_mask", "expected_version")
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateCanvasResponse(_message.Message):
    __slots__ = ("canvas",)
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class DeleteCanvasRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteCanvasResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ArchiveCanvasRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ArchiveCanvasResponse(_message.Message):
    __slots__ = ("canvas",)
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class CopyCanvasRequest(_message.Message):
    __slots__ = ("canvas_id", "name", "request_id")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    name: str
    request_id: str
    def __init__(self, canvas_id: _Optional[str] = ..., name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CopyCanvasResponse(_message.Message):
    __slots__ = ("canvas",)
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class AddNoteRequest(_message.Message):
    __slots__ = ("canvas_id", "note", "request_id")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    note: Note
    request_id: str
    def __init__(self, canvas_id: _Optional[str] = ..., note: _Optional[_Union[Note, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddNoteResponse(_message.Message):
    __slots__ = ("note", "canvas_version")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CANVAS_VERSION_FIELD_NUMBER: _ClassVar[int]
    note: Note
    canvas_version: int
    def __init__(self, note: _Optional[_Union[Note, _Mapping]] = ..., canvas_version: _Optional[int] = ...) -> None: ...

class UpdateNoteRequest(_message.Message):
    __slots__ = ("note", "update_mask", "expected_version")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    note: Note
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, note: _Optional[_Union[Note, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateNoteResponse(_message.Message):
    __slots__ = ("note", "canvas_version")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CANVAS_VERSION_FIELD_NUMBER: _ClassVar[int]
    note: Note
    canvas_version: int
    def __init__(self, note: _Optional[_Union[Note, _Mapping]] = ..., canvas_version: _Optional[int] = ...) -> None: ...

class DeleteNoteRequest(_message.Message):
    __slots__ = ("note_id", "expected_version")
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    expected_version: int
    def __init__(self, note_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteNoteResponse(_message.Message):
    __slots__ = ("canvas_version",)
    CANVAS_VERSION_FIELD_NUMBER: _ClassVar[int]
    canvas_version: int
    def __init__(self, canvas_version: _Optional[int] = ...) -> None: ...

class ListRevisionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "canvas_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    canvas_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., canvas_id: _Optional[str] = ...) -> None: ...

class ListRevisionsResponse(_message.Message):
    __slots__ = ("revisions", "next_page_token")
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[Revision]
    next_page_token: str
    def __init__(self, revisions: _Optional[_Iterable[_Union[Revision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRevisionRequest(_message.Message):
    __slots__ = ("canvas_id", "revision_number", "allowed_owner_ids")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    revision_number: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, canvas_id: _Optional[str] = ..., revision_number: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRevisionResponse(_message.Message):
    __slots__ = ("revision", "canvas")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    revision: Revision
    canvas: Canvas
    def __init__(self, revision: _Optional[_Union[Revision, _Mapping]] = ..., canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class RestoreRevisionRequest(_message.Message):
    __slots__ = ("canvas_id", "revision_number", "expected_version", "allowed_owner_ids")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    revision_number: int
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, canvas_id: _Optional[str] = ..., revision_number: _Optional[int] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RestoreRevisionResponse(_message.Message):
    __slots__ = ("canvas",)
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ...) -> None: ...

class ExportCanvasPdfRequest(_message.Message):
    __slots__ = ("canvas_id", "revision_number", "locale", "allowed_owner_ids")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    revision_number: int
    locale: str
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, canvas_id: _Optional[str] = ..., revision_number: _Optional[int] = ..., locale: _Optional[str] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportCanvasPdfResponse(_message.Message):
    __slots__ = ("pdf", "filename")
    PDF_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    pdf: bytes
    filename: str
    def __init__(self, pdf: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...

class ExportCanvasJsonRequest(_message.Message):
    __slots__ = ("canvas_id", "revision_number")
    CANVAS_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    canvas_id: str
    revision_number: int
    def __init__(self, canvas_id: _Optional[str] = ..., revision_number: _Optional[int] = ...) -> None: ...

class ExportCanvasJsonResponse(_message.Message):
    __slots__ = ("json", "filename")
    JSON_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    json: str
    filename: str
    def __init__(self, json: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ImportCanvasJsonRequest(_message.Message):
    __slots__ = ("json", "name", "request_id")
    JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    json: str
    name: str
    request_id: str
    def __init__(self, json: _Optional[str] = ..., name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ImportCanvasJsonResponse(_message.Message):
    __slots__ = ("canvas", "warnings")
    CANVAS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    canvas: Canvas
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, canvas: _Optional[_Union[Canvas, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...
