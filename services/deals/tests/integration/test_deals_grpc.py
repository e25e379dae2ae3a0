"""Deals over real gRPC, with the real contacts service checking clients and contacts, a real
database and nats-server: create (default pipeline, stage probability, idempotent retries), the
reference checks and their errors, updates with a field mask and versions, move / win / lose /
reopen with the stage history and its cycle times on a fixed clock, lists with every filter, and
the events each change publishes. Every refused call is shown to write nothing."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2, events_pb2
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.testing import wait_for_event

from .conftest import OTHER_OWNER, OWNER, DealsWorld

MISSING = "0192d6e0-0000-7000-8000-00000000dead"
DAY = 86_400


def _error(call: object, *args: object) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, timeout=5)  # type: ignore[operator]
    return decode_error(err.value)


def test_a_new_deal_opens_in_the_default_pipeline_with_its_first_stage(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    assert [s.name for s in pipeline.stages] == [
        "Prospección",
        "Calificación",
        "Propuesta",
        "Negociación",
        "Ganado",
        "Perdido",
    ]
    client = world.client()
    contact = world.contact(client.id)
    deal = world.create(
        client.id, contact_ids=[contact.id], expected_close_date=types_pb2.Date(year=2026, month=6, day=30)
    )
    first = pipeline.stages[0]
    assert deal.pipeline_id == pipeline.id and deal.stage_id == first.id
    assert deal.probability == first.default_probability == 10
    assert deal.status == deals_pb2.DEAL_STATUS_OPEN and deal.version == 1
    assert deal.amount.amount == "1500000" and deal.amount.currency_code == "COP"
    assert list(deal.contact_ids) == [contact.id]
    assert [(h.from_stage_id, h.to_stage_id) for h in deal.stage_history] == [("", first.id)]
    assert deal.stage_history[0].move_time.ToDatetime().date() == world.clock.now.date()
    assert world.stub.GetDeal(deals_pb2.GetDealRequest(id=deal.id), timeout=5).deal == deal
    event = wait_for_event(world.nats_url, events_pb2.DealCreated, lambda e: e.deal.id == deal.id)
    assert event.deal.owner_id == OWNER and event.deal.amount == deal.amount and event.deal.stage_id == first.id
    assert event.meta.producer == "deals"


def test_a_stage_given_on_create_sets_the_probability_unless_one_is_given(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    client = world.client()
    proposal = pipeline.stages[2]
    deal = world.create(client.id, stage_id=proposal.id)
    assert deal.stage_id == proposal.id and deal.probability == 50
    assert world.create(client.id, stage_id=proposal.id, probability=65).probability == 65
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(title="x", client_id=client.id, owner_id=OWNER, stage_id=pipeline.stages[4].id)
        ),
    )
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "stage_not_open"


def test_unknown_or_archived_client_and_foreign_contact_are_refused_and_write_nothing(world: DealsWorld) -> None:
    client, other = world.client(), world.client("Otra S.A.S.")
    foreign = world.contact(other.id, "Pedro")
    before = world.rows()
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(title="Sin cliente", client_id=MISSING, owner_id=OWNER)),
    )
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "client_not_found"
    assert info.metadata["field"] == "deal.client_id" and MISSING in info.message
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(title="Ajeno", client_id=client.id, owner_id=OWNER, contact_ids=[foreign.id])
        ),
    )
    assert info.reason == "contact_of_other_client" and info.metadata["field"] == "deal.contact_ids[0]"
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(title="Fantasma", client_id=client.id, owner_id=OWNER, contact_ids=[MISSING])
        ),
    )
    assert info.reason == "contact_not_found"
    from crm.contacts.v1 import contacts_pb2

    world.contacts_stub.ArchiveClient(contacts_pb2.ArchiveClientRequest(id=other.id), timeout=5)
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(title="Archivado", client_id=other.id, owner_id=OWNER)),
    )
    assert info.reason == "client_archived"
    assert world.rows() == before


def test_bad_input_names_each_field_and_writes_nothing(world: DealsWorld) -> None:
    client = world.client()
    before = world.rows()
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title=" ",
                client_id=client.id,
                owner_id="",
                amount=types_pb2.Money(amount="-5", currency_code="COP"),
                probability=120,
                line_items=[deals_pb2.DealLineItem(product_id=MISSING, quantity="0")],
            )
        ),
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in info.violations} == {
        "deal.title",
        "deal.owner_id",
        "deal.amount.amount",
        "deal.probability",
        "deal.line_items[0].quantity",
    }
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="ok",
                client_id=client.id,
                owner_id=OWNER,
                amount=types_pb2.Money(amount="1,5", currency_code="XYZ"),
            )
        ),
    )
    assert {v.field for v in info.violations} == {"deal.amount.amount"}
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="ok",
                client_id=client.id,
                owner_id=OWNER,
                amount=types_pb2.Money(amount="10", currency_code="XYZ"),
            )
        ),
    )
    assert {v.field for v in info.violations} == {"deal.amount.currency_code"}
    assert world.rows() == before


def test_amounts_are_rounded_half_up_to_the_currency_minor_unit(world: DealsWorld) -> None:
    client = world.client()
    assert (
        world.create(client.id, amount=types_pb2.Money(amount="10.005", currency_code="USD")).amount.amount == "10.01"
    )
    assert world.create(client.id, amount=types_pb2.Money(amount="2.5", currency_code="CLP")).amount.amount == "3"
    no_amount = world.stub.CreateDeal(
        deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(title="Sin monto", client_id=client.id, owner_id=OWNER)),
        timeout=5,
    ).deal
    # COP has no minor unit in CLDR's currency data (as CLP): amounts are whole pesos.
    assert world.create(client.id, amount=types_pb2.Money(amount="1999.5", currency_code="COP")).amount.amount == "2000"
    assert no_amount.amount.amount == "0" and no_amount.amount.currency_code == "COP"


def test_a_retried_create_with_the_same_request_id_returns_the_first_deal(world: DealsWorld) -> None:
    client = world.client()
    req = deals_pb2.CreateDealRequest(
        deal=deals_pb2.Deal(title="Reintento", client_id=client.id, owner_id=OWNER), request_id="req-1"
    )
    first = world.stub.CreateDeal(req, timeout=5).deal
    before = world.rows()
    world.contacts.stop(grace=0)  # a retry is answered from the stored answer, without asking contacts
    assert world.stub.CreateDeal(req, timeout=5).deal == first
    assert world.rows() == before


def test_contacts_service_down_is_unavailable_and_writes_nothing(world: DealsWorld) -> None:
    client = world.client()
    before = world.rows()
    world.contacts.stop(grace=0)
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(title="Caído", client_id=client.id, owner_id=OWNER)),
    )
    assert info.code == grpc.StatusCode.UNAVAILABLE and info.reason == "contacts_unavailable"
    assert "contacts service" in info.message and "nothing was changed" in info.message
    assert world.rows() == before


def test_update_with_a_mask_and_versions(world: DealsWorld) -> None:
    client, other_client = world.client(), world.client("Nueva Cuenta Ltda.")
    deal = world.create(client.id)
    mask = FieldMask(paths=["title", "amount", "expected_close_date"])
    changed = deals_pb2.Deal(
        id=deal.id,
        title="Licencias 2026 (ampliado)",
        amount=types_pb2.Money(amount="2000000", currency_code="COP"),
        expected_close_date=types_pb2.Date(year=2026, month=9, day=1),
    )
    res = world.stub.UpdateDeal(
        deals_pb2.UpdateDealRequest(deal=changed, update_mask=mask, expected_version=1), timeout=5
    ).deal
    assert res.version == 2 and res.title == "Licencias 2026 (ampliado)" and res.amount.amount == "2000000"
    event = wait_for_event(world.nats_url, events_pb2.DealUpdated, lambda e: e.deal.id == deal.id)
    assert list(event.changed_fields) == ["title", "amount", "expected_close_date"]
    assert event.previous_amount.amount == "1500000"

    before = world.rows()
    info = _error(
        world.stub.UpdateDeal,
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, title="perdedor"),
            update_mask=FieldMask(paths=["title"]),
            expected_version=1,
        ),
    )
    assert info.code == grpc.StatusCode.ABORTED and info.reason == "version_mismatch"
    info = _error(
        world.stub.UpdateDeal,
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, stage_id=deal.stage_id), update_mask=FieldMask(paths=["stage_id", "status"])
        ),
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and [v.field for v in info.violations] == ["update_mask"] * 2
    info = _error(
        world.stub.UpdateDeal,
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, client_id=MISSING), update_mask=FieldMask(paths=["client_id"])
        ),
    )
    assert info.reason == "client_not_found"
    assert world.rows() == before
    assert world.stub.GetDeal(deals_pb2.GetDealRequest(id=deal.id), timeout=5).deal.version == 2

    moved = world.stub.UpdateDeal(
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, client_id=other_client.id, owner_id=OTHER_OWNER),
            update_mask=FieldMask(paths=["client_id", "owner_id"]),
        ),
        timeout=5,
    ).deal
    assert moved.client_id == other_client.id and moved.owner_id == OTHER_OWNER and moved.version == 3
    same = world.stub.UpdateDeal(
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, owner_id=OTHER_OWNER), update_mask=FieldMask(paths=["owner_id"])
        ),
        timeout=5,
    ).deal
    assert same.version == 3  # nothing changed: nothing stored


def test_move_win_lose_reopen_and_their_errors(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    opens = pipeline.stages[:4]
    won_stage, lost_stage = pipeline.stages[4], pipeline.stages[5]
    client = world.client()
    deal = world.create(client.id)

    moved = world.stub.MoveDeal(
        deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=opens[2].id, expected_version=1), timeout=5
    ).deal
    assert moved.stage_id == opens[2].id and moved.probability == 50 and moved.version == 2
    kept = world.stub.MoveDeal(
        deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=opens[3].id, keep_probability=True), timeout=5
    ).deal
    assert kept.probability == 50
    event = wait_for_event(world.nats_url, events_pb2.DealStageChanged, lambda e: e.to_stage_id == opens[3].id)
    assert event.from_stage_id == opens[2].id and event.previous_probability == 50

    before = world.rows()
    info = _error(world.stub.MoveDeal, deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=won_stage.id))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "stage_not_open"
    info = _error(world.stub.MoveDeal, deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=MISSING))
    assert info.reason == "stage_not_in_pipeline"
    info = _error(world.stub.LoseDeal, deals_pb2.LoseDealRequest(deal_id=deal.id, reason="  "))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "reason"
    info = _error(world.stub.WinDeal, deals_pb2.WinDealRequest(deal_id=deal.id, expected_version=1))
    assert info.code == grpc.StatusCode.ABORTED
    info = _error(world.stub.ReopenDeal, deals_pb2.ReopenDealRequest(deal_id=deal.id))
    assert info.reason == "deal_open"
    info = _error(world.stub.WinDeal, deals_pb2.WinDealRequest(deal_id=MISSING))
    assert info.code == grpc.StatusCode.NOT_FOUND
    assert world.rows() == before

    lost = world.stub.LoseDeal(deals_pb2.LoseDealRequest(deal_id=deal.id, reason="Precio alto"), timeout=5).deal
    assert lost.status == deals_pb2.DEAL_STATUS_LOST and lost.stage_id == lost_stage.id and lost.probability == 0
    assert lost.lost_reason == "Precio alto" and lost.HasField("lost_time")
    event_lost = wait_for_event(world.nats_url, events_pb2.DealLost, lambda e: e.deal.id == deal.id)
    assert event_lost.from_stage_id == opens[3].id and event_lost.deal.lost_reason == "Precio alto"
    info = _error(world.stub.WinDeal, deals_pb2.WinDealRequest(deal_id=deal.id))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "deal_lost"

    reopened = world.stub.ReopenDeal(deals_pb2.ReopenDealRequest(deal_id=deal.id), timeout=5).deal
    assert reopened.status == deals_pb2.DEAL_STATUS_OPEN and reopened.stage_id == opens[3].id
    assert reopened.lost_reason == "" and not reopened.HasField("lost_time") and reopened.probability == 75
    event_reopened = wait_for_event(world.nats_url, events_pb2.DealReopened, lambda e: e.deal.id == deal.id)
    assert (
        event_reopened.previous_status == deals_pb2.DEAL_STATUS_LOST and event_reopened.from_stage_id == lost_stage.id
    )

    won = world.stub.WinDeal(
        deals_pb2.WinDealRequest(deal_id=deal.id, expected_version=reopened.version), timeout=5
    ).deal
    assert won.status == deals_pb2.DEAL_STATUS_WON and won.stage_id == won_stage.id and won.probability == 100
    event_won = wait_for_event(world.nats_url, events_pb2.DealWon, lambda e: e.deal.id == deal.id)
    assert event_won.deal.amount.amount == "1500000" and event_won.deal.owner_id == OWNER
    assert [h.to_stage_id for h in won.stage_history] == [
        opens[0].id,
        opens[2].id,
        opens[3].id,
        lost_stage.id,
        opens[3].id,
        won_stage.id,
    ]


def test_stage_history_gives_the_cycle_times_on_a_fixed_clock(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    opens = pipeline.stages[:4]
    client = world.client()
    deal = world.create(client.id)  # day 0, Prospección
    world.clock.advance(days=2)
    world.stub.MoveDeal(deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=opens[1].id), timeout=5)
    world.clock.advance(days=3)
    world.stub.MoveDeal(deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=opens[3].id), timeout=5)
    world.clock.advance(hours=12)
    world.stub.MoveDeal(deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=opens[1].id), timeout=5)
    world.clock.advance(days=1)
    open_now = world.stub.GetDeal(deals_pb2.GetDealRequest(id=deal.id), timeout=5).deal
    assert [(t.stage_id, t.seconds) for t in open_now.stage_times] == [
        (opens[0].id, 2 * DAY),
        (opens[1].id, 3 * DAY + DAY),  # two stays: 3 days, then 1 day so far
        (opens[3].id, DAY // 2),
    ]
    assert open_now.sales_cycle_seconds == 0
    world.clock.advance(days=3)
    won = world.stub.WinDeal(deals_pb2.WinDealRequest(deal_id=deal.id), timeout=5).deal
    world.clock.advance(days=30)  # time in the won stage does not count
    later = world.stub.GetDeal(deals_pb2.GetDealRequest(id=deal.id), timeout=5).deal
    assert [(t.stage_id, t.seconds) for t in later.stage_times] == [
        (opens[0].id, 2 * DAY),
        (opens[1].id, 7 * DAY),
        (opens[3].id, DAY // 2),
    ]
    assert won.sales_cycle_seconds == later.sales_cycle_seconds == 9 * DAY + DAY // 2
    assert [h.move_time.ToSeconds() - won.create_time.ToSeconds() for h in later.stage_history] == [
        0,
        2 * DAY,
        5 * DAY,
        5 * DAY + DAY // 2,
        9 * DAY + DAY // 2,
    ]


def test_lists_filter_and_page_in_creation_order(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    a, b = world.client("Alfa"), world.client("Beta")
    contact = world.contact(b.id)
    made = [
        world.create(a.id, "Alfa renovación"),
        world.create(b.id, "Beta ampliación", contact_ids=[contact.id], owner_id=OTHER_OWNER),
        world.create(a.id, "Alfa soporte", expected_close_date=types_pb2.Date(year=2026, month=5, day=15)),
        world.create(
            b.id,
            "Beta migración",
            source_campaign_id=MISSING,
            expected_close_date=types_pb2.Date(year=2026, month=7, day=1),
        ),
    ]
    world.stub.WinDeal(deals_pb2.WinDealRequest(deal_id=made[2].id), timeout=5)
    world.stub.MoveDeal(deals_pb2.MoveDealRequest(deal_id=made[3].id, stage_id=pipeline.stages[1].id), timeout=5)

    def ids(**kw: object) -> list[str]:
        return [d.id for d in world.stub.ListDeals(deals_pb2.ListDealsRequest(**kw), timeout=5).deals]

    assert ids() == [d.id for d in made]
    assert ids(owner_ids=[OTHER_OWNER]) == [made[1].id]
    assert ids(client_id=a.id) == [made[0].id, made[2].id]
    assert ids(contact_id=contact.id) == [made[1].id]
    assert ids(status=deals_pb2.DEAL_STATUS_WON) == [made[2].id]
    assert ids(stage_id=pipeline.stages[1].id) == [made[3].id]
    assert ids(pipeline_id=pipeline.id, source_campaign_id=MISSING) == [made[3].id]
    assert ids(query="ALFA") == [made[0].id, made[2].id]
    assert ids(query="migración") == [made[3].id]
    assert ids(expected_close_from=types_pb2.Date(year=2026, month=6, day=1)) == [made[3].id]
    assert ids(expected_close_to=types_pb2.Date(year=2026, month=6, day=1)) == [made[2].id]
    seen, token = [], ""
    while True:
        page = world.stub.ListDeals(deals_pb2.ListDealsRequest(page_size=3, page_token=token), timeout=5)
        seen += [d.id for d in page.deals]
        token = page.next_page_token
        if not token:
            break
    assert seen == [d.id for d in made]
    info = _error(
        world.stub.ListDeals, deals_pb2.ListDealsRequest(page_size=3, page_token=token or "x", client_id=a.id)
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "page_token"
    info = _error(world.stub.ListDeals, deals_pb2.ListDealsRequest(status=9))
    assert info.violations[0].field == "status"


def test_delete_publishes_the_deal_as_it_was(world: DealsWorld) -> None:
    deal = world.create(world.client().id)
    world.stub.DeleteDeal(deals_pb2.DeleteDealRequest(id=deal.id), timeout=5)
    info = _error(world.stub.GetDeal, deals_pb2.GetDealRequest(id=deal.id))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "deal_not_found"
    event = wait_for_event(world.nats_url, events_pb2.DealDeleted, lambda e: e.deal.id == deal.id)
    assert event.deal.title == deal.title and event.deal.owner_id == OWNER


def test_moves_refuse_a_deal_outside_the_callers_scope_as_missing(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    deal = world.create(world.client().id)
    before = world.rows()
    for call, req in (
        (world.stub.MoveDeal, deals_pb2.MoveDealRequest(deal_id=deal.id, stage_id=pipeline.stages[1].id)),
        (world.stub.WinDeal, deals_pb2.WinDealRequest(deal_id=deal.id)),
        (world.stub.LoseDeal, deals_pb2.LoseDealRequest(deal_id=deal.id, reason="Precio")),
    ):
        req.allowed_owner_ids.append(OTHER_OWNER)
        info = _error(call, req)
        assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "deal_not_found"
    assert world.rows() == before
    won = world.stub.WinDeal(
        deals_pb2.WinDealRequest(deal_id=deal.id, allowed_owner_ids=[OTHER_OWNER, OWNER]), timeout=5
    ).deal
    assert won.status == deals_pb2.DEAL_STATUS_WON
    reopen = deals_pb2.ReopenDealRequest(deal_id=deal.id, allowed_owner_ids=[OTHER_OWNER])
    assert _error(world.stub.ReopenDeal, reopen).code == grpc.StatusCode.NOT_FOUND
