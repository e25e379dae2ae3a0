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

class CampaignType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMPAIGN_TYPE_UNSPECIFIED: _ClassVar[CampaignType]
    CAMPAIGN_TYPE_MAILING: _ClassVar[CampaignType]
    CAMPAIGN_TYPE_TELEMARKETING: _ClassVar[CampaignType]
    CAMPAIGN_TYPE_SOCIAL_ADS: _ClassVar[CampaignType]
    CAMPAIGN_TYPE_TRADE_FAIR: _ClassVar[CampaignType]

class CampaignStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMPAIGN_STATUS_UNSPECIFIED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_DRAFT: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_SCHEDULED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_RUNNING: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_COMPLETED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_CANCELLED: _ClassVar[CampaignStatus]

class TargetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARGET_KIND_UNSPECIFIED: _ClassVar[TargetKind]
    TARGET_KIND_CLIENTS: _ClassVar[TargetKind]
    TARGET_KIND_CONTACTS: _ClassVar[TargetKind]
    TARGET_KIND_PROSPECTS: _ClassVar[TargetKind]

class MailProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAIL_PROVIDER_UNSPECIFIED: _ClassVar[MailProvider]
    MAIL_PROVIDER_SMTP: _ClassVar[MailProvider]
    MAIL_PROVIDER_MAILCHIMP: _ClassVar[MailProvider]

class MemberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATUS_UNSPECIFIED: _ClassVar[MemberStatus]
    MEMBER_STATUS_PENDING: _ClassVar[MemberStatus]
    MEMBER_STATUS_SENT: _ClassVar[MemberStatus]
    MEMBER_STATUS_BOUNCED: _ClassVar[MemberStatus]
    MEMBER_STATUS_OPENED: _ClassVar[MemberStatus]
    MEMBER_STATUS_CLICKED: _ClassVar[MemberStatus]
    MEMBER_STATUS_UNSUBSCRIBED: _ClassVar[MemberStatus]
    MEMBER_STATUS_CALLED: _ClassVar[MemberStatus]
    MEMBER_STATUS_CONVERTED: _ClassVar[MemberStatus]
    MEMBER_STATUS_SKIPPED: _ClassVar[MemberStatus]

class CallOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_OUTCOME_UNSPECIFIED: _ClassVar[CallOutcome]
    CALL_OUTCOME_NO_ANSWER: _ClassVar[CallOutcome]
    CALL_OUTCOME_CALL_BACK: _ClassVar[CallOutcome]
    CALL_OUTCOME_NOT_INTERESTED: _ClassVar[CallOutcome]
    CALL_OUTCOME_INTERESTED: _ClassVar[CallOutcome]
    CALL_OUTCOME_MEETING_SET: _ClassVar[CallOutcome]

class CallFollowUp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_FOLLOW_UP_UNSPECIFIED: _ClassVar[CallFollowUp]
    CALL_FOLLOW_UP_CREATE_PROSPECT: _ClassVar[CallFollowUp]
    CALL_FOLLOW_UP_CREATE_DEAL: _ClassVar[CallFollowUp]

class MailEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAIL_EVENT_KIND_UNSPECIFIED: _ClassVar[MailEventKind]
    MAIL_EVENT_KIND_DELIVERED: _ClassVar[MailEventKind]
    MAIL_EVENT_KIND_BOUNCED: _ClassVar[MailEventKind]
    MAIL_EVENT_KIND_OPENED: _ClassVar[MailEventKind]
    MAIL_EVENT_KIND_CLICKED: _ClassVar[MailEventKind]
    MAIL_EVENT_KIND_UNSUBSCRIBED: _ClassVar[MailEventKind]

class LeadSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEAD_SOURCE_UNSPECIFIED: _ClassVar[LeadSource]
    LEAD_SOURCE_TRADE_FAIR: _ClassVar[LeadSource]
    LEAD_SOURCE_GOOGLE_ADS: _ClassVar[LeadSource]
    LEAD_SOURCE_RD_STATION: _ClassVar[LeadSource]
    LEAD_SOURCE_WEB_FORM: _ClassVar[LeadSource]
    LEAD_SOURCE_MANUAL: _ClassVar[LeadSource]

class ImportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_FORMAT_UNSPECIFIED: _ClassVar[ImportFormat]
    IMPORT_FORMAT_CSV: _ClassVar[ImportFormat]
    IMPORT_FORMAT_XLSX: _ClassVar[ImportFormat]
CAMPAIGN_TYPE_UNSPECIFIED: CampaignType
CAMPAIGN_TYPE_MAILING: CampaignType
CAMPAIGN_TYPE_TELEMARKETING: CampaignType
CAMPAIGN_TYPE_SOCIAL_ADS: CampaignType
CAMPAIGN_TYPE_TRADE_FAIR: CampaignType
CAMPAIGN_STATUS_UNSPECIFIED: CampaignStatus
CAMPAIGN_STATUS_DRAFT: CampaignStatus
CAMPAIGN_STATUS_SCHEDULED: CampaignStatus
CAMPAIGN_STATUS_RUNNING: CampaignStatus
CAMPAIGN_STATUS_COMPLETED: CampaignStatus
CAMPAIGN_STATUS_CANCELLED: CampaignStatus
TARGET_KIND_UNSPECIFIED: TargetKind
TARGET_KIND_CLIENTS: TargetKind
TARGET_KIND_CONTACTS: TargetKind
TARGET_KIND_PROSPECTS: TargetKind
MAIL_PROVIDER_UNSPECIFIED: MailProvider
MAIL_PROVIDER_SMTP: MailProvider
MAIL_PROVIDER_MAILCHIMP: MailProvider
MEMBER_STATUS_UNSPECIFIED: MemberStatus
MEMBER_STATUS_PENDING: MemberStatus
MEMBER_STATUS_SENT: MemberStatus
MEMBER_STATUS_BOUNCED: MemberStatus
MEMBER_STATUS_OPENED: MemberStatus
MEMBER_STATUS_CLICKED: MemberStatus
MEMBER_STATUS_UNSUBSCRIBED: MemberStatus
MEMBER_STATUS_CALLED: MemberStatus
MEMBER_STATUS_CONVERTED: MemberStatus
MEMBER_STATUS_SKIPPED: MemberStatus
CALL_OUTCOME_UNSPECIFIED: CallOutcome
CALL_OUTCOME_NO_ANSWER: CallOutcome
CALL_OUTCOME_CALL_BACK: CallOutcome
CALL_OUTCOME_NOT_INTERESTED: CallOutcome
CALL_OUTCOME_INTERESTED: CallOutcome
CALL_OUTCOME_MEETING_SET: CallOutcome
CALL_FOLLOW_UP_UNSPECIFIED: CallFollowUp
CALL_FOLLOW_UP_CREATE_PROSPECT: CallFollowUp
CALL_FOLLOW_UP_CREATE_DEAL: CallFollowUp
MAIL_EVENT_KIND_UNSPECIFIED: MailEventKind
MAIL_EVENT_KIND_DELIVERED: MailEventKind
MAIL_EVENT_KIND_BOUNCED: MailEventKind
MAIL_EVENT_KIND_OPENED: MailEventKind
MAIL_EVENT_KIND_CLICKED: MailEventKind
MAIL_EVENT_KIND_UNSUBSCRIBED: MailEventKind
LEAD_SOURCE_UNSPECIFIED: LeadSource
LEAD_SOURCE_TRADE_FAIR: LeadSource
LEAD_SOURCE_GOOGLE_ADS: LeadSource
LEAD_SOURCE_RD_STATION: LeadSource
LEAD_SOURCE_WEB_FORM: LeadSource
LEAD_SOURCE_MANUAL: LeadSource
IMPORT_FORMAT_UNSPECIFIED: ImportFormat
IMPORT_FORMAT_CSV: ImportFormat
IMPORT_FORMAT_XLSX: ImportFormat

class TargetSegment(_message.Message):
    __slots__ = ("kind", "segment_tags", "industries", "cities", "country_codes", "owner_ids", "prospect_statuses", "prospect_sources")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_TAGS_FIELD_NUMBER: _ClassVar[int]
    INDUSTRIES_FIELD_NUMBER: _ClassVar[int]
    CITIES_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODES_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_SOURCES_FIELD_NUMBER: _ClassVar[int]
    kind: TargetKind
    segment_tags: _containers.RepeatedScalarFieldContainer[str]
    industries: _containers.RepeatedScalarFieldContainer[str]
    cities: _containers.RepeatedScalarFieldContainer[str]
    country_codes: _containers.RepeatedScalarFieldContainer[str]
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    prospect_statuses: _containers.RepeatedScalarFieldContainer[str]
    prospect_sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[TargetKind, str]] = ..., segment_tags: _Optional[_Iterable[str]] = ..., industries: _Optional[_Iterable[str]] = ..., cities: _Optional[_Iterable[str]] = ..., country_codes: _Optional[_Iterable[str]] = ..., owner_ids: _Optional[_Iterable[str]] = ..., prospect_statuses: _Optional[_Iterable[str]] = ..., prospect_sources: _Optional[_Iterable[str]] = ...) -> None: ...

class MailingContent(_message.Message):
    __slots__ = ("subject", "html_body", "text_body", "provider", "from_name", "from_email", "reply_to_email")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    HTML_BODY_FIELD_NUMBER: _ClassVar[int]
    TEXT_BODY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    FROM_NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_EMAIL_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_EMAIL_FIELD_NUMBER: _ClassVar[int]
    subject: str
    html_body: str
    text_body: str
    provider: MailProvider
    from_name: str
    from_email: str
    reply_to_email: str
    def __init__(self, subject: _Optional[str] = ..., html_body: _Optional[str] = ..., text_body: _Optional[str] = ..., provider: _Optional[_Union[MailProvider, str]] = ..., from_name: _Optional[str] = ..., from_email: _Optional[str] = ..., reply_to_email: _Optional[str] = ...) -> None: ...

class Campaign(_message.Message):
    __slots__ = ("id", "name", "type", "status", "start_date", "end_date", "owner_id", "budget", "cost", "description", "target", "mailing", "external_id", "launch_time", "complete_time", "cancel_time", "cancel_reason", "create_time", "update_time", "version", "webhook_secret")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MAILING_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    type: CampaignType
    status: CampaignStatus
    start_date: _types_pb2.Date
    end_date: _types_pb2.Date
    owner_id: str
    budget: _types_pb2.Money
    cost: _types_pb2.Money
    description: str
    target: TargetSegment
    mailing: MailingContent
    external_id: str
    launch_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    cancel_time: _timestamp_pb2.Timestamp
    cancel_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    webhook_secret: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[_Union[CampaignType, str]] = ..., status: _Optional[_Union[CampaignStatus, str]] = ..., start_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., end_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., owner_id: _Optional[str] = ..., budget: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., cost: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., description: _Optional[str] = ..., target: _Optional[_Union[TargetSegment, _Mapping]] = ..., mailing: _Optional[_Union[MailingContent, _Mapping]] = ..., external_id: _Optional[str] = ..., launch_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("id", "campaign_id", "client_id", "contact_id", "prospect_id", "email", "phone", "display_name", "status", "assigned_rep_id", "last_call_outcome", "last_call_time", "call_count", "call_back_time", "created_prospect_id", "created_deal_id", "status_time", "version", "send_error", "send_state")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_REP_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_CALL_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LAST_CALL_TIME_FIELD_NUMBER: _ClassVar[int]
    CALL_COUNT_FIELD_NUMBER: _ClassVar[int]
    CALL_BACK_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SEND_ERROR_FIELD_NUMBER: _ClassVar[int]
    SEND_STATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    campaign_id: str
    client_id: str
    contact_id: str
    prospect_id: str
    email: str
    phone: str
    display_name: str
    status: MemberStatus
    assigned_rep_id: str
    last_call_outcome: CallOutcome
    last_call_time: _timestamp_pb2.Timestamp
    call_count: int
    call_back_time: _timestamp_pb2.Timestamp
    created_prospect_id: str
    created_deal_id: str
    status_time: _timestamp_pb2.Timestamp
    version: int
    send_error: str
    send_state: str
    def __init__(self, id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., client_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., prospect_id: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., display_name: _Optional[str] = ..., status: _Optional[_Union[MemberStatus, str]] = ..., assigned_rep_id: _Optional[str] = ..., last_call_outcome: _Optional[_Union[CallOutcome, str]] = ..., last_call_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., call_count: _Optional[int] = ..., call_back_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_prospect_id: _Optional[str] = ..., created_deal_id: _Optional[str] = ..., status_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., send_error: _Optional[str] = ..., send_state: _Optional[str] = ...) -> None: ...

class Lead(_message.Message):
    __slots__ = ("company_name", "first_name", "last_name", "job_title", "email", "phone", "city", "country_code", "notes", "source", "external_id")
    COMPANY_NAME_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_TITLE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    company_name: str
    first_name: str
    last_name: str
    job_title: str
    email: str
    phone: str
    city: str
    country_code: str
    notes: str
    source: LeadSource
    external_id: str
    def __init__(self, company_name: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., job_title: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., city: _Optional[str] = ..., country_code: _Optional[str] = ..., notes: _Optional[str] = ..., source: _Optional[_Union[LeadSource, str]] = ..., external_id: _Optional[str] = ...) -> None: ...

class LeadError(_message.Message):
    __slots__ = ("index", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    message: str
    def __init__(self, index: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Spend(_message.Message):
    __slots__ = ("id", "campaign_id", "spend_date", "amount", "description", "recorded_by", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    SPEND_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    campaign_id: str
    spend_date: _types_pb2.Date
    amount: _types_pb2.Money
    description: str
    recorded_by: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., spend_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., description: _Optional[str] = ..., recorded_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CallOutcomeCount(_message.Message):
    __slots__ = ("outcome", "count")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    outcome: CallOutcome
    count: int
    def __init__(self, outcome: _Optional[_Union[CallOutcome, str]] = ..., count: _Optional[int] = ...) -> None: ...

class CampaignResults(_message.Message):
    __slots__ = ("campaign_id", "member_count", "members_reached", "mails_sent", "bounces", "opens", "clicks", "unsubscribes", "calls_made", "calls_by_outcome", "leads", "deals_opened", "deals_won", "won_amount", "other_won_amounts", "cost", "cost_per_lead", "roi", "compute_time")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_REACHED_FIELD_NUMBER: _ClassVar[int]
    MAILS_SENT_FIELD_NUMBER: _ClassVar[int]
    BOUNCES_FIELD_NUMBER: _ClassVar[int]
    OPENS_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBES_FIELD_NUMBER: _ClassVar[int]
    CALLS_MADE_FIELD_NUMBER: _ClassVar[int]
    CALLS_BY_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LEADS_FIELD_NUMBER: _ClassVar[int]
    DEALS_OPENED_FIELD_NUMBER: _ClassVar[int]
    DEALS_WON_FIELD_NUMBER: _ClassVar[int]
    WON_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OTHER_WON_AMOUNTS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    COST_PER_LEAD_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    member_count: int
    members_reached: int
    mails_sent: int
    bounces: int
    opens: int
    clicks: int
    unsubscribes: int
    calls_made: int
    calls_by_outcome: _containers.RepeatedCompositeFieldContainer[CallOutcomeCount]
    leads: int
    deals_opened: int
    deals_won: int
    won_amount: _types_pb2.Money
    other_won_amounts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Money]
    cost: _types_pb2.Money
    cost_per_lead: _types_pb2.Money
    roi: str
    compute_time: _timestamp_pb2.Timestamp
    def __init__(self, campaign_id: _Optional[str] = ..., member_count: _Optional[int] = ..., members_reached: _Optional[int] = ..., mails_sent: _Optional[int] = ..., bounces: _Optional[int] = ..., opens: _Optional[int] = ..., clicks: _Optional[int] = ..., unsubscribes: _Optional[int] = ..., calls_made: _Optional[int] = ..., calls_by_outcome: _Optional[_Iterable[_Union[CallOutcomeCount, _Mapping]]] = ..., leads: _Optional[int] = ..., deals_opened: _Optional[int] = ..., deals_won: _Optional[int] = ..., won_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., other_won_amounts: _Optional[_Iterable[_Union[_types_pb2.Money, _Mapping]]] = ..., cost: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., cost_per_lead: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., roi: _Optional[str] = ..., compute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCampaignRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ListCampaignsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "query", "type", "status", "owner_ids", "active_on", "member_rep_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ON_FIELD_NUMBER: _ClassVar[int]
    MEMBER_REP_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    query: str
    type: CampaignType
    status: CampaignStatus
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    active_on: _types_pb2.Date
    member_rep_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ..., type: _Optional[_Union[CampaignType, str]] = ..., status: _Optional[_Union[CampaignStatus, str]] = ..., owner_ids: _Optional[_Iterable[str]] = ..., active_on: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., member_rep_id: _Optional[str] = ...) -> None: ...

class ListCampaignsResponse(_message.Message):
    __slots__ = ("campaigns", "next_page_token")
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaigns: _containers.RepeatedCompositeFieldContainer[Campaign]
    next_page_token: str
    def __init__(self, campaigns: _Optional[_Iterable[_Union[Campaign, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateCampaignRequest(_message.Message):
    __slots__ = ("campaign", "request_id", "allowed_owner_ids")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    request_id: str
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., request_id: _Optional[str] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class UpdateCampaignRequest(_message.Message):
    __slots__ = ("campaign", "update_mask", "expected_version", "allowed_owner_ids")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class DeleteCampaignRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteCampaignResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LaunchCampaignRequest(_message.Message):
    __slots__ = ("campaign_id", "rep_ids", "expected_version", "allowed_owner_ids")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    REP_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    rep_ids: _containers.RepeatedScalarFieldContainer[str]
    expected_version: int
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, campaign_id: _Optional[str] = ..., rep_ids: _Optional[_Iterable[str]] = ..., expected_version: _Optional[int] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class LaunchCampaignResponse(_message.Message):
    __slots__ = ("campaign", "member_count", "skipped_count")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    member_count: int
    skipped_count: int
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., member_count: _Optional[int] = ..., skipped_count: _Optional[int] = ...) -> None: ...

class CompleteCampaignRequest(_message.Message):
    __slots__ = ("campaign_id", "expected_version")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    expected_version: int
    def __init__(self, campaign_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class CompleteCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class CancelCampaignRequest(_message.Message):
    __slots__ = ("campaign_id", "reason", "expected_version")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    reason: str
    expected_version: int
    def __init__(self, campaign_id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class CancelCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class BatchGetCampaignsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetCampaignsResponse(_message.Message):
    __slots__ = ("campaigns", "missing_ids")
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    campaigns: _containers.RepeatedCompositeFieldContainer[Campaign]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, campaigns: _Optional[_Iterable[_Union[Campaign, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "campaign_id", "query", "status", "assigned_rep_id", "last_call_outcome", "call_back_before")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_REP_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_CALL_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CALL_BACK_BEFORE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    campaign_id: str
    query: str
    status: MemberStatus
    assigned_rep_id: str
    last_call_outcome: CallOutcome
    call_back_before: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., campaign_id: _Optional[str] = ..., query: _Optional[str] = ..., status: _Optional[_Union[MemberStatus, str]] = ..., assigned_rep_id: _Optional[str] = ..., last_call_outcome: _Optional[_Union[CallOutcome, str]] = ..., call_back_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members", "next_page_token")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    next_page_token: str
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PreviewSegmentRequest(_message.Message):
    __slots__ = ("campaign_id", "allowed_owner_ids", "sample_size")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    allowed_owner_ids: _containers.RepeatedScalarFieldContainer[str]
    sample_size: int
    def __init__(self, campaign_id: _Optional[str] = ..., allowed_owner_ids: _Optional[_Iterable[str]] = ..., sample_size: _Optional[int] = ...) -> None: ...

class PreviewSegmentResponse(_message.Message):
    __slots__ = ("member_count", "skipped_count", "sample")
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    member_count: int
    skipped_count: int
    sample: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, member_count: _Optional[int] = ..., skipped_count: _Optional[int] = ..., sample: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class SendTestMailRequest(_message.Message):
    __slots__ = ("campaign_id", "emails")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    emails: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, campaign_id: _Optional[str] = ..., emails: _Optional[_Iterable[str]] = ...) -> None: ...

class SendTestMailResponse(_message.Message):
    __slots__ = ("sent_count",)
    SENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    sent_count: int
    def __init__(self, sent_count: _Optional[int] = ...) -> None: ...

class SendMailingRequest(_message.Message):
    __slots__ = ("campaign_id", "request_id")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    request_id: str
    def __init__(self, campaign_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SendMailingResponse(_message.Message):
    __slots__ = ("queued_count",)
    QUEUED_COUNT_FIELD_NUMBER: _ClassVar[int]
    queued_count: int
    def __init__(self, queued_count: _Optional[int] = ...) -> None: ...

class RecordMailEventRequest(_message.Message):
    __slots__ = ("campaign_id", "member_id", "email", "kind", "event_time", "external_event_id", "webhook_secret")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    member_id: str
    email: str
    kind: MailEventKind
    event_time: _timestamp_pb2.Timestamp
    external_event_id: str
    webhook_secret: str
    def __init__(self, campaign_id: _Optional[str] = ..., member_id: _Optional[str] = ..., email: _Optional[str] = ..., kind: _Optional[_Union[MailEventKind, str]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., external_event_id: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class RecordMailEventResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class RecordCallOutcomeRequest(_message.Message):
    __slots__ = ("member_id", "outcome", "call_back_time", "notes", "follow_up", "deal_title", "deal_amount", "expected_version", "request_id", "campaign_id", "assigned_rep_id")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CALL_BACK_TIME_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_FIELD_NUMBER: _ClassVar[int]
    DEAL_TITLE_FIELD_NUMBER: _ClassVar[int]
    DEAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_REP_ID_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    outcome: CallOutcome
    call_back_time: _timestamp_pb2.Timestamp
    notes: str
    follow_up: CallFollowUp
    deal_title: str
    deal_amount: _types_pb2.Money
    expected_version: int
    request_id: str
    campaign_id: str
    assigned_rep_id: str
    def __init__(self, member_id: _Optional[str] = ..., outcome: _Optional[_Union[CallOutcome, str]] = ..., call_back_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notes: _Optional[str] = ..., follow_up: _Optional[_Union[CallFollowUp, str]] = ..., deal_title: _Optional[str] = ..., deal_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., expected_version: _Optional[int] = ..., request_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., assigned_rep_id: _Optional[str] = ...) -> None: ...

class RecordCallOutcomeResponse(_message.Message):
    __slots__ = ("member", "activity_id", "prospect_id", "deal_id")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    member: Member
    activity_id: str
    prospect_id: str
    deal_id: str
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., activity_id: _Optional[str] = ..., prospect_id: _Optional[str] = ..., deal_id: _Optional[str] = ...) -> None: ...

class CaptureLeadRequest(_message.Message):
    __slots__ = ("campaign_id", "lead", "owner_id", "request_id", "webhook_secret")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    lead: Lead
    owner_id: str
    request_id: str
    webhook_secret: str
    def __init__(self, campaign_id: _Optional[str] = ..., lead: _Optional[_Union[Lead, _Mapping]] = ..., owner_id: _Optional[str] = ..., request_id: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class CaptureLeadResponse(_message.Message):
    __slots__ = ("member", "prospect_id", "created")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    member: Member
    prospect_id: str
    created: bool
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., prospect_id: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class BatchCaptureLeadsRequest(_message.Message):
    __slots__ = ("campaign_id", "leads", "owner_id", "request_id", "webhook_secret")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    LEADS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    leads: _containers.RepeatedCompositeFieldContainer[Lead]
    owner_id: str
    request_id: str
    webhook_secret: str
    def __init__(self, campaign_id: _Optional[str] = ..., leads: _Optional[_Iterable[_Union[Lead, _Mapping]]] = ..., owner_id: _Optional[str] = ..., request_id: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class BatchCaptureLeadsResponse(_message.Message):
    __slots__ = ("created_count", "duplicate_count", "errors")
    CREATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    created_count: int
    duplicate_count: int
    errors: _containers.RepeatedCompositeFieldContainer[LeadError]
    def __init__(self, created_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[LeadError, _Mapping]]] = ...) -> None: ...

class RecordSpendRequest(_message.Message):
    __slots__ = ("campaign_id", "spend_date", "amount", "description", "request_id")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    SPEND_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    spend_date: _types_pb2.Date
    amount: _types_pb2.Money
    description: str
    request_id: str
    def __init__(self, campaign_id: _Optional[str] = ..., spend_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., description: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecordSpendResponse(_message.Message):
    __slots__ = ("spend", "campaign")
    SPEND_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    spend: Spend
    campaign: Campaign
    def __init__(self, spend: _Optional[_Union[Spend, _Mapping]] = ..., campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class GetCampaignResultsRequest(_message.Message):
    __slots__ = ("campaign_id",)
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    def __init__(self, campaign_id: _Optional[str] = ...) -> None: ...

class GetCampaignResultsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: CampaignResults
    def __init__(self, results: _Optional[_Union[CampaignResults, _Mapping]] = ...) -> None: ...

class ImportLeadsRequest(_message.Message):
    __slots__ = ("campaign_id", "format", "content", "file_name", "owner_id", "dry_run")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    format: ImportFormat
    content: bytes
    file_name: str
    owner_id: str
    dry_run: bool
    def __init__(self, campaign_id: _Optional[str] = ..., format: _Optional[_Union[ImportFormat, str]] = ..., content: _Optional[bytes] = ..., file_name: _Optional[str] = ..., owner_id: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ImportRowProblem(_message.Message):
    __slots__ = ("row", "field", "message")
    ROW_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    row: int
    field: str
    message: str
    def __init__(self, row: _Optional[int] = ..., field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ImportLeadsResponse(_message.Message):
    __slots__ = ("total_rows", "created", "duplicates", "failed", "problems", "created_ids")
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    CREATED_IDS_FIELD_NUMBER: _ClassVar[int]
    total_rows: int
    created: int
    duplicates: int
    failed: int
    problems: _containers.RepeatedCompositeFieldContainer[ImportRowProblem]
    created_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, total_rows: _Optional[int] = ..., created: _Optional[int] = ..., duplicates: _Optional[int] = ..., failed: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[ImportRowProblem, _Mapping]]] = ..., created_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UnsubscribeRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class UnsubscribeResponse(_message.Message):
    __slots__ = ("campaign_id", "email")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    email: str
    def __init__(self, campaign_id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class RefreshMailReportRequest(_message.Message):
    __slots__ = ("campaign_id",)
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    def __init__(self, campaign_id: _Optional[str] = ...) -> None: ...

class RefreshMailReportResponse(_message.Message):
    __slots__ = ("recorded_count",)
    RECORDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    recorded_count: int
    def __init__(self, recorded_count: _Optional[int] = ...) -> None: ...
