"""Errors a use case raises, each with the gRPC status it becomes. Domain and service-layer code
raise these; the gRPC bootstrap turns them into statuses (with field violations for bad input),
and the gateway turns statuses into problem+json, each mapping in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class CrmError(Exception):
    """Base class: `code` is the gRPC status; `reason` a stable machine-readable code."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.metadata: dict[str, str] = metadata or {}


class InvalidArgument(CrmError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "invalid_argument"

    def __init__(self, violations: list[FieldViolation] | FieldViolation | str, message: str | None = None):
        if isinstance(violations, str):
            violations = [FieldViolation("", violations)]
        elif isinstance(violations, FieldViolation):
            violations = [violations]
        self.violations = violations
        text = message or "; ".join(f"{v.field}: {v.description}" if v.field else v.description for v in violations)
        super().__init__(text)

    @classmethod
    def field(cls, name: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(name, description)])


class NotFound(CrmError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "not_found"


class AlreadyExists(CrmError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "already_exists"


class FailedPrecondition(CrmError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "failed_precondition"


class Conflict(CrmError):
    """A concurrent change won (stale version): the caller may re-read and retry."""

    code = grpc.StatusCode.ABORTED
    reason = "conflict"


class Unavailable(CrmError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "unavailable"


class PermissionDenied(CrmError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "permission_denied"


class ResourceExhausted(CrmError):
    """Too many attempts (e.g. failed logins): metadata carries retry_after_seconds."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "too_many_requests"


class Unauthenticated(CrmError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "unauthenticated"


@dataclass
class ErrorInfo:
    """What a status carried, decoded on the client side (see grpc_client.decode_error)."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[FieldViolation] = field(default_factory=list)
