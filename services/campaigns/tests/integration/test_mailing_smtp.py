"""Mailings over a real SMTP server on loopback (aiosmtpd): every reachable member gets exactly one
message with its merge fields filled (HTML-escaped) and its own unsubscribe link; a second send
mails nobody again; a server that starts refusing mid-send and then recovers, or a sender stopped
with a member in the middle of being sent, never makes anyone get two; an unsubscribed address is
never mailed again, by any campaign."""

from __future__ import annotations

import re
from collections import Counter

import grpc
import pytest
from sqlalchemy import select, update

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import events_pb2
from crm_campaigns.adapters.tables import members
from crm_platform.grpc_client import decode_error
from crm_platform.testing import wait_for_event

from .conftest import World, wait_until

HTML = "<p>Hola {{ first_name }}, de {{ client_name }}:</p><p>Novedades 2026.</p>"
TEXT = "Hola {{ first_name }} ({{ client_name }}). Baja: {{ unsubscribe_url }}"
LINK = re.compile(r"http://127\.0\.0\.1:8080/api/v1/unsubscribe\?token=([A-Za-z0-9._-]+)")


def _mailing_campaign(w: World, count: int, name: str = "Boletín") -> pb.Campaign:
    client = w.client("Peña <b>& Hijos</b>", segment_tags=["boletin"])
    for i in range(count):
        w.contact(client.id, f"Lucía{i}", last_name="Gómez", email=f"lucia{i}@example.com")
    w.contact(client.id, "Sin correo")
    return _campaign_for(w, name)


def _campaign_for(w: World, name: str) -> pb.Campaign:
    c = w.campaign(
        name,
        target={"kind": pb.TARGET_KIND_CONTACTS, "segment_tags": ["boletin"]},
        mailing={"subject": "Novedades para {{ first_name }}", "html_body": HTML, "text_body": TEXT},
    )
    w.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=10)
    return c


def _sent(w: World, campaign_id: str) -> int:
    return sum(1 for m in w.members(campaign_id) if m.send_state == "sent")


def _send(w: World, campaign_id: str, request_id: str = "") -> int:
    return w.stub.SendMailing(
        pb.SendMailingRequest(campaign_id=campaign_id, request_id=request_id), timeout=5
    ).queued_count


def test_every_member_gets_one_message_with_merge_fields_and_a_link(world: World) -> None:
    c = _mailing_campaign(world, 5)
    assert _send(world, c.id, "send-1") == 5
    wait_until(lambda: _sent(world, c.id) == 5, what="5 members sent")
    assert sorted(world.inbox.to()) == [f"lucia{i}@example.com" for i in range(5)]
    tokens = set()
    for msg in world.inbox.messages:
        first = str(msg["To"].addresses[0].addr_spec).split("@")[0].capitalize().replace("Lucia", "Lucía")  # type: ignore[union-attr]
        assert msg["Subject"] == f"Novedades para {first}"
        html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"Hola {first}, de Peña &lt;b&gt;&amp; Hijos&lt;/b&gt;" in html
        assert f"Hola {first} (Peña <b>& Hijos</b>)" in text
        links = LINK.findall(html) + LINK.findall(text)
        assert len(set(links)) == 1, links
        assert msg["List-Unsubscribe"] and links[0] in msg["List-Unsubscribe"]
        tokens.add(links[0])
    assert len(tokens) == 5  # each member its own link
    member = next(m for m in world.members(c.id) if m.email == "lucia0@example.com")
    assert member.status == pb.MEMBER_STATUS_SENT
    wait_for_event(world.nats_url, events_pb2.MemberStatusChanged, lambda e: e.member.id == member.id)

    # A retry answers as before; a second send queues and mails nobody.
    assert _send(world, c.id, "send-1") == 5
    assert _send(world, c.id, "send-2") == 0
    results = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
    assert (results.member_count, results.mails_sent, results.members_reached) == (6, 5, 5)
    assert world.inbox.count() == 5


def test_a_server_refusing_mid_send_then_recovering_mails_nobody_twice(world: World) -> None:
    c = _mailing_campaign(world, 8)
    world.inbox.refuse_after = 3
    assert _send(world, c.id) == 8
    wait_until(lambda: world.inbox.refused >= 2, what="the server refusing a few times")
    assert world.inbox.count() == 3

    def settled() -> Counter[str] | None:
        states = Counter(m.send_state for m in world.members(c.id))
        return states if states["sending"] == 0 and states["queued"] + states["sent"] == 8 else None

    states = wait_until(settled, what="every claim of the refused batch recorded")
    assert states["sent"] == 3 and states["queued"] == 5, states
    world.inbox.refuse_after = None
    wait_until(lambda: _sent(world, c.id) == 8, what="the rest sent after the server recovered")
    assert Counter(world.inbox.to()) == Counter({f"lucia{i}@example.com": 1 for i in range(8)})


def test_a_sender_stopped_mid_send_resumes_without_mailing_twice(world: World) -> None:
    c = _mailing_campaign(world, 4)
    world.inbox.refuse_after = 0  # hold everything back while the crash is staged
    _send(world, c.id)
    wait_until(lambda: world.inbox.refused >= 1, what="the sender trying")
    world.stop_campaigns()
    db = world.campaigns.db
    assert db is not None

    def sending() -> int:
        with db.read() as s:
            return len(s.execute(select(members.c.id).where(members.c.send_state == "sending")).all())

    wait_until(lambda: sending() == 0, what="the stopped sender's last group recorded")
    # As if the process had died after handing lucia1's message over, before recording it.
    with db.uow() as uow:
        uow.session.execute(update(members).where(members.c.email == "lucia1@example.com").values(send_state="sending"))
        uow.commit()
    world.start_campaigns()
    world.inbox.refuse_after = None
    wait_until(lambda: _sent(world, c.id) == 3, what="the other members sent after the restart")
    states = {m.email: m.send_state for m in world.members(c.id)}
    assert states["lucia1@example.com"] == "in_doubt"
    assert sorted(world.inbox.to()) == ["lucia0@example.com", "lucia2@example.com", "lucia3@example.com"]
    assert _send(world, c.id) == 0


def test_an_unsubscribed_address_is_never_mailed_again(world: World) -> None:
    c = _mailing_campaign(world, 3)
    _send(world, c.id)
    wait_until(lambda: _sent(world, c.id) == 3, what="first mailing sent")
    msg = next(m for m in world.inbox.messages if "lucia2@" in str(m["To"]))
    token = LINK.findall(msg.get_body(("plain",)).get_content())[0]  # type: ignore[union-attr]
    res = world.stub.Unsubscribe(pb.UnsubscribeRequest(token=token), timeout=5)
    assert res.email == "lucia2@example.com" and res.campaign_id == c.id
    world.stub.Unsubscribe(pb.UnsubscribeRequest(token=token), timeout=5)  # twice: the same
    member = next(m for m in world.members(c.id) if m.email == "lucia2@example.com")
    assert member.status == pb.MEMBER_STATUS_UNSUBSCRIBED
    with pytest.raises(grpc.RpcError) as err:
        world.stub.Unsubscribe(pb.UnsubscribeRequest(token=token[:-2] + "xx"), timeout=5)
    assert decode_error(err.value).code == grpc.StatusCode.INVALID_ARGUMENT

    second = _campaign_for(world, "Boletín 2")
    skipped = {m.email: m.status for m in world.members(second.id)}
    assert skipped["lucia2@example.com"] == pb.MEMBER_STATUS_SKIPPED
    assert _send(world, second.id) == 2
    wait_until(lambda: _sent(world, second.id) == 2, what="second mailing sent")
    assert Counter(world.inbox.to())["lucia2@example.com"] == 1
    results = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
    assert results.unsubscribes == 1


def test_mail_events_move_members_forward_only_and_once(world: World) -> None:
    c = _mailing_campaign(world, 1)
    _send(world, c.id)
    wait_until(lambda: _sent(world, c.id) == 1, what="sent")

    def event(kind: int, key: str) -> pb.Member:
        req = pb.RecordMailEventRequest(campaign_id=c.id, email="LUCIA0@example.com", kind=kind, external_event_id=key)
        return world.stub.RecordMailEvent(req, timeout=5).member

    assert event(pb.MAIL_EVENT_KIND_CLICKED, "e1").status == pb.MEMBER_STATUS_CLICKED
    assert event(pb.MAIL_EVENT_KIND_OPENED, "e2").status == pb.MEMBER_STATUS_CLICKED
    event(pb.MAIL_EVENT_KIND_OPENED, "e2")
    results = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
    assert (results.opens, results.clicks) == (1, 1)


def test_test_send_and_refusals(world: World) -> None:
    c = _mailing_campaign(world, 1)
    sent = world.stub.SendTestMail(pb.SendTestMailRequest(campaign_id=c.id, emails=["revisor@example.com"]), timeout=5)
    assert sent.sent_count == 1 and world.inbox.to() == ["revisor@example.com"]
    assert "Hola Ana, de Empresa de prueba" in world.inbox.messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert all(m.send_state == "" for m in world.members(c.id))
    with pytest.raises(grpc.RpcError) as err:
        world.stub.SendTestMail(pb.SendTestMailRequest(campaign_id=c.id, emails=["no es correo"]), timeout=5)
    assert decode_error(err.value).violations[0].field == "emails[0]"
    draft = world.campaign("Borrador", mailing={"subject": "x", "text_body": "y"})
    with pytest.raises(grpc.RpcError) as err:
        _send(world, draft.id)
    assert decode_error(err.value).code == grpc.StatusCode.FAILED_PRECONDITION
