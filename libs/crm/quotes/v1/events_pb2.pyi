from crm.common.v1 import types_pb2 as _types_pb2
from crm.quotes.v1 import quotes_pb2 as _quotes_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductCreated(_message.Message):
    __slots__ = ("meta", "product")
    META_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    product: _quotes_pb2.Product
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., product: _Optional[_Union[_quotes_pb2.Product, _Mapping]] = ...) -> None: ...

class ProductUpdated(_message.Message):
    __slots__ = ("meta", "product", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    product: _quotes_pb2.Product
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., product: _Optional[_Union[_quotes_pb2.Product, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ProductPriceChanged(_message.Message):
    __slots__ = ("meta", "product", "price_change")
    META_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PRICE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    product: _quotes_pb2.Product
    price_change: _quotes_pb2.PriceChange
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., product: _Optional[_Union[_quotes_pb2.Product, _Mapping]] = ..., price_change: _Optional[_Union[_quotes_pb2.PriceChange, _Mapping]] = ...) -> None: ...

class ProductDeleted(_message.Message):
    __slots__ = ("meta", "product")
    META_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    product: _quotes_pb2.Product
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., product: _Optional[_Union[_quotes_pb2.Product, _Mapping]] = ...) -> None: ...

class QuoteCreated(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteUpdated(_message.Message):
    __slots__ = ("meta", "quote", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class QuoteSent(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteAccepted(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteRejected(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteExpired(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteSuperseded(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteDeleted(_message.Message):
    __slots__ = ("meta", "quote")
    META_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    quote: _quotes_pb2.Quote
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., quote: _Optional[_Union[_quotes_pb2.Quote, _Mapping]] = ...) -> None: ...
