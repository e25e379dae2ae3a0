"""The gRPC client helper: every call gets a deadline (CRM_GRPC_DEADLINE_SECONDS unless the caller
sets a shorter one) and carries the request id, the acting user, the internal token and the
caller's trace (a client span's `traceparent`) in its metadata. Errors decode into ErrorInfo
(status, stable reason, field violations)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm_platform import tracing
from crm_platform.config import peer_addr, platform_settings
from crm_platform.context import ACTOR_HEADER, REQUEST_ID_HEADER, current_actor, current_request_id
from crm_platform.errors import ErrorInfo, FieldViolation
from crm_platform.grpc_server import INTERNAL_TOKEN_HEADER
from crm_platform.metrics import GRPC_CLIENT_REQUESTS

S = TypeVar("S")


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]  # grpc ships no type hints
):
    pass


class _ContextInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]  # grpc ships no type hints
    def __init__(self, target: str, deadline: float, internal_token: str, max_deadline: float):
        self.target = target
        self.deadline = deadline
        self.max_deadline = max(max_deadline, deadline)
        self.internal_token = internal_token

    def intercept_unary_unary(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        metadata = list(details.metadata or [])
        rid = current_request_id()
        if rid:
            metadata.append((REQUEST_ID_HEADER, rid))
        actor = current_actor()
        if actor:
            metadata.append((ACTOR_HEADER, actor))
        if self.internal_token:
            metadata.append((INTERNAL_TOKEN_HEADER, self.internal_token))
        carrier: dict[str, str] = {}
        span = tracing.start_client(details.method.lstrip("/"), carrier)
        metadata.extend(carrier.items())
        # The default deadline, or the caller's own (shorter, or longer for a bulk call such as an
        # import), never more than CRM_GRPC_MAX_DEADLINE_SECONDS.
        timeout = details.timeout if details.timeout is not None else self.deadline
        timeout = min(timeout, self.max_deadline)
        new = _CallDetails(
            details.method, timeout, metadata, details.credentials, details.wait_for_ready, details.compression
        )
        try:
            outcome = continuation(new, request)
        except BaseException as exc:
            tracing.finish(span, exc)
            raise
        method = details.method.rsplit("/", 1)[-1]

        def _count(call: Any) -> None:
            code = call.code()
            tracing.finish_rpc(span, code.value[0], code.name, server=False)
            GRPC_CLIENT_REQUESTS.labels(self.target, method, code.name).inc()

        outcome.add_done_callback(_count)
        return outcome


_channels: dict[tuple[str, str], grpc.Channel] = {}
_lock = threading.Lock()


def channel_to(service: str, addr: str | None = None, *, deadline: float | None = None) -> grpc.Channel:
    """A shared, intercepted channel to a peer service (one per target per process). The settings
    are read only to make a new channel: building them takes longer than the call itself."""
    address = addr or peer_addr(service)
    key = (service, address)
    chan = _channels.get(key)
    if chan is not None:
        return chan
    with _lock:
        chan = _channels.get(key)
        if chan is None:
            settings = platform_settings()
            raw = grpc.insecure_channel(
                address,
                options=[
                    ("grpc.keepalive_time_ms", 30_000),
                    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
                    # Spread calls over every address the name resolves to (several replicas
                    # behind a headless Kubernetes Service); one address behaves as before.
                    ("grpc.lb_policy_name", "round_robin"),
                    # A peer that restarts is dialled again within seconds (gRPC's default backoff
                    # grows to two minutes, failing every call meanwhile).
                    ("grpc.initial_reconnect_backoff_ms", 200),
                    ("grpc.max_reconnect_backoff_ms", 5_000),
                ],
            )
            chan = grpc.intercept_channel(
                raw,
                _ContextInterceptor(
                    service,
                    deadline or settings.grpc_deadline_seconds,
                    settings.internal_token,
                    settings.grpc_max_deadline_seconds,
                ),
            )
            _channels[key] = chan
        return chan


_stubs: dict[tuple[Callable[[grpc.Channel], Any], str, str], Any] = {}


def stub(stub_class: Callable[[grpc.Channel], S], service: str, addr: str | None = None) -> S:
    """A stub on the shared channel, itself shared (a stub builds a callable per RPC when made)."""
    address = addr or peer_addr(service)
    key = (stub_class, service, address)
    found = _stubs.get(key)
    if found is None:
        found = _stubs[key] = stub_class(channel_to(service, address))
    return found


def close_channels() -> None:
    with _lock:
        for chan in _channels.values():
            chan.close()
        _channels.clear()
        _stubs.clear()


def decode_error(error: grpc.RpcError) -> ErrorInfo:
    """The status code, message, ErrorInfo reason/metadata and field violations of a failed call."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    info = ErrorInfo(code=code, message=message or "")
    try:
        status = rpc_status.from_call(error)
    except Exception:
        status = None
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                ei = error_details_pb2.ErrorInfo()
                detail.Unpack(ei)
                info.reason = ei.reason
                info.metadata = dict(ei.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                detail.Unpack(br)
                info.violations = [FieldViolation(v.field, v.description) for v in br.field_violations]
    return info
