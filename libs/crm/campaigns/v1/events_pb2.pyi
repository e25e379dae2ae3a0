from crm.campaigns.v1 import campaigns_pb2 as _campaigns_pb2
from crm.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CampaignCreated(_message.Message):
    __slots__ = ("meta", "campaign")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign: _campaigns_pb2.Campaign
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign: _Optional[_Union[_campaigns_pb2.Campaign, _Mapping]] = ...) -> None: ...

class CampaignUpdated(_message.Message):
    __slots__ = ("meta", "campaign", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign: _campaigns_pb2.Campaign
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign: _Optional[_Union[_campaigns_pb2.Campaign, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class CampaignLaunched(_message.Message):
    __slots__ = ("meta", "campaign", "member_count")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign: _campaigns_pb2.Campaign
    member_count: int
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign: _Optional[_Union[_campaigns_pb2.Campaign, _Mapping]] = ..., member_count: _Optional[int] = ...) -> None: ...

class CampaignCompleted(_message.Message):
    __slots__ = ("meta", "campaign", "results")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign: _campaigns_pb2.Campaign
    results: _campaigns_pb2.CampaignResults
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign: _Optional[_Union[_campaigns_pb2.Campaign, _Mapping]] = ..., results: _Optional[_Union[_campaigns_pb2.CampaignResults, _Mapping]] = ...) -> None: ...

class CampaignCancelled(_message.Message):
    __slots__ = ("meta", "campaign")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign: _campaigns_pb2.Campaign
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign: _Optional[_Union[_campaigns_pb2.Campaign, _Mapping]] = ...) -> None: ...

class CampaignDeleted(_message.Message):
    __slots__ = ("meta", "campaign")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign: _campaigns_pb2.Campaign
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign: _Optional[_Union[_campaigns_pb2.Campaign, _Mapping]] = ...) -> None: ...

class MemberStatusChanged(_message.Message):
    __slots__ = ("meta", "member", "previous_status", "campaign_type")
    META_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    member: _campaigns_pb2.Member
    previous_status: _campaigns_pb2.MemberStatus
    campaign_type: _campaigns_pb2.CampaignType
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., member: _Optional[_Union[_campaigns_pb2.Member, _Mapping]] = ..., previous_status: _Optional[_Union[_campaigns_pb2.MemberStatus, str]] = ..., campaign_type: _Optional[_Union[_campaigns_pb2.CampaignType, str]] = ...) -> None: ...

class LeadCaptured(_message.Message):
    __slots__ = ("meta", "campaign_id", "lead", "prospect_id", "owner_id", "member")
    META_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_FIELD_NUMBER: _ClassVar[int]
    PROSPECT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    campaign_id: str
    lead: _campaigns_pb2.Lead
    prospect_id: str
    owner_id: str
    member: _campaigns_pb2.Member
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., campaign_id: _Optional[str] = ..., lead: _Optional[_Union[_campaigns_pb2.Lead, _Mapping]] = ..., prospect_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., member: _Optional[_Union[_campaigns_pb2.Member, _Mapping]] = ...) -> None: ...

class SpendRecorded(_message.Message):
    __slots__ = ("meta", "spend", "campaign_cost")
    META_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_COST_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    spend: _campaigns_pb2.Spend
    campaign_cost: _types_pb2.Money
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., spend: _Optional[_Union[_campaigns_pb2.Spend, _Mapping]] = ..., campaign_cost: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...
