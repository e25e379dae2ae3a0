"""Budgets over gRPC: create, read, list, update and delete; every error a caller can cause names
its field (or says what collides) and writes nothing, not even an outbox event."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.field_mask_pb2 import FieldMask

from crm.reporting.v1 import events_pb2
from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.ids import new_id
from crm_platform.tables import outbox_events
from crm_reporting.adapters import tables as t

from .conftest import World

Q = pb.PERIOD_KIND_QUARTER
M = pb.PERIOD_KIND_MONTH


def budget(**kw: Any) -> pb.Budget:
    kw.setdefault("period_kind", Q)
    kw.setdefault("period_start", {"year": 2026, "month": 4, "day": 1})
    kw.setdefault("target", {"amount": "15000.50", "currency_code": "USD"})
    if "team_id" not in kw:
        kw.setdefault("user_id", new_id())
    return pb.Budget(**kw)


def create(world: World, b: pb.Budget, request_id: str = "") -> pb.Budget:
    return world.stub.CreateBudget(pb.CreateBudgetRequest(budget=b, request_id=request_id), timeout=5).budget


def rows(world: World) -> tuple[int, int]:
    """(budgets, outbox events)."""
    return world.count(t.budgets), world.count(outbox_events)


def rpc_error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value


def test_create_read_update_delete(world: World) -> None:
    user = new_id()
    created = create(world, budget(user_id=user))
    assert (created.user_id, created.team_id, created.version) == (user, "", 1)
    assert (created.target.amount, created.target.currency_code) == ("15000.50", "USD")
    assert (created.period_start.year, created.period_start.month, created.period_start.day) == (2026, 4, 1)
    got = world.stub.GetBudget(pb.GetBudgetRequest(id=created.id), timeout=5).budget
    assert got == created

    updated = world.stub.UpdateBudget(
        pb.UpdateBudgetRequest(
            budget=pb.Budget(id=created.id, target={"amount": "20000", "currency_code": "USD"}),
            update_mask=FieldMask(paths=["target.amount"]),
            expected_version=1,
        ),
        timeout=5,
    ).budget
    assert (updated.target.amount, updated.version) == ("20000.00", 2)

    world.stub.DeleteBudget(pb.DeleteBudgetRequest(id=created.id), timeout=5)
    err = rpc_error(lambda: world.stub.GetBudget(pb.GetBudgetRequest(id=created.id), timeout=5))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    with world.db.read() as s:
        subjects = list(s.scalars(sa.select(outbox_events.c.event_type).order_by(outbox_events.c.created_at)))
    assert subjects == [
        events_pb2.BudgetCreated.DESCRIPTOR.full_name,
        events_pb2.BudgetUpdated.DESCRIPTOR.full_name,
        events_pb2.BudgetDeleted.DESCRIPTOR.full_name,
    ]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        (
            {"period_start": {"year": 2026, "month": 5, "day": 1}},
            "budget.period_start",
            "not the first day of a quarter",
        ),
        ({"period_kind": M, "period_start": {"year": 2026, "month": 5, "day": 2}}, "budget.period_start", "month"),
        ({"period_start": {"year": 2026, "month": 2, "day": 30}}, "budget.period_start", "is not a date"),
        ({"period_kind": 0}, "budget.period_kind", "required"),
        ({"target": {"amount": "100", "currency_code": "XYZ"}}, "budget.target.currency_code", "ISO 4217"),
        ({"target": {"amount": "100.005", "currency_code": "USD"}}, "budget.target.amount", "more decimals than USD"),
        ({"target": {"amount": "10.5", "currency_code": "CLP"}}, "budget.target.amount", "more decimals than CLP"),
        ({"target": {"amount": "-1", "currency_code": "USD"}}, "budget.target.amount", "negative"),
        ({"target": {"amount": "1e", "currency_code": "USD"}}, "budget.target.amount", "not a decimal"),
        ({"team_id": "x", "user_id": ""}, "budget.team_id", "not a valid id"),
    ],
)
def test_bad_budgets_name_the_field_and_write_nothing(
    world: World, fields: dict[str, Any], field: str, words: str
) -> None:
    err = rpc_error(lambda: create(world, budget(**fields)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.details() or "") and words in (err.details() or "")
    assert rows(world) == (0, 0)


def test_both_owners_at_once_is_invalid(world: World) -> None:
    err = rpc_error(lambda: create(world, budget(user_id=new_id(), team_id=new_id())))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "exactly one of user_id and team_id" in (
        err.details() or ""
    )
    assert rows(world) == (0, 0)


def test_one_budget_per_owner_period_and_currency(world: World) -> None:
    user = new_id()
    first = create(world, budget(user_id=user))
    err = rpc_error(lambda: create(world, budget(user_id=user, target={"amount": "1", "currency_code": "USD"})))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and first.id in (err.details() or "")
    assert rows(world) == (1, 1)
    # Another currency, another period, or a team: separate budgets.
    create(world, budget(user_id=user, target={"amount": "1", "currency_code": "CLP"}))
    create(world, budget(user_id=user, period_start={"year": 2026, "month": 7, "day": 1}))
    team = new_id()
    create(world, budget(team_id=team))
    err = rpc_error(lambda: create(world, budget(team_id=team)))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert rows(world) == (4, 4)


def test_a_retry_with_the_same_request_id_answers_the_first_budget(world: World) -> None:
    b = budget()
    first = create(world, b, request_id="req-1")
    again = create(world, b, request_id="req-1")
    assert again == first
    assert rows(world) == (1, 1)


def test_stale_version_is_aborted_and_changes_nothing(world: World) -> None:
    created = create(world, budget())
    change = pb.UpdateBudgetRequest(
        budget=pb.Budget(id=created.id, target={"amount": "1.00", "currency_code": "USD"}),
        update_mask=FieldMask(paths=["target"]),
        expected_version=7,
    )
    err = rpc_error(lambda: world.stub.UpdateBudget(change, timeout=5))
    assert err.code() == grpc.StatusCode.ABORTED
    assert world.stub.GetBudget(pb.GetBudgetRequest(id=created.id), timeout=5).budget == created
    assert rows(world) == (1, 1)


def test_update_errors_write_nothing(world: World) -> None:
    user = new_id()
    created = create(world, budget(user_id=user))
    create(world, budget(user_id=user, target={"amount": "5", "currency_code": "CLP"}))
    cases = [
        (["period_start"], {"amount": "1", "currency_code": "USD"}, "update_mask"),
        (["target"], {"amount": "1.001", "currency_code": "USD"}, "budget.target.amount"),
        (["target"], {"amount": "1", "currency_code": "CLP"}, "already has a CLP budget"),
    ]
    for paths, target, words in cases:
        req = pb.UpdateBudgetRequest(budget=pb.Budget(id=created.id, target=target), update_mask=FieldMask(paths=paths))
        err = rpc_error(lambda req=req: world.stub.UpdateBudget(req, timeout=5))
        assert words in (err.details() or ""), err.details()
    assert world.stub.GetBudget(pb.GetBudgetRequest(id=created.id), timeout=5).budget == created
    assert rows(world) == (2, 2)


def test_list_filters_and_pages(world: World) -> None:
    ana, beto, team = new_id(), new_id(), new_id()
    made = [
        create(world, budget(user_id=ana)),
        create(world, budget(user_id=ana, period_kind=M, period_start={"year": 2026, "month": 5, "day": 1})),
        create(world, budget(user_id=beto, period_start={"year": 2026, "month": 10, "day": 1})),
        create(world, budget(team_id=team)),
    ]
    listed = world.stub.ListBudgets(pb.ListBudgetsRequest(user_id=ana), timeout=5).budgets
    assert {b.id for b in listed} == {made[0].id, made[1].id}
    listed = world.stub.ListBudgets(pb.ListBudgetsRequest(period_kind=Q), timeout=5).budgets
    assert {b.id for b in listed} == {made[0].id, made[2].id, made[3].id}
    to = {"year": 2026, "month": 6, "day": 30}
    listed = world.stub.ListBudgets(pb.ListBudgetsRequest(period_start_to=to), timeout=5).budgets
    assert {b.id for b in listed} == {made[0].id, made[1].id, made[3].id}
    seen, token = [], ""
    for _ in range(10):
        page = world.stub.ListBudgets(pb.ListBudgetsRequest(page_size=3, page_token=token), timeout=5)
        seen += [b.id for b in page.budgets]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(b.id for b in made)
