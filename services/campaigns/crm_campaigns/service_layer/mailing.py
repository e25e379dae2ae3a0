"""Mailings: test sends, queueing a send, the background sender, mail events and unsubscribes.

How a send never mails anyone twice (SMTP). SendMailing only marks the campaign's pending members
`queued` (one statement, one transaction) and wakes the sender. The sender works a small group of
members at a time (CRM_CAMPAIGNS_SEND_CLAIM_SIZE, 20): it claims them (queued → sending) in a
transaction of its own *before* handing any of their messages to the server, and records the
outcome of each in one transaction after the server's answers:
- accepted → sent (status SENT, member_status_changed);
- refused with a 5xx → failed (status BOUNCED); refused with a 4xx, or the server cannot be
  reached → queued again (nothing left), and the sender backs off;
- connection lost while handing over → in_doubt: it may have left, so it is never sent again
  (the group's members not tried yet go back to queued).
Only `queued` members are ever claimed, so a member that was claimed once (sending, sent, failed,
in_doubt) is never sent again: a second SendMailing, a retry, or a sender that restarts after a
crash (its `sending` members are marked in_doubt at start) sends only to members nobody claimed.
The price of "at most once" is that a process crash in the middle of a group leaves that group's
unrecorded members in doubt (at most the claim size; reported, not retried); a claim size of 1
narrows it to one member per sender at the cost of two commits per message. A suppressed address is checked again at
the claim: a contact that unsubscribed after launch is skipped.

Mailchimp: members are upserted to the audience in batches of 500 (per-member errors recorded
on the member), a static segment and a campaign are created once (their ids stored before the send
action), and the send action is asked only while Mailchimp says the campaign is not sent yet."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import events_pb2
from crm_campaigns.adapters import repository as repo
from crm_campaigns.adapters.mail import (
    MailchimpClient,
    MailchimpError,
    OutgoingMail,
    SendInDoubt,
    SendRefused,
    SmtpSender,
)
from crm_campaigns.domain import content
from crm_campaigns.domain.campaigns import Campaign, CampaignStatus, CampaignType, MailProvider
from crm_campaigns.domain.members import EVENT_COLUMN, MailEvent, MemberStatus, after_mail_event
from crm_campaigns.domain.tokens import member_of_token, unsubscribe_token
from crm_campaigns.entrypoints import convert
from crm_campaigns.service_layer.campaigns import Campaigns, member_changed, read_campaign
from crm_platform.db import UnitOfWork
from crm_platform.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from crm_platform.idempotency import run_once
from crm_platform.ids import is_valid_id

log = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEST_EMAILS = 10
# Mailchimp's merge tags for our merge fields (the audience's FNAME, LNAME, COMPANY).
MAILCHIMP_TAGS = {
    "first_name": "*|FNAME|*",
    "last_name": "*|LNAME|*",
    "name": "*|FNAME|* *|LNAME|*",
    "client_name": "*|COMPANY|*",
    "email": "*|EMAIL|*",
    "unsubscribe_url": "*|UNSUB|*",
}


@dataclass
class Providers:
    """How the service reaches its providers (built from the settings; tests may swap them)."""

    smtp: Callable[[], SmtpSender]
    mailchimp: Callable[[], MailchimpClient | None]


def _mailing(c: Campaign) -> Any:
    if c.type is not CampaignType.MAILING:
        raise FailedPrecondition(f"campaign '{c.id}' is not a mailing", reason="not_a_mailing")
    m = c.mailing
    if m is None or not m.subject.strip() or not (m.html_body.strip() or m.text_body.strip()):
        raise FailedPrecondition(
            "campaign.mailing: give the mailing a subject and a body first",
            reason="no_mail_content",
            metadata={"field": "campaign.mailing"},
        )
    return m


def unsubscribe_url(w: Campaigns, member_id: str) -> str:
    token = unsubscribe_token(w.settings.unsubscribe_key(), member_id)
    return f"{w.settings.public_base_url.rstrip('/')}/api/v1/unsubscribe?token={token}"


def outgoing(w: Campaigns, c: Campaign, member: Any) -> OutgoingMail:
    m = c.mailing
    assert m is not None
    link = unsubscribe_url(w, member.id)
    values = {
        "first_name": member.first_name or member.display_name,
        "last_name": member.last_name,
        "name": member.display_name,
        "client_name": member.client_name,
        "email": member.email,
        "campaign_name": c.name,
        "unsubscribe_url": link,
    }
    msg = content.render(m.subject, m.html_body, m.text_body, values)
    return OutgoingMail(
        to_email=member.email,
        to_name=member.display_name,
        subject=msg.subject,
        html=msg.html,
        text=msg.text,
        from_email=m.from_email or w.settings.default_from_email,
        from_name=m.from_name or w.settings.default_from_name,
        reply_to=m.reply_to_email,
        unsubscribe_url=link,
    )


def send_test_mail(w: Campaigns, providers: Providers, campaign_id: str, emails: Sequence[str]) -> int:
    """Mails the content to a few addresses (through SMTP), with sample merge values."""
    if not emails:
        raise InvalidArgument.field("emails", "name at least one address")
    if len(emails) > MAX_TEST_EMAILS:
        raise InvalidArgument.field("emails", f"at most {MAX_TEST_EMAILS} addresses")
    for i, e in enumerate(emails):
        if not _EMAIL.match(e.strip()):
            raise InvalidArgument.field(f"emails[{i}]", f"'{e}' is not an e-mail address")
    with w.db.read() as session:
        c = read_campaign(session, campaign_id)
    _mailing(c)

    @dataclass
    class Sample:
        id: str = "test"
        first_name: str = "Ana"
        last_name: str = "Pérez"
        display_name: str = "Ana Pérez"
        client_name: str = "Empresa de prueba"
        email: str = ""

    try:
        with providers.smtp() as smtp:
            for e in emails:
                smtp.send(outgoing(w, c, Sample(email=e.strip())))
    except (SendRefused, SendInDoubt) as exc:
        raise Unavailable(f"the SMTP server did not take the test mail: {exc}", reason="smtp_unavailable") from None
    return len(emails)


def queue_mailing(w: Campaigns, providers: Providers, campaign_id: str, request_id: str) -> pb.SendMailingResponse:
    """Queues every pending, reachable, not unsubscribed member that was never queued; the sender
    goes on in the background. A second call queues only members never queued before."""

    def change(uow: UnitOfWork) -> pb.SendMailingResponse:
        c = read_campaign(uow.session, campaign_id)
        m = _mailing(c)
        if c.status is not CampaignStatus.RUNNING and not (
            c.status is CampaignStatus.SCHEDULED and (c.start_date is None or c.start_date <= w.today())
        ):
            raise FailedPrecondition(
                f"campaign '{c.id}' is {c.status.value}: a mailing is sent while the campaign runs",
                reason="campaign_not_running",
            )
        if m.provider is MailProvider.MAILCHIMP and providers.mailchimp() is None:
            raise FailedPrecondition(
                "campaign.mailing.provider: Mailchimp is not configured (CRM_CAMPAIGNS_MAILCHIMP_*)",
                reason="provider_not_configured",
            )
        if m.provider is MailProvider.MAILCHIMP and repo.send_job(uow.session, c.id)[1]:
            # A Mailchimp campaign is sent once: members added since need a campaign of their own.
            return pb.SendMailingResponse(queued_count=0)
        queued = repo.queue_members(uow.session, c.id)
        if queued:
            repo.set_send_state(uow.session, c.id, "queued")
        return pb.SendMailingResponse(queued_count=queued)

    answer = run_once(w.db, "SendMailing", request_id, pb.SendMailingResponse, change)
    w.on_mail_queued()
    return answer


# --- The sender --------------------------------------------------------------------------------


def _now(w: Campaigns) -> datetime:
    return w.clock()


def _claim(w: Campaigns, ids: Sequence[str]) -> list[Any]:
    """queued → sending for the given members, in one transaction of its own, before any of their
    messages is handed over: the members this sender got (another may have claimed some), minus
    those whose address is suppressed now (marked failed: skipped)."""
    with w.db.uow() as uow:
        blocked = repo.claim_members(uow.session, ids)
        uow.commit()
    with w.db.read() as session:
        return [r for r in repo.members_by_ids(session, blocked) if r.send_state == "sending"]


@dataclass
class _Outcome:
    row: Any
    state: str
    error: str = ""
    event: MailEvent | None = None


def _record(w: Campaigns, c: Campaign, outcomes: Sequence[_Outcome]) -> None:
    """The outcome of each claimed member, in one transaction, with member_status_changed for
    those whose status moved (read back and staged together)."""
    if not outcomes:
        return
    now = _now(w)
    moved: dict[str, str] = {}
    with w.db.uow() as uow:
        for o in outcomes:
            values: dict[str, Any] = {"send_state": o.state, "send_error": o.error[:500]}
            if o.event is not None:
                values[EVENT_COLUMN[o.event]] = now
                status = after_mail_event(MemberStatus(o.row.status), o.event)
                if status.value != o.row.status:
                    values.update(status=status.value, status_time=now)
                    moved[o.row.id] = o.row.status
            repo.update_member(uow.session, o.row.id, **values)
        if moved:
            ctype = convert.TYPES.to_proto(c.type)
            uow.add_events(
                [
                    events_pb2.MemberStatusChanged(
                        member=convert.member_to_proto(row),
                        previous_status=convert.MEMBER_STATUSES.to_proto(MemberStatus(moved[row.id])),
                        campaign_type=ctype,
                    )
                    for row in repo.members_by_ids(uow.session, list(moved))
                ]
            )
        uow.commit()


def _send_group(w: Campaigns, c: Campaign, smtp: SmtpSender, ids: Sequence[str]) -> tuple[int, bool]:
    """Claims the members, hands their messages to the server on `smtp`, records the outcomes:
    (sent, go on)."""
    claimed = _claim(w, ids)
    outcomes: list[_Outcome] = []
    sent = 0
    go_on = True
    for i, row in enumerate(claimed):
        try:
            smtp.send(outgoing(w, c, row))
        except SendRefused as exc:
            if exc.permanent:
                outcomes.append(_Outcome(row, "failed", str(exc), MailEvent.BOUNCED))
                continue
            # Not taken: this one and the rest of the group go back to the queue.
            outcomes += [_Outcome(r, "queued", str(exc) if r is row else "") for r in claimed[i:]]
            log.warning("SMTP server refused for now (%s): backing off", exc)
            go_on = False
            break
        except SendInDoubt as exc:
            outcomes.append(_Outcome(row, "in_doubt", str(exc)))
            outcomes += [_Outcome(r, "queued") for r in claimed[i + 1 :]]
            log.warning("SMTP connection lost while sending (%s): member %s in doubt", exc, row.id)
            go_on = False
            break
        outcomes.append(_Outcome(row, "sent", "", MailEvent.DELIVERED))
        sent += 1
    _record(w, c, outcomes)
    return sent, go_on


def send_smtp_batch(
    w: Campaigns, providers: Providers, c: Campaign, limit: int, stop: Callable[[], bool]
) -> tuple[int, bool]:
    """Sends to up to `limit` queued members over CRM_CAMPAIGNS_SMTP_CONNECTIONS connections at
    once, each taking a group of CRM_CAMPAIGNS_SEND_CLAIM_SIZE members at a time: (sent, go on).
    go on is False when the server refuses for now or a connection was lost (the others stop
    after their current group; back off before the next batch)."""
    with w.db.read() as session:
        ids = [r.id for r in repo.next_queued(session, c.id, limit)]
    if not ids:
        return 0, True
    size = w.settings.send_claim_size
    groups = iter([ids[i : i + size] for i in range(0, len(ids), size)])
    lock = threading.Lock()
    state = {"sent": 0, "go_on": True}

    def worker() -> None:
        try:
            with providers.smtp() as smtp:
                while True:
                    with lock:
                        group = next(groups, None) if state["go_on"] and not stop() else None
                    if group is None:
                        return
                    sent, go_on = _send_group(w, c, smtp, group)
                    with lock:
                        state["sent"] += sent
                        state["go_on"] = state["go_on"] and go_on
        except SendRefused as exc:  # the connection itself (nothing was claimed on it)
            log.warning("SMTP server unavailable: %s", exc)
            with lock:
                state["go_on"] = False

    connections = min(w.settings.smtp_connections, -(-len(ids) // size))
    with ThreadPoolExecutor(connections, thread_name_prefix="smtp") as pool:
        for future in [pool.submit(worker) for _ in range(connections)]:
            future.result()
    return int(state["sent"]), bool(state["go_on"]) and not stop()


def send_mailchimp(w: Campaigns, client: MailchimpClient, c: Campaign) -> int:
    """The whole Mailchimp mailing of the campaign's queued members; returns how many were sent."""
    m = c.mailing
    assert m is not None
    with w.db.read() as session:
        rows = repo.members_in_state(session, c.id, "queued")
        _state, provider_id = repo.send_job(session, c.id)
    if not rows:
        return 0
    errors = client.upsert_members(
        [
            {
                "email_address": r.email,
                "merge_fields": {
                    "FNAME": r.first_name or r.display_name,
                    "LNAME": r.last_name,
                    "COMPANY": r.client_name,
                },
            }
            for r in rows
        ]
    )
    refused = [r for r in rows if r.email in errors]
    ok = [r for r in rows if r.email not in errors]
    if refused:
        with w.db.uow() as uow:
            for r in refused:
                repo.update_member(uow.session, r.id, send_state="failed", send_error=errors[r.email][:500])
            uow.commit()
    if not ok:
        return 0
    if not provider_id:
        segment_id = client.create_segment(f"crm-{c.id}", [r.email for r in ok])
        provider_id = client.create_campaign(
            segment_id,
            c.name,
            content.render_with_tags(m.subject, MAILCHIMP_TAGS, False),
            m.from_name or w.settings.default_from_name or c.name,
            m.reply_to_email or m.from_email or w.settings.default_from_email,
        )
        with w.db.uow() as uow:  # stored before the send: a restart does not create a second one
            repo.set_send_state(uow.session, c.id, "queued", provider_id)
            uow.commit()
    if client.campaign_status(provider_id) not in ("sent", "sending", "schedule"):
        html = content.render_with_tags(m.html_body, MAILCHIMP_TAGS, True)
        text = content.render_with_tags(m.text_body, MAILCHIMP_TAGS, False)
        client.set_content(provider_id, html, text)
        client.send(provider_id)
    now = _now(w)
    with w.db.uow() as uow:
        for r in ok:
            repo.update_member(
                uow.session, r.id, send_state="sent", status=MemberStatus.SENT.value, sent_at=now, status_time=now
            )
            member_changed(uow, r.id, r.status, c.type)
        uow.commit()
    return len(ok)


def run_sender(w: Campaigns, providers: Providers, stop: Callable[[], bool]) -> tuple[int, bool]:
    """One turn of the background sender over every campaign with queued mail: (sent, idle)."""
    with w.db.read() as session:
        ids = repo.campaigns_with_queued_mail(session)
    total, idle = 0, True
    for campaign_id in ids:
        with w.db.read() as session:
            c = repo.get_campaign(session, campaign_id)
        if c is None:
            continue
        if c.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED) or c.mailing is None:
            with w.db.uow() as uow:
                repo.set_send_state(uow.session, campaign_id, "done")
                uow.commit()
            continue
        if c.mailing.provider is MailProvider.MAILCHIMP:
            client = providers.mailchimp()
            if client is None:
                continue
            try:
                total += send_mailchimp(w, client, c)
            except MailchimpError as exc:
                log.warning("Mailchimp mailing of campaign %s failed for now: %s", c.id, exc)
                idle = True
                continue
            with w.db.uow() as uow:
                repo.set_send_state(uow.session, c.id, "done")
                uow.commit()
            continue
        sent, go_on = send_smtp_batch(w, providers, c, w.settings.send_batch_size, stop)
        total += sent
        with w.db.read() as session:
            left = repo.next_queued(session, c.id, 1)
        if not left:
            with w.db.uow() as uow:
                repo.finish_send_job(uow.session, c.id)
                uow.commit()
        elif go_on:
            idle = False
    return total, idle


# --- Mail events and unsubscribes --------------------------------------------------------------


def _find_member(uow: UnitOfWork, campaign_id: str, member_id: str, email: str) -> Any:
    if member_id:
        row = repo.get_member(uow.session, member_id, for_update=True) if is_valid_id(member_id) else None
        if row is None or (campaign_id and row.campaign_id != campaign_id):
            raise NotFound(f"member '{member_id}' not found", reason="member_not_found")
        return row
    if not email:
        raise InvalidArgument.field("member_id", "name the member or the e-mail address")
    row = repo.member_by_email(uow.session, campaign_id, email)
    if row is None:
        raise NotFound(f"no member of campaign '{campaign_id}' has the address '{email}'", reason="member_not_found")
    return row


def apply_mail_event(uow: UnitOfWork, w: Campaigns, row: Any, event: MailEvent, at: datetime) -> pb.Member:
    c = read_campaign(uow.session, row.campaign_id)
    values: dict[str, Any] = {}
    column = EVENT_COLUMN[event]
    if getattr(row, column) is None:
        values[column] = at
    status = after_mail_event(MemberStatus(row.status), event)
    if status.value != row.status:
        values.update(status=status.value, status_time=at)
    if event is MailEvent.UNSUBSCRIBED:
        repo.suppress(uow.session, row.email, "unsubscribed", row.campaign_id, row.id, at)
    if not values:
        return convert.member_to_proto(row)
    repo.update_member(uow.session, row.id, **values)
    if "status" in values:
        return member_changed(uow, row.id, row.status, c.type)
    return convert.member_to_proto(repo.get_member(uow.session, row.id))


def record_mail_event(w: Campaigns, request: pb.RecordMailEventRequest) -> pb.Member:
    from crm_platform.protoconv import time_from_proto

    event = convert.MAIL_EVENTS.from_proto(request.kind, "kind")
    if event is None:
        raise InvalidArgument.field("kind", "is required")
    if not request.campaign_id and not request.member_id:
        raise InvalidArgument.field("campaign_id", "is required (or member_id)")
    at = time_from_proto(request, "event_time") or w.clock()
    if request.webhook_secret:
        from crm_campaigns.service_layer.leads import check_secret

        with w.db.read() as session:
            check_secret(read_campaign(session, request.campaign_id), request.webhook_secret)
    with w.db.uow() as uow:
        row = _find_member(uow, request.campaign_id, request.member_id, request.email.strip().lower())
        if request.external_event_id and repo.event_seen(uow.session, row.campaign_id, request.external_event_id, at):
            return convert.member_to_proto(row)
        member = apply_mail_event(uow, w, row, event, at)
        uow.commit()
        return member


def unsubscribe(w: Campaigns, token: str) -> pb.UnsubscribeResponse:
    member_id = member_of_token(w.settings.unsubscribe_key(), token)
    if member_id is None:
        raise InvalidArgument.field("token", "is not a valid unsubscribe link")
    with w.db.uow() as uow:
        row = repo.get_member(uow.session, member_id, for_update=True)
        if row is None:
            raise NotFound("the member of this link no longer exists", reason="member_not_found")
        apply_mail_event(uow, w, row, MailEvent.UNSUBSCRIBED, w.clock())
        uow.commit()
    return pb.UnsubscribeResponse(campaign_id=row.campaign_id, email=row.email)


_ACTIONS = {"open": MailEvent.OPENED, "click": MailEvent.CLICKED, "bounce": MailEvent.BOUNCED}


def refresh_report(w: Campaigns, providers: Providers, campaign_id: str) -> int:
    """Reads the Mailchimp report of the campaign's mailing into its members (each event once)."""
    with w.db.read() as session:
        c = read_campaign(session, campaign_id)
        _state, provider_id = repo.send_job(session, c.id)
    client = providers.mailchimp()
    if not provider_id or client is None:
        raise FailedPrecondition("the campaign has no Mailchimp mailing to report on", reason="no_provider_mailing")
    try:
        activity = list(client.email_activity(provider_id))
        unsubscribed = client.unsubscribed(provider_id)
    except MailchimpError as exc:
        raise Unavailable(f"Mailchimp could not answer: {exc}", reason="mailchimp_unavailable") from None
    items = [(e, _ACTIONS[a], f"mc:{e}:{a}:{t}") for e, a, t in activity if a in _ACTIONS]
    items += [(e, MailEvent.UNSUBSCRIBED, f"mc:{e}:unsub") for e in unsubscribed]
    recorded = 0
    now = w.clock()
    with w.db.uow() as uow:
        for email, event, key in items:
            row = repo.member_by_email(uow.session, c.id, email)
            if row is None or repo.event_seen(uow.session, c.id, key, now):
                continue
            apply_mail_event(uow, w, row, event, now)
            recorded += 1
        uow.commit()
    return recorded
