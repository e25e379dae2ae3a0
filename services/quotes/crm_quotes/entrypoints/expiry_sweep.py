"""The expiry sweep as a background task of the service: every CRM_QUOTES_EXPIRY_SWEEP_SECONDS it
stores EXPIRED on the sent quotes whose validity has ended and publishes quote_expired for each,
exactly once (service_layer.quotes.expire_due_quotes). Correctness does not depend on it: every
read already reports such a quote as expired and refuses to accept it; the sweep only makes the
fact an event and a stored status. It is one of the service's background tasks (ServiceSpec.background),
run on the loop beside the event consumers."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from crm_platform.db import Database
from crm_platform.eventbus import EventBus
from crm_quotes.service_layer.quotes import Quoting, expire_due_quotes

log = logging.getLogger(__name__)


class ExpirySweep:
    def __init__(self, db: Database, quoting: Quoting, interval_seconds: float):
        self.name = "quotes-expiry-sweep"
        self.db = db
        self.quoting = quoting
        self.interval = interval_seconds
        self.expired_total = 0
        # Sweeps finished (tests wait on it rather than on a timer).
        self.runs = 0

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.expired_total += await asyncio.to_thread(expire_due_quotes, self.db, self.quoting)
                self.runs += 1
            except Exception:  # the database may be away for a while: try again next time
                log.exception("expiry sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
