from crm.common.v1 import types_pb2 as _types_pb2
from crm.contacts.v1 import contacts_pb2 as _contacts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientCreated(_message.Message):
    __slots__ = ("meta", "client")
    META_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    client: _contacts_pb2.Client
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., client: _Optional[_Union[_contacts_pb2.Client, _Mapping]] = ...) -> None: ...

class ClientUpdated(_message.Message):
    __slots__ = ("meta", "client", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    client: _contacts_pb2.Client
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., client: _Optional[_Union[_contacts_pb2.Client, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ClientArchived(_message.Message):
    __slots__ = ("meta", "client")
    META_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    client: _contacts_pb2.Client
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., client: _Optional[_Union[_contacts_pb2.Client, _Mapping]] = ...) -> None: ...

class ContactCreated(_message.Message):
    __slots__ = ("meta", "contact")
    META_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    contact: _contacts_pb2.Contact
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., contact: _Optional[_Union[_contacts_pb2.Contact, _Mapping]] = ...) -> None: ...

class ContactUpdated(_message.Message):
    __slots__ = ("meta", "contact", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    contact: _contacts_pb2.Contact
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., contact: _Optional[_Union[_contacts_pb2.Contact, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ContactArchived(_message.Message):
    __slots__ = ("meta", "contact")
    META_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    contact: _contacts_pb2.Contact
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., contact: _Optional[_Union[_contacts_pb2.Contact, _Mapping]] = ...) -> None: ...

class ProspectCreated(_message.Message):
    __slots__ = ("meta", "prospect")
    META_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    prospect: _contacts_pb2.Prospect
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., prospect: _Optional[_Union[_contacts_pb2.Prospect, _Mapping]] = ...) -> None: ...

class ProspectUpdated(_message.Message):
    __slots__ = ("meta", "prospect", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    prospect: _contacts_pb2.Prospect
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., prospect: _Optional[_Union[_contacts_pb2.Prospect, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ProspectArchived(_message.Message):
    __slots__ = ("meta", "prospect")
    META_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    prospect: _contacts_pb2.Prospect
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., prospect: _Optional[_Union[_contacts_pb2.Prospect, _Mapping]] = ...) -> None: ...

class ProspectConverted(_message.Message):
    __slots__ = ("meta", "prospect", "client_id", "contact_id", "client_created", "open_deal", "deal_title", "deal_amount")
    META_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CREATED_FIELD_NUMBER: _ClassVar[int]
    OPEN_DEAL_FIELD_NUMBER: _ClassVar[int]
    DEAL_TITLE_FIELD_NUMBER: _ClassVar[int]
    DEAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    prospect: _contacts_pb2.Prospect
    client_id: str
    contact_id: str
    client_created: bool
    open_deal: bool
    deal_title: str
    deal_amount: _types_pb2.Money
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., prospect: _Optional[_Union[_contacts_pb2.Prospect, _Mapping]] = ..., client_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., client_created: _Optional[bool] = ..., open_deal: _Optional[bool] = ..., deal_title: _Optional[str] = ..., deal_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class ClientDeleted(_message.Message):
    __slots__ = ("meta", "client_id")
    META_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    client_id: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., client_id: _Optional[str] = ...) -> None: ...

class ContactDeleted(_message.Message):
    __slots__ = ("meta", "contact_id", "client_id")
    META_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    contact_id: str
    client_id: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., contact_id: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...

class ProspectDeleted(_message.Message):
    __slots__ = ("meta", "prospect_id")
    META_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    prospect_id: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., prospect_id: _Optional[str] = ...) -> None: ...
