"""The one event-bus client: a NATS JetStream connection per process (kept alive through outages),
the stream of each service, subject naming, and the background event loop that the outbox relay
and the consumers run on while the gRPC server works in its threads."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import nats
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from crm_platform.nats_auth import NatsCredentials, inbox_prefix, tls_context

log = logging.getLogger(__name__)
T = TypeVar("T")

MSG_ID_HEADER = "Nats-Msg-Id"
EVENT_TYPE_HEADER = "Crm-Event-Type"
# The W3C trace context of the transaction that wrote the event (crm_platform.tracing).
TRACEPARENT_HEADER = "traceparent"
DUPLICATE_WINDOW_SECONDS = 120.0


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def subject_for(message: Message | type[Message]) -> str:
    """crm.contacts.v1.ClientCreated → crm.contacts.v1.client_created."""
    package, _, name = message.DESCRIPTOR.full_name.rpartition(".")
    return f"{package}.{_snake(name)}"


def service_of(message: Message | type[Message]) -> str:
    """The producing service named by an event's package (crm.contacts.v1 → contacts)."""
    full_name: str = message.DESCRIPTOR.full_name
    return full_name.split(".")[1]


def stream_name(service: str) -> str:
    return f"CRM_{service.upper()}"


def stream_subjects(service: str) -> str:
    return f"crm.{service}.v1.>"


class EventBus:
    """One NATS connection for the process. `connect()` retries until it succeeds or `close()` is
    called; after that nats-py reconnects by itself, and publishes made while it is away fail
    fast so that the outbox keeps the events.

    `credentials` sign the process in as its own NATS user (the server allows each user only its
    own subjects); `tls_ca_file` names the CA that issued the server's certificate (tls:// URLs)."""

    def __init__(self, url: str, name: str, credentials: NatsCredentials | None = None, *, tls_ca_file: str = ""):
        self.url = url
        self.name = name
        self.credentials = credentials
        self.tls_ca_file = tls_ca_file
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self.connected = asyncio.Event()
        self._closing = False

    async def connect(self, max_backoff: float = 5.0) -> None:
        delay = 0.1
        auth: dict[str, Any] = {}
        if self.credentials is not None:
            auth["nkeys_seed_str"] = self.credentials.seed
            auth["inbox_prefix"] = inbox_prefix(self.credentials.user)
        if self.tls_ca_file:
            auth["tls"] = tls_context(self.tls_ca_file)
        while not self._closing:
            try:
                self.nc = await nats.connect(
                    servers=[u.strip() for u in self.url.split(",")],
                    name=self.name,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                    **auth,
                )
                self.js = self.nc.jetstream(timeout=5)
                self.connected.set()
                log.info("connected to NATS at %s", self.nc.connected_url.netloc if self.nc.connected_url else "?")
                return
            except Exception as exc:  # nats raises several unrelated types for "cannot connect"
                log.warning("NATS not reachable at %s (%s); retrying in %.1fs", self.url, exc or type(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff)

    async def _on_error(self, exc: Exception) -> None:
        # A permissions violation means this process tried what its NATS user may not: say so.
        if "permissions violation" in str(exc).lower():
            log.error("nats: %s", exc)
        else:
            log.debug("nats: %s", exc)

    async def _on_disconnect(self) -> None:
        if not self._closing:
            log.warning("disconnected from NATS; events stay in the outbox until it is back")

    async def _on_reconnect(self) -> None:
        log.info("reconnected to NATS")

    @property
    def is_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def ensure_stream(self, service: str, replicas: int = 1) -> None:
        """Creates the service's stream if missing (idempotent; safe from several replicas)."""
        assert self.js is not None
        name = stream_name(service)
        try:
            await self.js.stream_info(name)
        except NotFoundError:
            config = StreamConfig(
                name=name,
                subjects=[stream_subjects(service)],
                storage=StorageType.FILE,
                num_replicas=replicas,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            try:
                await self.js.add_stream(config)
                log.info("created stream %s (%s)", name, stream_subjects(service))
            except Exception as exc:  # another replica may have won the race
                await self.js.stream_info(name)
                log.debug("stream %s created concurrently: %s", name, exc)

    async def close(self) -> None:
        self._closing = True
        if self.nc is not None and not self.nc.is_closed:
            # close() sends what is buffered (acks, publishes). Not drain(): it waits for each pull
            # subscription's queue, which nothing empties once the consumers have stopped, and its
            # cancelled inner gather then logs "_GatheringFuture exception was never retrieved".
            # Messages fetched and not acked come back to the next consumer (at-least-once).
            await self.nc.close()


class BackgroundLoop:
    """An asyncio event loop in a daemon thread, for the async NATS work of a threaded service."""

    def __init__(self, name: str = "crm-events"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call_soon(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return

        async def _cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.submit(_cancel_rest()).result(timeout)
        except Exception as exc:
            log.debug("stopping loop: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()
