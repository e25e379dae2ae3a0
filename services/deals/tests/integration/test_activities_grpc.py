"""Activities over real gRPC, with a real database, nats-server and contacts service: scheduling
and logging done (and the one event each publishes), the client a deal or contact implies, every
reference checked with the contacts service (unknown, archived, of another client; the contacts
service down), bad input, updates by mask and version, completing and cancelling (a retry changes
nothing), delete, and lists: overdue and upcoming per owner, every filter, the order and its pages,
and the index a page of one owner's overdue activities is read through. Every refused call is shown
to write nothing: no activity row, no outbox row, no remembered request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, insert, select, text

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc, events_pb2
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.adapters import activity_repository
from crm_deals.adapters.tables import activities, deals, pipelines, stages
from crm_deals.bootstrap import SPEC as DEALS
from crm_deals.domain.activities import ActivityStatus
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.ids import new_id
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import client_requests, outbox_events
from crm_platform.testing import wait_for_event

A = deals_pb2.Activity
CALL, MEETING, TASK = deals_pb2.ACTIVITY_KIND_CALL, deals_pb2.ACTIVITY_KIND_MEETING, deals_pb2.ACTIVITY_KIND_TASK
SCHEDULED, DONE, CANCELLED = (
    deals_pb2.ACTIVITY_STATUS_SCHEDULED,
    deals_pb2.ACTIVITY_STATUS_DONE,
    deals_pb2.ACTIVITY_STATUS_CANCELLED,
)
OVERDUE, UPCOMING = deals_pb2.ACTIVITY_DUE_FILTER_OVERDUE, deals_pb2.ACTIVITY_DUE_FILTER_UPCOMING
MISSING = "0190f0e0-0000-7000-8000-000000000000"
CAMPAIGN = "0190f0e0-0000-7000-8000-00000000a001"
# Fixed instants far from the clock, so that overdue and upcoming do not depend on when tests run.
PAST = datetime(2001, 3, 5, 9, 0, tzinfo=UTC)
FUTURE = datetime(2090, 3, 5, 9, 0, tzinfo=UTC)
ACTIVITY_EVENTS: tuple[type[Message], ...] = (
    events_pb2.ActivityScheduled,
    events_pb2.ActivityUpdated,
    events_pb2.ActivityCompleted,
    events_pb2.ActivityCancelled,
    events_pb2.ActivityDeleted,
)


@dataclass
class Services:
    contacts: ServiceRuntime
    deals: ServiceRuntime
    people: contacts_pb2_grpc.ContactsServiceStub
    stub: deals_pb2_grpc.DealsServiceStub


@pytest.fixture
def contacts_for_activities(
    start_service: Callable[..., ServiceRuntime], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """The deals service on the database under test, and the contacts service it checks references
    with (on its own SQLite file: it only answers), dialled by deals at an address set before its
    first call (channels are kept per address)."""
    contacts = start_service(CONTACTS, f"sqlite:///{tmp_path / 'contacts.db'}")
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts.grpc_port}")
    deals_rt = start_service(DEALS, database_url)
    yield Services(
        contacts=contacts,
        deals=deals_rt,
        people=contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(f"127.0.0.1:{contacts.grpc_port}")),
        stub=deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(f"127.0.0.1:{deals_rt.grpc_port}")),
    )


def _ts(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def _client(s: Services, name: str = "Ferretería Sol") -> str:
    req = contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name=name, owner_id="u1"))
    return str(s.people.CreateClient(req, timeout=5).client.id)


def _contact(s: Services, client_id: str, name: str = "Lucía") -> str:
    req = contacts_pb2.CreateContactRequest(
        contact=contacts_pb2.Contact(client_id=client_id, first_name=name, owner_id="u1")
    )
    return str(s.people.CreateContact(req, timeout=5).contact.id)


def _prospect(s: Services, name: str = "Luna Nueva") -> str:
    req = contacts_pb2.CreateProspectRequest(prospect=contacts_pb2.Prospect(company_name=name, owner_id="u1"))
    return str(s.people.CreateProspect(req, timeout=5).prospect.id)


def _deal(s: Services, client_id: str) -> str:
    """A deal row of `client_id`. Written directly: activities rely only on the deals table (its
    id and client), not on the deal RPCs."""
    assert s.deals.db is not None
    now = datetime.now(UTC)
    pipeline_id, stage_id, deal_id = new_id(), new_id(), new_id()
    with s.deals.db.uow() as uow:
        uow.session.execute(
            insert(pipelines).values(id=pipeline_id, name="Pruebas", created_at=now, updated_at=now, version=1)
        )
        uow.session.execute(
            insert(stages).values(
                id=stage_id, pipeline_id=pipeline_id, position=0, name="Contacto", default_probability=10, kind="open"
            )
        )
        uow.session.execute(
            insert(deals).values(
                id=deal_id,
                title="Pedido",
                client_id=client_id,
                owner_id="u1",
                pipeline_id=pipeline_id,
                stage_id=stage_id,
                amount=0,
                currency_code="COP",
                probability=10,
                status="open",
                search_text="pedido",
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        uow.commit()
    return deal_id


def _create(s: Services, request_id: str = "", **kw: object) -> A:
    kw.setdefault("owner_id", "u1")
    kw.setdefault("kind", CALL)
    kw.setdefault("subject", "Llamar para cotizar")
    if kw.get("status", SCHEDULED) == SCHEDULED:
        kw.setdefault("due_time", _ts(FUTURE))
    req = deals_pb2.CreateActivityRequest(activity=A(**kw), request_id=request_id)  # type: ignore[arg-type]
    return s.stub.CreateActivity(req, timeout=10).activity


def _get(s: Services, activity_id: str) -> A:
    return s.stub.GetActivity(deals_pb2.GetActivityRequest(id=activity_id), timeout=5).activity


def _update(s: Services, activity: A, paths: list[str], version: int = 0) -> A:
    req = deals_pb2.UpdateActivityRequest(
        activity=activity, update_mask=FieldMask(paths=paths), expected_version=version
    )
    return s.stub.UpdateActivity(req, timeout=10).activity


def _complete(s: Services, activity_id: str, outcome: str = "", done: datetime | None = None, version: int = 0) -> A:
    req = deals_pb2.CompleteActivityRequest(activity_id=activity_id, outcome=outcome, expected_version=version)
    if done is not None:
        req.done_time.CopyFrom(_ts(done))
    return s.stub.CompleteActivity(req, timeout=5).activity


def _cancel(s: Services, activity_id: str, reason: str, version: int = 0) -> A:
    req = deals_pb2.CancelActivityRequest(activity_id=activity_id, reason=reason, expected_version=version)
    return s.stub.CancelActivity(req, timeout=5).activity


def _error(call: Callable[[], object]) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _rows(s: Services) -> tuple[int, int, int]:
    """(activities, outbox events, remembered requests): what a refused call must not add to."""
    assert s.deals.db is not None
    with s.deals.db.read() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (activities, outbox_events, client_requests)
        )


def _events_of(s: Services, activity_id: str) -> list[str]:
    """The names of the activity events staged for the activity, oldest first (from the outbox)."""
    assert s.deals.db is not None
    by_type = {cls.DESCRIPTOR.full_name: cls for cls in ACTIVITY_EVENTS}
    with s.deals.db.read() as session:
        rows = session.execute(select(outbox_events.c.event_type, outbox_events.c.payload).order_by(outbox_events.c.id))
        return [
            name.rpartition(".")[2]
            for name, payload in rows
            if name in by_type and by_type[name].FromString(payload).activity.id == activity_id  # type: ignore[attr-defined]
        ]


def _list(s: Services, page_size: int = 2, **kw: object) -> list[str]:
    """Ids of every page of the list, read `page_size` at a time."""
    seen: list[str] = []
    token = ""
    while True:
        req = deals_pb2.ListActivitiesRequest(page_size=page_size, page_token=token, **kw)  # type: ignore[arg-type]
        page = s.stub.ListActivities(req, timeout=5)
        seen += [a.id for a in page.activities]
        token = page.next_page_token
        if not token:
            return seen


def test_schedule_an_activity_and_publish_all_of_it(contacts_for_activities: Services, nats_server: NatsServer) -> None:
    s = contacts_for_activities
    client_id = _client(s)
    made = _create(
        s,
        kind=MEETING,
        subject="  Reunión de cierre ",
        notes="Llevar muestras",
        duration_seconds=3600,
        client_id=client_id,
        campaign_id=CAMPAIGN,
    )
    assert made.id and made.version == 1 and made.status == SCHEDULED
    assert (made.subject, made.kind, made.client_id, made.owner_id) == ("Reunión de cierre", MEETING, client_id, "u1")
    assert made.due_time.ToDatetime(UTC) == FUTURE and not made.HasField("done_time")
    assert made.create_time == made.update_time and made.campaign_id == CAMPAIGN
    assert _get(s, made.id) == made

    event = wait_for_event(nats_server.url, events_pb2.ActivityScheduled, lambda e: e.activity.id == made.id)
    assert event.activity == made and event.meta.producer == "deals"
    assert _events_of(s, made.id) == ["ActivityScheduled"]


def test_an_activity_logged_done_publishes_only_its_completion(
    contacts_for_activities: Services, nats_server: NatsServer
) -> None:
    s = contacts_for_activities
    client_id = _client(s)
    logged = _create(s, status=DONE, client_id=client_id, outcome="Pidió cotización")
    assert logged.status == DONE and logged.outcome == "Pidió cotización"
    assert logged.done_time == logged.create_time and not logged.HasField("due_time")  # done now, when logged
    earlier = PAST + timedelta(days=1)
    at = _create(s, status=DONE, client_id=client_id, done_time=_ts(earlier), due_time=_ts(PAST))
    assert at.done_time.ToDatetime(UTC) == earlier and at.due_time.ToDatetime(UTC) == PAST

    event = wait_for_event(nats_server.url, events_pb2.ActivityCompleted, lambda e: e.activity.id == logged.id)
    assert event.activity == logged
    assert _events_of(s, logged.id) == ["ActivityCompleted"] and _events_of(s, at.id) == ["ActivityCompleted"]


def test_a_deal_or_a_contact_gives_the_activity_its_client(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    client_id, other_id = _client(s, "Cliente Uno"), _client(s, "Cliente Dos")
    deal_id, contact_id, stranger_id = _deal(s, client_id), _contact(s, client_id), _contact(s, other_id, "Raúl")
    by_deal = _create(s, deal_id=deal_id)
    assert (by_deal.deal_id, by_deal.client_id) == (deal_id, client_id)
    by_contact = _create(s, contact_id=contact_id)
    assert (by_contact.contact_id, by_contact.client_id) == (contact_id, client_id)
    both = _create(s, deal_id=deal_id, contact_id=contact_id, client_id=client_id)
    assert both.client_id == client_id

    before = _rows(s)
    for kw, reason, field in (
        ({"deal_id": deal_id, "client_id": other_id}, "deal_of_another_client", "deal_id"),
        ({"deal_id": deal_id, "contact_id": stranger_id}, "contact_of_another_client", "contact_id"),
        ({"client_id": client_id, "contact_id": stranger_id}, "contact_of_another_client", "contact_id"),
    ):
        info = _error(lambda kw=kw: _create(s, **kw))
        assert info.code == grpc.StatusCode.FAILED_PRECONDITION, kw
        assert (info.reason, info.metadata["field"]) == (reason, field)
    assert _rows(s) == before


def test_every_record_named_must_exist_and_not_be_archived(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    archived = _client(s, "Archivado SA")
    s.people.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=archived), timeout=5)
    before = _rows(s)
    for field, reason in (
        ("deal_id", "deal_not_found"),
        ("client_id", "client_not_found"),
        ("contact_id", "contact_not_found"),
        ("prospect_id", "prospect_not_found"),
    ):
        info = _error(lambda field=field: _create(s, request_id=f"r-{field}", **{field: MISSING}))
        assert info.code == grpc.StatusCode.FAILED_PRECONDITION
        assert info.reason == reason and info.metadata == {"field": field, "id": MISSING}
        assert MISSING in info.message
    info = _error(lambda: _create(s, client_id=archived))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "client_archived"
    assert _rows(s) == before
    prospect = _create(s, prospect_id=_prospect(s))
    assert prospect.prospect_id and prospect.client_id == ""


def test_bad_input_is_refused_naming_the_field_and_writes_nothing(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    client_id = _client(s)
    before = _rows(s)
    for kw, fields in (
        ({"subject": " "}, ["subject"]),
        ({"notes": "x" * 5001}, ["notes"]),
        ({"duration_seconds": -60}, ["duration_seconds"]),
        ({"kind": 99}, ["kind"]),
        ({"status": 99}, ["status"]),
        ({"status": CANCELLED}, ["status"]),
        ({"owner_id": ""}, ["owner_id"]),
        ({"campaign_id": "campaña"}, ["campaign_id"]),
        ({"client_id": ""}, ["deal_id", "client_id", "contact_id", "prospect_id"]),
        ({"due_time": Timestamp(seconds=-62135596801)}, ["due_time"]),  # before year 1
        ({"done_time": _ts(PAST)}, ["done_time"]),  # only a done activity has one
        ({"outcome": "no contestó"}, ["outcome"]),
    ):
        kw = {"client_id": client_id, **kw}
        info = _error(lambda kw=kw: _create(s, request_id="r-bad", **kw))
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT, kw
        assert [v.field for v in info.violations] == fields, kw
    info = _error(lambda: s.stub.CreateActivity(deals_pb2.CreateActivityRequest(activity=A(client_id=client_id))))
    assert {v.field for v in info.violations} == {"kind", "subject", "owner_id", "due_time"}
    assert _rows(s) == before

    info = _error(lambda: _get(s, MISSING))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "activity_not_found"
    assert _error(lambda: _get(s, "not-an-id")).code == grpc.StatusCode.NOT_FOUND


def test_with_the_contacts_service_down_nothing_is_written(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    client_id, other_id = _client(s), _client(s, "Otro")
    first = _create(s, request_id="req-1", client_id=client_id)
    assert _create(s, request_id="req-1", client_id=client_id) == first  # a retry: the first answer
    assert _rows(s)[0] == 1

    s.contacts.stop(grace=0)
    before = _rows(s)
    for call in (
        lambda: _create(s, client_id=client_id),
        lambda: _create(s, request_id="req-2", prospect_id=MISSING),
        lambda: _update(s, A(id=first.id, client_id=other_id), ["client_id"]),
    ):
        info = _error(call)
        assert info.code == grpc.StatusCode.UNAVAILABLE and info.reason == "contacts_unavailable"
    assert _rows(s) == before and _get(s, first.id) == first
    # What needs no answer from the contacts service still works: a retried create, a new subject.
    assert _create(s, request_id="req-1", client_id=client_id) == first
    assert _update(s, A(id=first.id, subject="Llamar otra vez"), ["subject"]).version == 2


def test_updates_by_mask_and_version(contacts_for_activities: Services, nats_server: NatsServer) -> None:
    s = contacts_for_activities
    client_id, other_id = _client(s), _client(s, "Otro")
    contact_id = _contact(s, client_id)
    made = _create(s, client_id=client_id, contact_id=contact_id)
    before = _rows(s)
    for paths, needle in (
        (["subject", "status"], "'status' changes only through CompleteActivity or CancelActivity"),
        (["done_time"], "'done_time' changes only through CompleteActivity"),
        (["cancel_reason"], "'cancel_reason' changes only through CancelActivity"),
        (["version"], "'version' cannot be changed"),
        ([], "name the fields to change"),
    ):
        info = _error(lambda paths=paths: _update(s, A(id=made.id, subject="X", status=DONE), paths))
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "update_mask"
        assert needle in info.violations[0].description
    info = _error(lambda: _update(s, A(id=made.id, duration_seconds=-1), ["duration_seconds"]))
    assert [v.field for v in info.violations] == ["duration_seconds"]
    info = _error(lambda: _update(s, A(id=made.id, due_time=None), ["due_time"]))
    assert [v.field for v in info.violations] == ["due_time"]  # a scheduled activity keeps its due time
    # Another client while the contact is of this one; a prospect that does not exist.
    info = _error(lambda: _update(s, A(id=made.id, client_id=other_id), ["client_id"]))
    assert (info.code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "contact_of_another_client")
    info = _error(lambda: _update(s, A(id=made.id, prospect_id=MISSING), ["prospect_id"]))
    assert (info.code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "prospect_not_found")
    info = _error(lambda: _update(s, A(id=MISSING, subject="X"), ["subject"]))
    assert info.code == grpc.StatusCode.NOT_FOUND
    assert _rows(s) == before and _get(s, made.id) == made

    moved = _update(s, A(id=made.id, client_id=other_id, contact_id=""), ["client_id", "contact_id"])
    assert (moved.client_id, moved.contact_id, moved.version) == (other_id, "", 2)
    later = FUTURE + timedelta(days=2)
    changed = _update(s, A(id=made.id, due_time=_ts(later), subject=" Visita "), ["due_time", "subject"], version=2)
    assert (changed.subject, changed.due_time.ToDatetime(UTC), changed.version) == ("Visita", later, 3)
    same = _update(s, A(id=made.id, subject="Visita"), ["subject"])
    assert same == changed  # nothing changed: nothing stored, no event
    after = _rows(s)
    info = _error(lambda: _update(s, A(id=made.id, subject="Tarde"), ["subject"], version=2))
    assert info.code == grpc.StatusCode.ABORTED and info.reason == "version_mismatch"
    assert _rows(s) == after and _get(s, made.id) == changed

    event = wait_for_event(
        nats_server.url, events_pb2.ActivityUpdated, lambda e: e.activity.id == made.id and e.activity.version == 3
    )
    assert event.activity == changed and list(event.changed_fields) == ["subject", "due_time"]
    assert _events_of(s, made.id) == ["ActivityScheduled", "ActivityUpdated", "ActivityUpdated"]


def test_complete_and_cancel(contacts_for_activities: Services, nats_server: NatsServer) -> None:
    s = contacts_for_activities
    client_id = _client(s)
    call, visit = _create(s, client_id=client_id), _create(s, client_id=client_id, kind=MEETING)
    before = _rows(s)
    info = _error(lambda: _complete(s, call.id, "x" * 1001))
    assert [v.field for v in info.violations] == ["outcome"]
    info = _error(lambda: _complete(s, call.id, "hecho", done=FUTURE))
    assert [v.field for v in info.violations] == ["done_time"]
    info = _error(lambda: _complete(s, call.id, "hecho", version=7))
    assert info.code == grpc.StatusCode.ABORTED
    info = _error(lambda: _cancel(s, call.id, "  "))
    assert [v.field for v in info.violations] == ["reason"]
    info = _error(lambda: _complete(s, "", "hecho"))
    assert [v.field for v in info.violations] == ["activity_id"]
    assert _error(lambda: _complete(s, MISSING, "hecho")).code == grpc.StatusCode.NOT_FOUND
    assert _rows(s) == before

    done = _complete(s, call.id, " Pidió cotización ", done=PAST, version=1)
    assert (done.status, done.outcome, done.version) == (DONE, "Pidió cotización", 2)
    assert done.done_time.ToDatetime(UTC) == PAST
    after_done = _rows(s)
    assert _complete(s, call.id, "Pidió cotización") == done  # a retry changes nothing and publishes nothing
    assert _rows(s) == after_done
    for attempt in (lambda: _complete(s, call.id, "Otra cosa"), lambda: _cancel(s, call.id, "tarde")):
        info = _error(attempt)
        assert (info.code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "activity_already_done")

    off = _cancel(s, visit.id, " El cliente viaja ")
    assert (off.status, off.cancel_reason, off.version) == (CANCELLED, "El cliente viaja", 2)
    assert _cancel(s, visit.id, "El cliente viaja") == off
    for attempt in (lambda: _complete(s, visit.id, "hecho"), lambda: _cancel(s, visit.id, "otro motivo")):
        info = _error(attempt)
        assert (info.code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "activity_cancelled")
    assert _get(s, visit.id) == off and _get(s, call.id) == done

    event = wait_for_event(nats_server.url, events_pb2.ActivityCompleted, lambda e: e.activity.id == call.id)
    assert event.activity == done
    event = wait_for_event(nats_server.url, events_pb2.ActivityCancelled, lambda e: e.activity.id == visit.id)
    assert event.activity == off
    assert _events_of(s, call.id) == ["ActivityScheduled", "ActivityCompleted"]
    assert _events_of(s, visit.id) == ["ActivityScheduled", "ActivityCancelled"]


def test_delete_publishes_the_activity_as_it_was(contacts_for_activities: Services, nats_server: NatsServer) -> None:
    s = contacts_for_activities
    client_id = _client(s)
    kept, gone = _create(s, client_id=client_id), _create(s, client_id=client_id, subject="Se borra")
    s.stub.DeleteActivity(deals_pb2.DeleteActivityRequest(id=gone.id), timeout=5)
    assert _error(lambda: _get(s, gone.id)).code == grpc.StatusCode.NOT_FOUND
    info = _error(lambda: s.stub.DeleteActivity(deals_pb2.DeleteActivityRequest(id=gone.id), timeout=5))
    assert info.code == grpc.StatusCode.NOT_FOUND
    assert _list(s) == [kept.id]
    event = wait_for_event(nats_server.url, events_pb2.ActivityDeleted, lambda e: e.activity.id == gone.id)
    assert event.activity == gone


def test_overdue_and_upcoming_per_owner_in_due_order_across_pages(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    client_id = _client(s)

    def make(owner: str, when: datetime, **kw: object) -> str:
        return _create(s, owner_id=owner, client_id=client_id, due_time=_ts(when), **kw).id

    # Created out of due order; two share a due time (then creation order decides).
    late_2 = make("u1", PAST + timedelta(hours=2))
    late_1 = make("u1", PAST)
    late_1b = make("u1", PAST)
    soon_2 = make("u1", FUTURE + timedelta(days=1))
    soon_1 = make("u1", FUTURE)
    others_late = make("u2", PAST + timedelta(hours=1))
    others_soon = make("u2", FUTURE)
    done_late = make("u1", PAST - timedelta(hours=1))
    _complete(s, done_late, "hecho", done=PAST)
    cancelled_soon = make("u1", FUTURE)
    _cancel(s, cancelled_soon, "ya no")

    for size in (1, 2, 50):
        assert _list(s, size, owner_ids=["u1"], due=OVERDUE) == [late_1, late_1b, late_2]
        assert _list(s, size, owner_ids=["u1"], due=UPCOMING) == [soon_1, soon_2]
    assert _list(s, owner_ids=["u2"], due=OVERDUE) == [others_late]
    assert _list(s, owner_ids=["u2", "u1"], due=OVERDUE) == [late_1, late_1b, others_late, late_2]
    assert _list(s, due=UPCOMING, status=SCHEDULED) == [soon_1, others_soon, soon_2]
    # The whole agenda: every status, in due order.
    assert _list(s, 3, owner_ids=["u1"]) == [done_late, late_1, late_1b, late_2, soon_1, cancelled_soon, soon_2]

    info = _error(lambda: _list(s, due=OVERDUE, status=DONE))
    assert [v.field for v in info.violations] == ["due"]
    info = _error(lambda: _list(s, due=7))
    assert [v.field for v in info.violations] == ["due"]
    page = s.stub.ListActivities(deals_pb2.ListActivitiesRequest(page_size=1, due=OVERDUE), timeout=5)
    other = deals_pb2.ListActivitiesRequest(page_size=1, due=UPCOMING, page_token=page.next_page_token)
    info = _error(lambda: s.stub.ListActivities(other, timeout=5))
    assert [v.field for v in info.violations] == ["page_token"]
    for bad in (deals_pb2.ListActivitiesRequest(page_size=-1), deals_pb2.ListActivitiesRequest(owner_ids=[""])):
        assert _error(lambda bad=bad: s.stub.ListActivities(bad, timeout=5)).code == grpc.StatusCode.INVALID_ARGUMENT


def test_every_list_filter(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    client_id, other_id = _client(s), _client(s, "Otro")
    deal_id, contact_id, prospect_id = _deal(s, client_id), _contact(s, client_id), _prospect(s)
    t0 = PAST
    call = _create(s, client_id=client_id, due_time=_ts(t0), subject="Llamar a Lucía", notes="Precio 10% menos")
    meeting = _create(s, kind=MEETING, deal_id=deal_id, due_time=_ts(t0 + timedelta(hours=1)), subject="Reunión")
    task = _create(
        s, kind=TASK, contact_id=contact_id, due_time=_ts(t0 + timedelta(hours=2)), subject="Enviar catálogo"
    )
    lead = _create(s, prospect_id=prospect_id, campaign_id=CAMPAIGN, due_time=_ts(t0 + timedelta(hours=3)))
    # Logged done without a due time: sorted by its done time, left out of due time bounds.
    logged = _create(s, status=DONE, client_id=other_id, done_time=_ts(t0 + timedelta(minutes=30)), subject="Visita")
    _complete(s, task.id, "Enviado")

    assert _list(s) == [call.id, logged.id, meeting.id, task.id, lead.id]
    assert _list(s, kind=MEETING) == [meeting.id]
    assert _list(s, kind=CALL) == [call.id, logged.id, lead.id]
    assert _list(s, status=DONE) == [logged.id, task.id]
    assert _list(s, status=SCHEDULED, kind=CALL) == [call.id, lead.id]
    assert _list(s, deal_id=deal_id) == [meeting.id]
    assert _list(s, client_id=client_id) == [call.id, meeting.id, task.id]  # the deal and contact gave theirs
    assert _list(s, contact_id=contact_id) == [task.id]
    assert _list(s, prospect_id=prospect_id) == [lead.id]
    assert _list(s, campaign_id=CAMPAIGN) == [lead.id]
    # due_after inclusive, due_before exclusive, on the due time.
    hour = timedelta(hours=1)
    assert _list(s, due_after=_ts(t0 + hour)) == [meeting.id, task.id, lead.id]
    assert _list(s, due_before=_ts(t0 + hour)) == [call.id]
    assert _list(s, due_after=_ts(t0), due_before=_ts(t0 + 3 * hour)) == [call.id, meeting.id, task.id]
    assert _list(s, status=DONE, due_before=_ts(t0 + 3 * hour)) == [task.id]
    info = _error(lambda: _list(s, due_after=_ts(t0 + hour), due_before=_ts(t0)))
    assert [v.field for v in info.violations] == ["due_before"]
    # Text over subject and notes, case-insensitively; % and _ are characters, not wildcards.
    assert _list(s, query="LUCÍA") == [call.id]
    assert _list(s, query="10%") == [call.id]
    assert _list(s, query="1_%") == []
    assert _list(s, query="catálogo", status=DONE) == [task.id]
    assert _list(s, query="visita", client_id=other_id) == [logged.id]


def _plan(s: Services, statement: object) -> str:
    """The database's plan of a statement, as text."""
    assert s.deals.db is not None
    db = s.deals.db
    sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    with db.read() as session:
        explain = "EXPLAIN QUERY PLAN" if db.is_sqlite else "EXPLAIN"
        return "\n".join(str(row[-1] if db.is_sqlite else row[0]) for row in session.execute(text(f"{explain} {sql}")))


def _many_activities(s: Services, owners: int, per_owner: int) -> None:
    """A big table: `per_owner` activities of each of `owners` owners, a third of them done and due
    over a few years either side of now, written in bulk; then the planner's statistics."""
    assert s.deals.db is not None
    now = datetime.now(UTC)
    rows = []
    for n in range(owners * per_owner):
        due = now + timedelta(hours=(n * 7919) % 50_000 - 25_000)
        done = n % 3 == 0
        rows.append(
            {
                "id": new_id(),
                "kind": "call",
                "subject": f"Llamada {n}",
                "due_at": due,
                "done_at": due if done else None,
                "owner_id": f"owner-{n % owners}",
                "client_id": MISSING,
                "status": "done" if done else "scheduled",
                "sort_at": due,
                "search_text": f"llamada {n}",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    with s.deals.db.uow() as uow:
        uow.session.execute(insert(activities), rows)
        uow.commit()
    with s.deals.db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def test_one_owner_s_overdue_and_upcoming_are_an_index_range_in_list_order(contacts_for_activities: Services) -> None:
    s = contacts_for_activities
    owners, per_owner = 10, 1500
    _many_activities(s, owners, per_owner)
    now = datetime.now(UTC)
    for window in ({"end": now}, {"start": now}):
        first = activity_repository.list_statement(
            limit=51, owner_ids=("owner-7",), status=ActivityStatus.SCHEDULED, **window
        )
        later = activity_repository.list_statement(
            limit=51, owner_ids=("owner-7",), status=ActivityStatus.SCHEDULED, after=(now, MISSING), **window
        )
        for statement in (first, later):
            plan = _plan(s, statement)
            assert "ix_activities_owner_status_sort" in plan, plan
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan  # read in list order: no sort step
    overdue = _list(s, 200, owner_ids=["owner-7"], due=OVERDUE)
    upcoming = _list(s, 200, owner_ids=["owner-7"], due=UPCOMING)
    scheduled = sum(1 for n in range(owners * per_owner) if n % owners == 7 and n % 3)
    assert len(set(overdue) | set(upcoming)) == len(overdue) + len(upcoming) == scheduled
