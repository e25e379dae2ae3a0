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

class ProductKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_KIND_UNSPECIFIED: _ClassVar[ProductKind]
    PRODUCT_KIND_PRODUCT: _ClassVar[ProductKind]
    PRODUCT_KIND_SERVICE: _ClassVar[ProductKind]

class QuoteStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUOTE_STATUS_UNSPECIFIED: _ClassVar[QuoteStatus]
    QUOTE_STATUS_DRAFT: _ClassVar[QuoteStatus]
    QUOTE_STATUS_SENT: _ClassVar[QuoteStatus]
    QUOTE_STATUS_ACCEPTED: _ClassVar[QuoteStatus]
    QUOTE_STATUS_REJECTED: _ClassVar[QuoteStatus]
    QUOTE_STATUS_EXPIRED: _ClassVar[QuoteStatus]
    QUOTE_STATUS_SUPERSEDED: _ClassVar[QuoteStatus]

class ImportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_FORMAT_UNSPECIFIED: _ClassVar[ImportFormat]
    IMPORT_FORMAT_CSV: _ClassVar[ImportFormat]
    IMPORT_FORMAT_XLSX: _ClassVar[ImportFormat]
PRODUCT_KIND_UNSPECIFIED: ProductKind
PRODUCT_KIND_PRODUCT: ProductKind
PRODUCT_KIND_SERVICE: ProductKind
QUOTE_STATUS_UNSPECIFIED: QuoteStatus
QUOTE_STATUS_DRAFT: QuoteStatus
QUOTE_STATUS_SENT: QuoteStatus
QUOTE_STATUS_ACCEPTED: QuoteStatus
QUOTE_STATUS_REJECTED: QuoteStatus
QUOTE_STATUS_EXPIRED: QuoteStatus
QUOTE_STATUS_SUPERSEDED: QuoteStatus
IMPORT_FORMAT_UNSPECIFIED: ImportFormat
IMPORT_FORMAT_CSV: ImportFormat
IMPORT_FORMAT_XLSX: ImportFormat

class Product(_message.Message):
    __slots__ = ("id", "sku", "name", "description", "kind", "unit_of_measure", "unit_price", "tax_rate", "active", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNIT_OF_MEASURE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    sku: str
    name: str
    description: str
    kind: ProductKind
    unit_of_measure: str
    unit_price: _types_pb2.Money
    tax_rate: str
    active: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., sku: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[_Union[ProductKind, str]] = ..., unit_of_measure: _Optional[str] = ..., unit_price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., tax_rate: _Optional[str] = ..., active: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class PriceChange(_message.Message):
    __slots__ = ("product_id", "previous_unit_price", "unit_price", "previous_tax_rate", "tax_rate", "changed_by", "change_time", "product_version")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_VERSION_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    previous_unit_price: _types_pb2.Money
    unit_price: _types_pb2.Money
    previous_tax_rate: str
    tax_rate: str
    changed_by: str
    change_time: _timestamp_pb2.Timestamp
    product_version: int
    def __init__(self, product_id: _Optional[str] = ..., previous_unit_price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., unit_price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., previous_tax_rate: _Optional[str] = ..., tax_rate: _Optional[str] = ..., changed_by: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., product_version: _Optional[int] = ...) -> None: ...

class QuoteLine(_message.Message):
    __slots__ = ("id", "product_id", "sku", "description", "unit_of_measure", "quantity", "unit_price", "discount_percent", "tax_rate", "subtotal", "discount", "tax", "total")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    UNIT_OF_MEASURE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    product_id: str
    sku: str
    description: str
    unit_of_measure: str
    quantity: str
    unit_price: _types_pb2.Money
    discount_percent: str
    tax_rate: str
    subtotal: _types_pb2.Money
    discount: _types_pb2.Money
    tax: _types_pb2.Money
    total: _types_pb2.Money
    def __init__(self, id: _Optional[str] = ..., product_id: _Optional[str] = ..., sku: _Optional[str] = ..., description: _Optional[str] = ..., unit_of_measure: _Optional[str] = ..., quantity: _Optional[str] = ..., unit_price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., discount_percent: _Optional[str] = ..., tax_rate: _Optional[str] = ..., subtotal: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., discount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class TaxTotal(_message.Message):
    __slots__ = ("tax_rate", "taxable_amount", "tax")
    TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    TAXABLE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    tax_rate: str
    taxable_amount: _types_pb2.Money
    tax: _types_pb2.Money
    def __init__(self, tax_rate: _Optional[str] = ..., taxable_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("id", "number", "revision", "root_number", "revises_quote_id", "superseded_by_quote_id", "deal_id", "client_id", "contact_id", "owner_id", "currency_code", "lines", "global_discount_percent", "subtotal", "discount_total", "tax_totals", "tax_total", "total", "valid_until", "terms", "notes", "status", "rejection_reason", "send_time", "accept_time", "reject_time", "expire_time", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ROOT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REVISES_QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_DISCOUNT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TAX_TOTALS_FIELD_NUMBER: _ClassVar[int]
    TAX_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    REJECT_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    number: str
    revision: int
    root_number: str
    revises_quote_id: str
    superseded_by_quote_id: str
    deal_id: str
    client_id: str
    contact_id: str
    owner_id: str
    currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[QuoteLine]
    global_discount_percent: str
    subtotal: _types_pb2.Money
    discount_total: _types_pb2.Money
    tax_totals: _containers.RepeatedCompositeFieldContainer[TaxTotal]
    tax_total: _types_pb2.Money
    total: _types_pb2.Money
    valid_until: _types_pb2.Date
    terms: str
    notes: str
    status: QuoteStatus
    rejection_reason: str
    send_time: _timestamp_pb2.Timestamp
    accept_time: _timestamp_pb2.Timestamp
    reject_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., number: _Optional[str] = ..., revision: _Optional[int] = ..., root_number: _Optional[str] = ..., revises_quote_id: _Optional[str] = ..., superseded_by_quote_id: _Optional[str] = ..., deal_id: _Optional[str] = ..., client_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[QuoteLine, _Mapping]]] = ..., global_discount_percent: _Optional[str] = ..., subtotal: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., discount_total: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., tax_totals: _Optional[_Iterable[_Union[TaxTotal, _Mapping]]] = ..., tax_total: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., valid_until: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., terms: _Optional[str] = ..., notes: _Optional[str] = ..., status: _Optional[_Union[QuoteStatus, str]] = ..., rejection_reason: _Optional[str] = ..., send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reject_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "kind", "include_inactive")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    kind: ProductKind
    include_inactive: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., kind: _Optional[_Union[ProductKind, str]] = ..., include_inactive: _Optional[bool] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "next_page_token")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    next_page_token: str
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateProductRequest(_message.Message):
    __slots__ = ("product", "request_id")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    product: Product
    request_id: str
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class UpdateProductRequest(_message.Message):
    __slots__ = ("product", "update_mask", "expected_version")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    product: Product
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class DeleteProductRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteProductResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPriceHistoryRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "product_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    product_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., product_id: _Optional[str] = ...) -> None: ...

class ListPriceHistoryResponse(_message.Message):
    __slots__ = ("price_changes", "next_page_token")
    PRICE_CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    price_changes: _containers.RepeatedCompositeFieldContainer[PriceChange]
    next_page_token: str
    def __init__(self, price_changes: _Optional[_Iterable[_Union[PriceChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BatchGetProductsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetProductsResponse(_message.Message):
    __slots__ = ("products", "missing_ids")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportProductsRequest(_message.Message):
    __slots__ = ("format", "content", "file_name", "dry_run", "default_currency_code")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    format: ImportFormat
    content: bytes
    file_name: str
    dry_run: bool
    default_currency_code: str
    def __init__(self, format: _Optional[_Union[ImportFormat, str]] = ..., content: _Optional[bytes] = ..., file_name: _Optional[str] = ..., dry_run: _Optional[bool] = ..., default_currency_code: _Optional[str] = ...) -> None: ...

class ImportRowProblem(_message.Message):
    __slots__ = ("row", "field", "message")
    ROW_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    row: int
    field: str
    message: str
    def __init__(self, row: _Optional[int] = ..., field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ImportDuplicate(_message.Message):
    __slots__ = ("row", "existing_id", "field")
    ROW_FIELD_NUMBER: _ClassVar[int]
    EXISTING_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    row: int
    existing_id: str
    field: str
    def __init__(self, row: _Optional[int] = ..., existing_id: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class ImportProductsResponse(_message.Message):
    __slots__ = ("total_rows", "created", "duplicates", "failed", "problems", "duplicate_rows", "created_ids", "dry_run", "created_rows")
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_ROWS_FIELD_NUMBER: _ClassVar[int]
    CREATED_IDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    CREATED_ROWS_FIELD_NUMBER: _ClassVar[int]
    total_rows: int
    created: int
    duplicates: int
    failed: int
    problems: _containers.RepeatedCompositeFieldContainer[ImportRowProblem]
    duplicate_rows: _containers.RepeatedCompositeFieldContainer[ImportDuplicate]
    created_ids: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    created_rows: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, total_rows: _Optional[int] = ..., created: _Optional[int] = ..., duplicates: _Optional[int] = ..., failed: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[ImportRowProblem, _Mapping]]] = ..., duplicate_rows: _Optional[_Iterable[_Union[ImportDuplicate, _Mapping]]] = ..., created_ids: _Optional[_Iterable[str]] = ..., dry_run: _Optional[bool] = ..., created_rows: _Optional[_Iterable[int]] = ...) -> None: ...

class GetQuoteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class ListQuotesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "owner_ids", "deal_id", "client_id", "status", "root_number", "include_superseded")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ROOT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    deal_id: str
    client_id: str
    status: QuoteStatus
    root_number: str
    include_superseded: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., deal_id: _Optional[str] = ..., client_id: _Optional[str] = ..., status: _Optional[_Union[QuoteStatus, str]] = ..., root_number: _Optional[str] = ..., include_superseded: _Optional[bool] = ...) -> None: ...

class ListQuotesResponse(_message.Message):
    __slots__ = ("quotes", "next_page_token")
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    quotes: _containers.RepeatedCompositeFieldContainer[Quote]
    next_page_token: str
    def __init__(self, quotes: _Optional[_Iterable[_Union[Quote, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateQuoteRequest(_message.Message):
    __slots__ = ("quote", "request_id")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    request_id: str
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class PreviewQuoteRequest(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class PreviewQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class UpdateQuoteRequest(_message.Message):
    __slots__ = ("quote", "update_mask", "expected_version")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class DeleteQuoteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteQuoteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendQuoteRequest(_message.Message):
    __slots__ = ("quote_id", "expected_version")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    expected_version: int
    def __init__(self, quote_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class SendQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class AcceptQuoteRequest(_message.Message):
    __slots__ = ("quote_id", "expected_version")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    expected_version: int
    def __init__(self, quote_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class AcceptQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class RejectQuoteRequest(_message.Message):
    __slots__ = ("quote_id", "reason", "expected_version")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    reason: str
    expected_version: int
    def __init__(self, quote_id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class RejectQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class ReviseQuoteRequest(_message.Message):
    __slots__ = ("quote_id", "expected_version", "request_id")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    expected_version: int
    request_id: str
    def __init__(self, quote_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReviseQuoteResponse(_message.Message):
    __slots__ = ("quote", "superseded_quote")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    superseded_quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., superseded_quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class RenderQuotePdfRequest(_message.Message):
    __slots__ = ("quote_id", "locale")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    locale: str
    def __init__(self, quote_id: _Optional[str] = ..., locale: _Optional[str] = ...) -> None: ...

class RenderQuotePdfResponse(_message.Message):
    __slots__ = ("pdf", "filename")
    PDF_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    pdf: bytes
    filename: str
    def __init__(self, pdf: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...
