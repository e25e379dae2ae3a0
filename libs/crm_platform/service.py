"""The one way a service process starts and stops: configuration, logging, database and
migrations, the gRPC server (health NOT_SERVING until the database is migrated and NATS is
connected), the metrics endpoint, the outbox relay and the event consumers on a background
event loop; SIGTERM/SIGINT drain in-flight calls and stop everything cleanly.

Once ready, a watcher checks the dependencies every DEPENDENCY_CHECK_SECONDS: while the database
does not answer, the service reports NOT_SERVING (it cannot serve a call); while NATS does not
answer, it stays SERVING (writes go on into the outbox) and shows NATS as degraded under the
health name "nats" and in crm_dependency_up."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import start_http_server

from crm_platform import tracing
from crm_platform.config import ConfigError, ServiceConfig, service_config
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database, run_migrations
from crm_platform.eventbus import BackgroundLoop, EventBus
from crm_platform.grpc_server import GrpcServer
from crm_platform.logs import setup_logging
from crm_platform.metrics import DEPENDENCY_UP
from crm_platform.migrations import require_migrated
from crm_platform.outbox import OutboxRelay
from crm_platform.parent import exit_with_launcher

log = logging.getLogger(__name__)

DEPENDENCY_CHECK_SECONDS = 2.0


class BackgroundTask(Protocol):
    """Periodic work of a service (a sweep), run on the event loop beside the consumers until stop."""

    name: str

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None: ...


@dataclass
class ServiceSpec:
    """What a service tells the runtime about itself (its bootstrap builds one)."""

    name: str
    # Alembic script location as a package resource, e.g. "crm_contacts:migrations".
    migrations: str
    # Registers the service's servicers on the server, given the database.
    register: Callable[[GrpcServer, Database], None]
    # Builds the service's event consumers, given the database.
    consumers: Callable[[Database], list[EventConsumer]] = field(default=lambda _db: [])
    # Runs once after migrations (seed data such as a default pipeline); must be idempotent.
    on_start: Callable[[Database], None] | None = None
    # Builds the service's background tasks (sweeps), given the database.
    background: Callable[[Database], list[BackgroundTask]] = field(default=lambda _db: [])
    # Reads the service's own settings (CRM_<SERVICE>_*), raising ConfigError for a malformed
    # value: called before anything starts, so the process stops with the variable named.
    settings: Callable[[], object] | None = None


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, config: ServiceConfig):
        self.spec = spec
        self.config = config
        self.db: Database | None = None
        self.server: GrpcServer | None = None
        self.bus: EventBus | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self.background: list[BackgroundTask] = []
        self._loop: BackgroundLoop | None = None
        self._stop_async: asyncio.Event | None = None
        self._metrics_server: Any = None
        self.ready = threading.Event()
        self.metrics_port = 0
        self._stopped = False
        self._stop_watching = threading.Event()
        self.watcher: threading.Thread | None = None  # the dependency watcher, once ready
        self._events: Any = None  # the future of _events_main on the event loop
        self._ping: asyncio.Future[None] | None = None  # a NATS round trip not answered yet
        self._ping_reconnects = 0
        self.dependencies: dict[str, bool] = {}  # "database", "nats" -> answered at the last check

    @property
    def grpc_port(self) -> int:
        assert self.server is not None
        return self.server.port

    def start(self) -> None:
        cfg, settings = self.config, self.config.platform
        self.db = Database(cfg.database_url, cfg.name)
        if settings.migrate_on_start:
            run_migrations(self.db, self.spec.migrations)
        else:
            require_migrated(self.db.engine, self.spec.migrations, cfg.name)
        if self.spec.on_start is not None:
            self.spec.on_start(self.db)
        self.server = GrpcServer(cfg.name, cfg.listen, internal_token=settings.internal_token)
        self.spec.register(self.server, self.db)
        self.server.start()
        host, _, port = cfg.metrics_listen.rpartition(":")
        self._metrics_server, _thread = start_http_server(int(port), addr=host)
        self.metrics_port = self._metrics_server.server_port

        self.bus = EventBus(
            settings.nats_url,
            f"crm-{cfg.name}",
            settings.nats_credentials(cfg.name),
            tls_ca_file=settings.nats_tls_ca_file,
        )
        self.relay = OutboxRelay(
            self.db,
            self.bus,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            max_backoff=settings.relay_max_backoff_seconds,
            retention_days=settings.outbox_retention_days,
            replicas=settings.stream_replicas,
        )
        self.db.on_events_committed(self.relay.wake)
        self.consumers = self.spec.consumers(self.db)
        self.background = self.spec.background(self.db)
        self._loop = BackgroundLoop(f"{cfg.name}-events")
        self._events = self._loop.submit(self._events_main())

    async def _events_main(self) -> None:
        assert self.bus is not None and self.relay is not None and self.server is not None
        self._stop_async = asyncio.Event()
        await self.bus.connect(self.config.platform.relay_max_backoff_seconds)
        if self._stop_async.is_set():
            return
        delay = 0.2
        while not self._stop_async.is_set():
            try:  # e.g. fewer JetStream servers up than the stream's replicas: wait for them
                await self.bus.ensure_stream(self.config.name, self.config.platform.stream_replicas)
                break
            except Exception as exc:
                log.warning("cannot create stream for %s yet (%s); retrying", self.config.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        tasks = [asyncio.create_task(self.relay.run(self._stop_async), name="outbox-relay")]
        for task in [*self.consumers, *self.background]:
            tasks.append(asyncio.create_task(task.run(self.bus, self._stop_async), name=task.name))
        self.server.set_serving(True)
        self.ready.set()
        self.watcher = threading.Thread(
            target=self._watch_dependencies, name=f"{self.config.name}-health", daemon=True
        )
        self.watcher.start()
        log.info("%s ready (gRPC :%d, metrics :%d)", self.config.name, self.grpc_port, self.metrics_port)
        await asyncio.gather(*tasks, return_exceptions=True)

    def check_dependencies(self) -> dict[str, bool]:
        """Asks the database and NATS once, and shows what they answered (health and metric)."""
        assert self.db is not None and self.server is not None and self.bus is not None and self._loop is not None
        found = {"database": self.db.ping(), "nats": False}
        try:
            found["nats"] = self._loop.submit(self._nats_round_trip()).result(3)
        except Exception as exc:
            log.debug("NATS round trip: %s", exc)
        for name, up in found.items():
            if name in self.dependencies and self.dependencies[name] != up:
                log.warning("%s %s", name, "answers again" if up else "does not answer")
            DEPENDENCY_UP.labels(self.config.name, name).set(1 if up else 0)
            self.server.set_dependency(name, up)
        if not self._stopped:
            self.server.set_serving(found["database"])
        self.dependencies = found
        return found

    async def _nats_round_trip(self, seconds: float = 1.0) -> bool:
        """True when a PING sent to NATS has had its PONG within `seconds`: a paused or cut-off
        server still looks connected for minutes. The PING is never cancelled on a timeout (nats.py
        would then fail on the late PONG and stop reading the connection: every JetStream ack lost),
        only awaited again at the next check; a reconnect forgets it (nats.py drops pending PINGs)."""
        nc = self.bus.nc if self.bus is not None else None
        if nc is None or not nc.is_connected:
            return False
        reconnects = nc.stats["reconnects"]
        if self._ping is not None and self._ping_reconnects != reconnects:
            self._ping.cancel()  # its PONG will never come: nats.py dropped it at the reconnect
            self._ping = None
        if self._ping is None:
            self._ping = asyncio.ensure_future(nc.flush(timeout=24 * 3600))
            self._ping_reconnects = reconnects
        done, _pending = await asyncio.wait({self._ping}, timeout=seconds)
        if not done:
            return False
        ping, self._ping = self._ping, None
        return ping.exception() is None

    def _watch_dependencies(self) -> None:
        while not self._stop_watching.is_set() and not self._stopped:
            try:
                self.check_dependencies()
            except Exception as exc:  # the watcher must outlive any surprise; log it and go on
                log.warning("checking dependencies: %s", exc)
            self._stop_watching.wait(DEPENDENCY_CHECK_SECONDS)

    def stop(self, grace: float = 5.0) -> None:
        """Stops everything; a second call does nothing (tests stop a service to see what its peers do)."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_watching.set()
        log.info("%s stopping", self.config.name)
        if self.server is not None:
            self.server.set_serving(False)
            self.server.stop(grace)
        if self._loop is not None:
            if self._stop_async is not None:
                self._loop.call_soon(self._stop_async.set)
            if self._events is not None and self.ready.is_set():  # the relay and consumers end their rounds (~1 s)
                try:
                    self._events.result(grace)
                except Exception as exc:
                    log.debug("stopping the event tasks: %s", exc)
            if self.bus is not None:
                try:
                    self._loop.submit(self.bus.close()).result(grace)
                except Exception as exc:
                    log.debug("closing NATS: %s", exc)
            self._loop.stop()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        if self.db is not None:
            self.db.dispose()
        log.info("%s stopped", self.config.name)


def main(spec: ServiceSpec) -> None:
    """Entry point of `python -m crm_<service>`."""
    exit_with_launcher()
    try:
        config = service_config(spec.name)
        if spec.settings is not None:
            spec.settings()
        tracing.configure(spec.name)  # off unless OTEL_TRACES_EXPORTER / an OTLP endpoint says otherwise
    except ConfigError as exc:
        print(f"crm-{spec.name}: {exc}", file=sys.stderr)
        sys.exit(2)
    setup_logging(spec.name, config.platform.log_level, config.platform.log_format)
    if not config.platform.internal_token:
        print(
            f"crm-{spec.name}: CRM_INTERNAL_TOKEN must be set (the same secret on the gateway and every service; "
            "`crm up` makes one for each run)",
            file=sys.stderr,
        )
        sys.exit(2)
    runtime = ServiceRuntime(spec, config)
    stopping = threading.Event()

    def _signal(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    try:
        runtime.start()
    except Exception:
        log.exception("%s failed to start", spec.name)
        runtime.stop(0)
        sys.exit(1)
    stopping.wait()
    runtime.stop()
