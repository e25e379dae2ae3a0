"""The gRPC server bootstrap every service uses: standard health service (NOT_SERVING until the
service says it is ready, and again while shutting down), reflection, an interceptor that carries
the request id, checks the internal token, turns CrmError into statuses with field violations
and records Prometheus metrics and a span of the call's trace (continuing the caller's), and
graceful shutdown. Connections live at most CRM_GRPC_MAX_CONNECTION_AGE_SECONDS: the server then
sends GOAWAY and clients dial again, so replicas added behind a Service get their share of calls."""

from __future__ import annotations

import hmac
import logging
import sys
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from crm_platform import tracing
from crm_platform.config import platform_settings
from crm_platform.context import ACTOR_HEADER, REQUEST_ID_HEADER, actor_var, new_request_id, request_id_var
from crm_platform.errors import CrmError, InvalidArgument
from crm_platform.metrics import GRPC_LATENCY, GRPC_REQUESTS

log = logging.getLogger(__name__)

INTERNAL_TOKEN_HEADER = "x-crm-internal-token"
ERROR_DOMAIN = "crm"
# Health service name of the liveness check (Kubernetes: grpc probe with `service: liveness`).
LIVENESS = "liveness"
_OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


def status_for(exc: CrmError) -> status_pb2.Status:
    """A rich google.rpc.Status: ErrorInfo (stable reason + metadata) and BadRequest violations."""
    details = []
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if isinstance(exc, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in exc.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    return status_pb2.Status(code=exc.code.value[0], message=exc.message, details=details)


class _ServerInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type hints
    def __init__(self, service: str, internal_token: str):
        self.service = service
        self.internal_token = internal_token.encode()

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method
        short = method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        check_token = bool(self.internal_token) and not method.startswith(_OPEN_PREFIXES)
        # Probes and reflection are not part of any request's story: no span for them.
        traced = not method.startswith(_OPEN_PREFIXES)

        def wrapper(request: Any, context: grpc.ServicerContext) -> Any:
            md = dict(context.invocation_metadata())
            rid = request_id_var.set(str(md.get(REQUEST_ID_HEADER) or new_request_id()))
            actor = actor_var.set(str(md.get(ACTOR_HEADER) or ""))
            span = tracing.start_detached(method.lstrip("/"), md) if traced else None
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if check_token and not hmac.compare_digest(
                    str(md.get(INTERNAL_TOKEN_HEADER, "")).encode(), self.internal_token
                ):
                    code = grpc.StatusCode.UNAUTHENTICATED
                    context.abort(code, "missing or wrong internal token")
                try:
                    return inner(request, context)
                except CrmError as exc:
                    code = exc.code
                    context.abort_with_status(rpc_status.to_status(status_for(exc)))
                except Exception:
                    state_code = context.code() if hasattr(context, "code") else None
                    if state_code is not None and state_code != grpc.StatusCode.OK:
                        code = state_code  # the servicer aborted on purpose
                        raise
                    code = grpc.StatusCode.INTERNAL
                    log.exception("unexpected error in %s", method)
                    context.abort(code, "internal error (logged with the request id)")
            finally:
                if span is not None:
                    tracing.finish_rpc(span, code.value[0], code.name, server=True)
                GRPC_REQUESTS.labels(self.service, short, code.name).inc()
                GRPC_LATENCY.labels(self.service, short).observe(time.perf_counter() - start)
                request_id_var.reset(rid)
                actor_var.reset(actor)

        return grpc.unary_unary_rpc_method_handler(
            wrapper,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def server_options(max_connection_age: float, max_connection_age_grace: float) -> list[tuple[str, int]]:
    """The channel arguments of every service's server."""
    options = [
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.so_reuseport", 0),
    ]
    if max_connection_age > 0:
        # gRPC spreads each limit by +/-10% itself, so replicas started together do not all send
        # GOAWAY at the same moment.
        options.append(("grpc.max_connection_age_ms", int(max_connection_age * 1000)))
        options.append(("grpc.max_connection_age_grace_ms", int(max_connection_age_grace * 1000)))
    return options


class GrpcServer:
    """Build, register servicers, `start()`, later `set_serving()`; `stop()` drains in-flight calls."""

    def __init__(
        self,
        service: str,
        listen: str,
        *,
        internal_token: str = "",
        max_workers: int = 16,
        max_connection_age: float | None = None,
        max_connection_age_grace: float | None = None,
    ):
        """`max_connection_age` and its grace (seconds; 0 = no limit) default to
        CRM_GRPC_MAX_CONNECTION_AGE_SECONDS and CRM_GRPC_MAX_CONNECTION_AGE_GRACE_SECONDS."""
        self.service = service
        if max_connection_age is None or max_connection_age_grace is None:
            settings = platform_settings()
            if max_connection_age is None:
                max_connection_age = settings.grpc_max_connection_age_seconds
            if max_connection_age_grace is None:
                max_connection_age_grace = settings.grpc_max_connection_age_grace_seconds
        self.options = server_options(max_connection_age, max_connection_age_grace)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{service}-grpc"),
            interceptors=[_ServerInterceptor(service, internal_token)],
            options=self.options,
        )
        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = []
        self.port: int = self.server.add_insecure_port(listen)
        if self.port == 0:
            raise RuntimeError(f"cannot listen on {listen} (address in use?)")
        self.listen = listen

    def register(self, servicer: Any) -> None:
        """Adds a servicer built on a generated base class (e.g. a DealsServiceServicer subclass);
        its service is then served, listed by reflection and covered by health."""
        for cls in type(servicer).__mro__:
            if cls.__name__.endswith("ServiceServicer") and cls.__module__.endswith("_pb2_grpc"):
                module = sys.modules[cls.__module__]
                getattr(module, f"add_{cls.__name__}_to_server")(servicer, self.server)
                package = cls.__module__.rpartition(".")[0]
                self._service_names.append(f"{package}.{cls.__name__.removesuffix('Servicer')}")
                return
        raise TypeError(f"{type(servicer).__name__} does not derive from a generated *ServiceServicer class")

    def start(self) -> None:
        names = [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, self.server)
        for name in ["", *self._service_names]:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        # Liveness ("is the process working?") is apart from readiness (the "" name: database and
        # NATS connected), so that an outage of a dependency takes a pod out of rotation without
        # making the orchestrator restart it in a loop.
        self.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
        self.server.start()
        log.info("gRPC %s listening on port %d", self.service, self.port)

    def set_serving(self, serving: bool = True) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self._service_names]:
            self.health.set(name, status)

    def set_dependency(self, name: str, up: bool) -> None:
        """The state of one dependency under its own health name ("database", "nats"): shown
        beside readiness, so that a dependency the service can work without (NATS: events wait in
        the outbox) is visible without taking the service out of rotation."""
        self.health.set(
            name, health_pb2.HealthCheckResponse.SERVING if up else health_pb2.HealthCheckResponse.NOT_SERVING
        )

    def stop(self, grace: float = 5.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait(grace + 1)
