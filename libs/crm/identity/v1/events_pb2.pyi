import datetime

from crm.common.v1 import types_pb2 as _types_pb2
from crm.identity.v1 import identity_pb2 as _identity_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserCreated(_message.Message):
    __slots__ = ("meta", "user")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    user: _identity_pb2.User
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ...) -> None: ...

class UserUpdated(_message.Message):
    __slots__ = ("meta", "user", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    user: _identity_pb2.User
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class UserDeactivated(_message.Message):
    __slots__ = ("meta", "user")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    user: _identity_pb2.User
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ...) -> None: ...

class TeamCreated(_message.Message):
    __slots__ = ("meta", "team")
    META_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    team: _identity_pb2.Team
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., team: _Optional[_Union[_identity_pb2.Team, _Mapping]] = ...) -> None: ...

class TeamUpdated(_message.Message):
    __slots__ = ("meta", "team", "changed_fields")
    META_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    team: _identity_pb2.Team
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., team: _Optional[_Union[_identity_pb2.Team, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class TeamDeleted(_message.Message):
    __slots__ = ("meta", "team")
    META_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    team: _identity_pb2.Team
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., team: _Optional[_Union[_identity_pb2.Team, _Mapping]] = ...) -> None: ...

class SessionRevoked(_message.Message):
    __slots__ = ("meta", "session")
    META_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    session: _identity_pb2.Session
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., session: _Optional[_Union[_identity_pb2.Session, _Mapping]] = ...) -> None: ...

class UserSessionsRevoked(_message.Message):
    __slots__ = ("meta", "user_id", "revoke_time", "reason")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    user_id: str
    revoke_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., user_id: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ApiTokenCreated(_message.Message):
    __slots__ = ("meta", "api_token")
    META_FIELD_NUMBER: _ClassVar[int]
    API_TOKEN_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    api_token: _identity_pb2.ApiToken
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., api_token: _Optional[_Union[_identity_pb2.ApiToken, _Mapping]] = ...) -> None: ...

class ApiTokenRevoked(_message.Message):
    __slots__ = ("meta", "api_token")
    META_FIELD_NUMBER: _ClassVar[int]
    API_TOKEN_FIELD_NUMBER: _ClassVar[int]
    meta: _types_pb2.EventMeta
    api_token: _identity_pb2.ApiToken
    def __init__(self, meta: _Optional[_Union[_types_pb2.EventMeta, _Mapping]] = ..., api_token: _Optional[_Union[_identity_pb2.ApiToken, _Mapping]] = ...) -> None: ...
