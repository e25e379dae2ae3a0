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

class ImportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_KIND_UNSPECIFIED: _ClassVar[ImportKind]
    IMPORT_KIND_CLIENTS: _ClassVar[ImportKind]
    IMPORT_KIND_CONTACTS: _ClassVar[ImportKind]
    IMPORT_KIND_PROSPECTS: _ClassVar[ImportKind]

class ImportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_FORMAT_UNSPECIFIED: _ClassVar[ImportFormat]
    IMPORT_FORMAT_CSV: _ClassVar[ImportFormat]
    IMPORT_FORMAT_XLSX: _ClassVar[ImportFormat]

class ClientKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_KIND_UNSPECIFIED: _ClassVar[ClientKind]
    CLIENT_KIND_COMPANY: _ClassVar[ClientKind]
    CLIENT_KIND_PERSON: _ClassVar[ClientKind]

class DecisionRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_ROLE_UNSPECIFIED: _ClassVar[DecisionRole]
    DECISION_ROLE_DECISION_MAKER: _ClassVar[DecisionRole]
    DECISION_ROLE_INFLUENCER: _ClassVar[DecisionRole]
    DECISION_ROLE_USER: _ClassVar[DecisionRole]
    DECISION_ROLE_OTHER: _ClassVar[DecisionRole]

class ProspectStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROSPECT_STATUS_UNSPECIFIED: _ClassVar[ProspectStatus]
    PROSPECT_STATUS_NEW: _ClassVar[ProspectStatus]
    PROSPECT_STATUS_CONTACTED: _ClassVar[ProspectStatus]
    PROSPECT_STATUS_QUALIFIED: _ClassVar[ProspectStatus]
    PROSPECT_STATUS_CONVERTED: _ClassVar[ProspectStatus]
    PROSPECT_STATUS_DISQUALIFIED: _ClassVar[ProspectStatus]

class ProspectSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROSPECT_SOURCE_UNSPECIFIED: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_WEB: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_REFERRAL: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_CAMPAIGN: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_TRADE_FAIR: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_ADS: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_RD_STATION: _ClassVar[ProspectSource]
    PROSPECT_SOURCE_IMPORT: _ClassVar[ProspectSource]
IMPORT_KIND_UNSPECIFIED: ImportKind
IMPORT_KIND_CLIENTS: ImportKind
IMPORT_KIND_CONTACTS: ImportKind
IMPORT_KIND_PROSPECTS: ImportKind
IMPORT_FORMAT_UNSPECIFIED: ImportFormat
IMPORT_FORMAT_CSV: ImportFormat
IMPORT_FORMAT_XLSX: ImportFormat
CLIENT_KIND_UNSPECIFIED: ClientKind
CLIENT_KIND_COMPANY: ClientKind
CLIENT_KIND_PERSON: ClientKind
DECISION_ROLE_UNSPECIFIED: DecisionRole
DECISION_ROLE_DECISION_MAKER: DecisionRole
DECISION_ROLE_INFLUENCER: DecisionRole
DECISION_ROLE_USER: DecisionRole
DECISION_ROLE_OTHER: DecisionRole
PROSPECT_STATUS_UNSPECIFIED: ProspectStatus
PROSPECT_STATUS_NEW: ProspectStatus
PROSPECT_STATUS_CONTACTED: ProspectStatus
PROSPECT_STATUS_QUALIFIED: ProspectStatus
PROSPECT_STATUS_CONVERTED: ProspectStatus
PROSPECT_STATUS_DISQUALIFIED: ProspectStatus
PROSPECT_SOURCE_UNSPECIFIED: ProspectSource
PROSPECT_SOURCE_WEB: ProspectSource
PROSPECT_SOURCE_REFERRAL: ProspectSource
PROSPECT_SOURCE_CAMPAIGN: ProspectSource
PROSPECT_SOURCE_TRADE_FAIR: ProspectSource
PROSPECT_SOURCE_ADS: ProspectSource
PROSPECT_SOURCE_RD_STATION: ProspectSource
PROSPECT_SOURCE_IMPORT: ProspectSource

class Address(_message.Message):
    __slots__ = ("street", "city", "region", "postal_code", "country_code")
    STREET_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    street: str
    city: str
    region: str
    postal_code: str
    country_code: str
    def __init__(self, street: _Optional[str] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country_code: _Optional[str] = ...) -> None: ...

class TaxId(_message.Message):
    __slots__ = ("country_code", "value")
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    country_code: str
    value: str
    def __init__(self, country_code: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Client(_message.Message):
    __slots__ = ("id", "kind", "name", "legal_name", "tax_id", "industry", "segment_tags", "email", "phones", "website", "address", "owner_id", "source", "archived", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    TAX_ID_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_TAGS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: ClientKind
    name: str
    legal_name: str
    tax_id: TaxId
    industry: str
    segment_tags: _containers.RepeatedScalarFieldContainer[str]
    email: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    website: str
    address: Address
    owner_id: str
    source: str
    archived: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[ClientKind, str]] = ..., name: _Optional[str] = ..., legal_name: _Optional[str] = ..., tax_id: _Optional[_Union[TaxId, _Mapping]] = ..., industry: _Optional[str] = ..., segment_tags: _Optional[_Iterable[str]] = ..., email: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., website: _Optional[str] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., owner_id: _Optional[str] = ..., source: _Optional[str] = ..., archived: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Contact(_message.Message):
    __slots__ = ("id", "client_id", "first_name", "last_name", "job_title", "email", "phones", "decision_role", "primary", "owner_id", "archived", "create_time", "update_time", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_TITLE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    DECISION_ROLE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    client_id: str
    first_name: str
    last_name: str
    job_title: str
    email: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    decision_role: DecisionRole
    primary: bool
    owner_id: str
    archived: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., client_id: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., job_title: _Optional[str] = ..., email: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., decision_role: _Optional[_Union[DecisionRole, str]] = ..., primary: _Optional[bool] = ..., owner_id: _Optional[str] = ..., archived: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Prospect(_message.Message):
    __slots__ = ("id", "company_name", "first_name", "last_name", "job_title", "email", "phones", "tax_id", "industry", "address", "source", "source_campaign_id", "status", "disqualified_reason", "owner_id", "converted_client_id", "converted_contact_id", "converted_deal_id", "create_time", "update_time", "version", "archived")
    ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_NAME_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_TITLE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    TAX_ID_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DISQUALIFIED_REASON_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    id: str
    company_name: str
    first_name: str
    last_name: str
    job_title: str
    email: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    tax_id: TaxId
    industry: str
    address: Address
    source: ProspectSource
    source_campaign_id: str
    status: ProspectStatus
    disqualified_reason: str
    owner_id: str
    converted_client_id: str
    converted_contact_id: str
    converted_deal_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    archived: bool
    def __init__(self, id: _Optional[str] = ..., company_name: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., job_title: _Optional[str] = ..., email: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., tax_id: _Optional[_Union[TaxId, _Mapping]] = ..., industry: _Optional[str] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., source: _Optional[_Union[ProspectSource, str]] = ..., source_campaign_id: _Optional[str] = ..., status: _Optional[_Union[ProspectStatus, str]] = ..., disqualified_reason: _Optional[str] = ..., owner_id: _Optional[str] = ..., converted_client_id: _Optional[str] = ..., converted_contact_id: _Optional[str] = ..., converted_deal_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., archived: _Optional[bool] = ...) -> None: ...

class GetClientRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class ListClientsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "owner_ids", "segment_tag", "city", "country_code", "include_archived", "industry", "source", "kind", "created_after", "created_before", "include_total_size")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_TAG_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    segment_tag: str
    city: str
    country_code: str
    include_archived: bool
    industry: str
    source: str
    kind: ClientKind
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    include_total_size: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., segment_tag: _Optional[str] = ..., city: _Optional[str] = ..., country_code: _Optional[str] = ..., include_archived: _Optional[bool] = ..., industry: _Optional[str] = ..., source: _Optional[str] = ..., kind: _Optional[_Union[ClientKind, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_total_size: _Optional[bool] = ...) -> None: ...

class ListClientsResponse(_message.Message):
    __slots__ = ("clients", "next_page_token", "total_size")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    next_page_token: str
    total_size: int
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateClientRequest(_message.Message):
    __slots__ = ("client", "request_id", "force_duplicate")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    client: Client
    request_id: str
    force_duplicate: bool
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., request_id: _Optional[str] = ..., force_duplicate: _Optional[bool] = ...) -> None: ...

class CreateClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class UpdateClientRequest(_message.Message):
    __slots__ = ("client", "update_mask", "expected_version")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    client: Client
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class DeleteClientRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteClientResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ArchiveClientRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ArchiveClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class BatchGetClientsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetClientsResponse(_message.Message):
    __slots__ = ("clients", "missing_ids")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetContactsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetContactsResponse(_message.Message):
    __slots__ = ("contacts", "missing_ids")
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[Contact]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, contacts: _Optional[_Iterable[_Union[Contact, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetContactRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetContactResponse(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class ListContactsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "client_id", "owner_ids", "include_archived", "decision_role", "created_after", "created_before", "include_total_size")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    DECISION_ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    client_id: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    include_archived: bool
    decision_role: DecisionRole
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    include_total_size: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., client_id: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., include_archived: _Optional[bool] = ..., decision_role: _Optional[_Union[DecisionRole, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_total_size: _Optional[bool] = ...) -> None: ...

class ListContactsResponse(_message.Message):
    __slots__ = ("contacts", "next_page_token", "total_size")
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[Contact]
    next_page_token: str
    total_size: int
    def __init__(self, contacts: _Optional[_Iterable[_Union[Contact, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateContactRequest(_message.Message):
    __slots__ = ("contact", "request_id", "force_duplicate")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    request_id: str
    force_duplicate: bool
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., request_id: _Optional[str] = ..., force_duplicate: _Optional[bool] = ...) -> None: ...

class CreateContactResponse(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class UpdateContactRequest(_message.Message):
    __slots__ = ("contact", "update_mask", "expected_version")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateContactResponse(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class DeleteContactRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteContactResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ArchiveContactRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ArchiveContactResponse(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class ArchiveProspectRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ArchiveProspectResponse(_message.Message):
    __slots__ = ("prospect",)
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    prospect: Prospect
    def __init__(self, prospect: _Optional[_Union[Prospect, _Mapping]] = ...) -> None: ...

class GetProspectRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetProspectResponse(_message.Message):
    __slots__ = ("prospect",)
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    prospect: Prospect
    def __init__(self, prospect: _Optional[_Union[Prospect, _Mapping]] = ...) -> None: ...

class ListProspectsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "owner_ids", "status", "source", "source_campaign_id", "include_archived", "city", "country_code", "industry", "created_after", "created_before", "include_total_size")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    status: ProspectStatus
    source: ProspectSource
    source_campaign_id: str
    include_archived: bool
    city: str
    country_code: str
    industry: str
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    include_total_size: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[ProspectStatus, str]] = ..., source: _Optional[_Union[ProspectSource, str]] = ..., source_campaign_id: _Optional[str] = ..., include_archived: _Optional[bool] = ..., city: _Optional[str] = ..., country_code: _Optional[str] = ..., industry: _Optional[str] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_total_size: _Optional[bool] = ...) -> None: ...

class ListProspectsResponse(_message.Message):
    __slots__ = ("prospects", "next_page_token", "total_size")
    PROSPECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    prospects: _containers.RepeatedCompositeFieldContainer[Prospect]
    next_page_token: str
    total_size: int
    def __init__(self, prospects: _Optional[_Iterable[_Union[Prospect, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateProspectRequest(_message.Message):
    __slots__ = ("prospect", "request_id", "force_duplicate")
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    prospect: Prospect
    request_id: str
    force_duplicate: bool
    def __init__(self, prospect: _Optional[_Union[Prospect, _Mapping]] = ..., request_id: _Optional[str] = ..., force_duplicate: _Optional[bool] = ...) -> None: ...

class CreateProspectResponse(_message.Message):
    __slots__ = ("prospect",)
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    prospect: Prospect
    def __init__(self, prospect: _Optional[_Union[Prospect, _Mapping]] = ...) -> None: ...

class UpdateProspectRequest(_message.Message):
    __slots__ = ("prospect", "update_mask", "expected_version")
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    prospect: Prospect
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, prospect: _Optional[_Union[Prospect, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateProspectResponse(_message.Message):
    __slots__ = ("prospect",)
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    prospect: Prospect
    def __init__(self, prospect: _Optional[_Union[Prospect, _Mapping]] = ...) -> None: ...

class DeleteProspectRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteProspectResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConvertProspectRequest(_message.Message):
    __slots__ = ("prospect_id", "reuse_matching_client", "open_deal", "deal_title", "deal_amount")
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    REUSE_MATCHING_CLIENT_FIELD_NUMBER: _ClassVar[int]
    OPEN_DEAL_FIELD_NUMBER: _ClassVar[int]
    DEAL_TITLE_FIELD_NUMBER: _ClassVar[int]
    DEAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    prospect_id: str
    reuse_matching_client: bool
    open_deal: bool
    deal_title: str
    deal_amount: _types_pb2.Money
    def __init__(self, prospect_id: _Optional[str] = ..., reuse_matching_client: _Optional[bool] = ..., open_deal: _Optional[bool] = ..., deal_title: _Optional[str] = ..., deal_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class ConvertProspectResponse(_message.Message):
    __slots__ = ("client", "contact", "prospect", "client_created", "converted_now")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CREATED_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_NOW_FIELD_NUMBER: _ClassVar[int]
    client: Client
    contact: Contact
    prospect: Prospect
    client_created: bool
    converted_now: bool
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., contact: _Optional[_Union[Contact, _Mapping]] = ..., prospect: _Optional[_Union[Prospect, _Mapping]] = ..., client_created: _Optional[bool] = ..., converted_now: _Optional[bool] = ...) -> None: ...

class ImportRecordsRequest(_message.Message):
    __slots__ = ("kind", "format", "content", "file_name", "default_owner_id", "allowed_owner_ids", "dry_run", "default_source", "source_campaign_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    kind: ImportKind
    format: ImportFormat
    content: bytes
    file_name: str
    default_owner_id: str
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    default_source: ProspectSource
    source_campaign_id: str
    def __init__(self, kind: _Optional[_Union[ImportKind, str]] = ..., format: _Optional[_Union[ImportFormat, str]] = ..., content: _Optional[bytes] = ..., file_name: _Optional[str] = ..., default_owner_id: _Optional[str] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ..., dry_run: _Optional[bool] = ..., default_source: _Optional[_Union[ProspectSource, str]] = ..., source_campaign_id: _Optional[str] = ...) -> None: ...

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

class ImportRecordsResponse(_message.Message):
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
