"""The background sender of mailings, one of the service's background tasks (ServiceSpec.background):
it wakes when SendMailing queues members (or every CRM_CAMPAIGNS_SEND_POLL_SECONDS) and sends in
bounded batches on a worker thread (service_layer.mailing.run_sender), so that a mailing of any
size never holds a gRPC call open and survives a restart: at start, members a stopped sender left
"sending" are marked in doubt and never sent again. Each turn also stores RUNNING on the scheduled
campaigns whose start date has come (reads report them running already)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from crm_campaigns.adapters import repository as repo
from crm_campaigns.service_layer.campaigns import Campaigns, start_due_campaigns
from crm_campaigns.service_layer.mailing import Providers, run_sender
from crm_platform.eventbus import EventBus

log = logging.getLogger(__name__)


class MailSender:
    def __init__(self, w: Campaigns, providers: Providers, poll_seconds: float):
        self.name = "campaigns-mail-sender"
        self.w = w
        self.providers = providers
        self.poll = poll_seconds
        self.sent_total = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        w.on_mail_queued = self._wake.set

    def recover(self) -> int:
        with self.w.db.uow() as uow:
            n = repo.mark_in_doubt(uow.session)
            uow.commit()
        if n:
            log.warning("%d members were being sent when the sender stopped: marked in doubt, not sent again", n)
        return n

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self.recover)
        stopper = asyncio.create_task(self._watch(stop))

        def stopping() -> bool:  # read from the sender's thread (a flag read; no loop needed)
            return stop.is_set() or self._stopping.is_set()

        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await asyncio.to_thread(start_due_campaigns, self.w)
                    sent, idle = await asyncio.to_thread(run_sender, self.w, self.providers, stopping)
                    self.sent_total += sent
                except Exception:  # the database or a provider may be away for a while
                    if stop.is_set():
                        return
                    log.exception("mail sender turn failed")
                    idle = True
                if idle:
                    await asyncio.to_thread(self._wake.wait, self.poll)
        finally:
            stopper.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
            self._stopping.set()
            self._wake.set()
