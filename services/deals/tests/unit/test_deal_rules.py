"""The pipeline and deal rules without I/O: default stages, stage changes, validation naming each
bad field, the deal's moves between stages, and the time in each stage and sales cycle computed
from the stage history on fixed times."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_deals.domain import deals as rules
from crm_deals.domain import pipelines
from crm_deals.domain.deals import Deal, DealStatus, LineItem
from crm_deals.domain.pipelines import Pipeline, Stage, StageKind
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLIENT = "0192d6e0-0000-7000-8000-0000000000c1"
OWNER = "0192d6e0-0000-7000-8000-0000000000a1"
PRODUCT = "0192d6e0-0000-7000-8000-0000000000f1"


def _ids() -> itertools.count[int]:
    return itertools.count(1)


def _pipeline(**kw: object) -> Pipeline:
    counter = _ids()
    return pipelines.new_pipeline(Pipeline("", "Ventas", **kw), lambda: f"s{next(counter)}", T0)  # type: ignore[arg-type]


def _deal(pipeline: Pipeline, **kw: object) -> Deal:
    draft = Deal("", "Licencias", CLIENT, OWNER, amount=Decimal("100"), currency_code="USD")
    return rules.opened(replace(draft, **kw), pipeline, "d1", OWNER, T0)  # type: ignore[arg-type]


def _fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in exc.value.violations}


def test_a_pipeline_without_stages_gets_the_spanish_defaults_and_ends_with_won_and_lost() -> None:
    p = _pipeline()
    assert [(s.name, s.default_probability, s.kind) for s in p.stages] == [
        ("Prospección", 10, StageKind.OPEN),
        ("Calificación", 25, StageKind.OPEN),
        ("Propuesta", 50, StageKind.OPEN),
        ("Negociación", 75, StageKind.OPEN),
        ("Ganado", 100, StageKind.WON),
        ("Perdido", 0, StageKind.LOST),
    ]
    assert len({s.id for s in p.stages}) == 6 and p.version == 1


def test_pipeline_validation_names_each_problem() -> None:
    with pytest.raises(InvalidArgument) as err:
        pipelines.new_pipeline(
            Pipeline(
                "",
                " ",
                stages=(
                    Stage("", "Uno", 120),
                    Stage("", "uno", 10),
                    Stage("", "G1", 100, StageKind.WON),
                    Stage("", "G2", 100, StageKind.WON),
                ),
            ),
            lambda: "x",
            T0,
        )
    assert _fields(err) == {"pipeline.name", "pipeline.stages[0].default_probability", "pipeline.stages"}
    with pytest.raises(InvalidArgument) as err:
        pipelines.new_pipeline(Pipeline("", "Solo cierre", stages=(Stage("", "G", 100, StageKind.WON),)), str, T0)
    assert "at least one open stage" in str(err.value)


def test_stage_changes_keep_won_and_lost_last_and_refuse_bad_orders() -> None:
    p = _pipeline()
    opens = [s.id for s in p.open_stages]
    added = pipelines.add_stage(p, Stage("", "Demo", 40), opens[2], "new", T0)
    assert [s.name for s in added.stages][2:4] == ["Demo", "Propuesta"] and added.version == 2
    last = pipelines.add_stage(p, Stage("", "Cierre", 90), "", "new2", T0)
    assert [s.name for s in last.stages][-3:] == ["Cierre", "Ganado", "Perdido"]
    with pytest.raises(InvalidArgument) as err:
        pipelines.add_stage(p, Stage("", "x", 1), p.won_stage.id, "n", T0)
    assert _fields(err) == {"before_stage_id"}
    reordered = pipelines.reordered(p, list(reversed(opens)), T0)
    assert [s.id for s in reordered.open_stages] == list(reversed(opens))
    assert pipelines.reordered(p, opens, T0) is p  # the same order changes nothing
    for bad in (opens[:3], [*opens, opens[0]], [*opens[:3], p.won_stage.id]):
        with pytest.raises(InvalidArgument):
            pipelines.reordered(p, bad, T0)


def test_deleting_a_stage() -> None:
    p = _pipeline()
    first, second = p.open_stages[0], p.open_stages[1]
    with pytest.raises(FailedPrecondition, match="name the open stage"):
        pipelines.without_stage(p, first.id, "", 3, T0)
    with pytest.raises(InvalidArgument):
        pipelines.without_stage(p, first.id, first.id, 3, T0)
    with pytest.raises(FailedPrecondition):
        pipelines.without_stage(p, first.id, p.lost_stage.id, 3, T0)
    with pytest.raises(NotFound):
        pipelines.without_stage(p, "nope", "", 0, T0)
    after = pipelines.without_stage(p, first.id, second.id, 3, T0)
    assert first.id not in [s.id for s in after.stages] and len(after.stages) == 5
    counter = _ids()
    single = pipelines.new_pipeline(
        Pipeline("", "Una", stages=(Stage("", "Única", 50),)), lambda: f"u{next(counter)}", T0
    )
    with pytest.raises(FailedPrecondition, match="only open stage"):
        pipelines.without_stage(single, single.open_stages[0].id, "", 0, T0)


def test_the_default_pipeline_cannot_stop_being_the_default() -> None:
    p = replace(_pipeline(), is_default=True)
    with pytest.raises(InvalidArgument) as err:
        pipelines.updated(p, replace(p, is_default=False), ["is_default"], T0)
    assert _fields(err) == {"pipeline.is_default"}
    renamed, changed = pipelines.updated(p, replace(p, name="Comercial"), ["name"], T0)
    assert renamed.name == "Comercial" and changed == ["name"] and renamed.version == 2


def test_deal_validation_names_each_bad_field() -> None:
    draft = Deal(
        "",
        "",
        "not-an-id",
        "",
        amount=Decimal("-1"),
        currency_code="usd",
        probability=101,
        line_items=(LineItem(PRODUCT, Decimal("0")), LineItem(PRODUCT, Decimal("1.1234567"))),
        contact_ids=(CLIENT, CLIENT),
    )
    with pytest.raises(InvalidArgument) as err:
        rules.validated(draft)
    assert _fields(err) == {
        "deal.title",
        "deal.client_id",
        "deal.owner_id",
        "deal.amount.amount",
        "deal.probability",
        "deal.line_items[0].quantity",
        "deal.line_items[1].product_id",
        "deal.line_items[1].quantity",
        "deal.contact_ids",
    }
    ok = rules.validated(Deal("", "  Licencias ", CLIENT, OWNER, amount=Decimal("0.005"), currency_code="usd"))
    assert ok.title == "Licencias" and ok.currency_code == "USD" and ok.amount == Decimal("0.01")


def test_moves_wins_losses_and_reopening() -> None:
    p = _pipeline()
    deal = _deal(p)
    assert deal.stage_id == p.open_stages[0].id and deal.probability == 10 and deal.status is DealStatus.OPEN
    assert rules.moved(deal, p, deal.stage_id, False, OWNER, T0) is deal
    moved = rules.moved(deal, p, p.open_stages[2].id, False, OWNER, T0)
    assert moved.probability == 50 and moved.stage_history[-1].from_stage_id == deal.stage_id
    kept = rules.moved(moved, p, p.open_stages[3].id, True, OWNER, T0)
    assert kept.probability == 50
    with pytest.raises(FailedPrecondition, match="win or lose"):
        rules.moved(deal, p, p.won_stage.id, False, OWNER, T0)
    with pytest.raises(InvalidArgument):
        rules.lost(deal, p, " ", OWNER, T0)
    lost = rules.lost(kept, p, "Sin presupuesto", OWNER, T0)
    assert lost.status is DealStatus.LOST and lost.probability == 0 and lost.lost_at == T0
    with pytest.raises(FailedPrecondition, match="reopen it"):
        rules.won(lost, p, OWNER, T0)
    back = rules.reopened(lost, p, "", OWNER, T0)
    assert back.stage_id == p.open_stages[3].id and back.lost_reason == "" and back.lost_at is None
    assert back.probability == 75
    with pytest.raises(FailedPrecondition, match="already open"):
        rules.reopened(back, p, "", OWNER, T0)
    elsewhere = rules.reopened(rules.won(back, p, OWNER, T0), p, p.open_stages[1].id, OWNER, T0)
    assert elsewhere.stage_id == p.open_stages[1].id and elsewhere.won_at is None


def test_update_checks_the_version_and_reports_changed_fields() -> None:
    p = _pipeline()
    deal = _deal(p)
    with pytest.raises(Conflict):
        rules.updated(deal, replace(deal, title="x"), ["title"], expected_version=7)
    after, changed = rules.updated(
        deal, replace(deal, title="Nuevo", amount=Decimal("250"), currency_code="EUR"), ["title", "amount"], 1
    )
    assert changed == ["title", "amount"] and after.currency_code == "EUR" and after.amount == Decimal("250.00")
    with pytest.raises(InvalidArgument) as err:
        rules.updated(deal, deal, ["stage_id", "nope"], 0)
    assert [v.field for v in err.value.violations] == ["update_mask", "update_mask"]


def test_time_in_each_stage_and_the_sales_cycle_on_fixed_times() -> None:
    p = _pipeline()
    closed = {p.won_stage.id, p.lost_stage.id}
    s1, s2, s3 = (s.id for s in p.open_stages[:3])
    deal = _deal(p)
    day = timedelta(days=1)
    deal = rules.moved(deal, p, s2, False, OWNER, T0 + 2 * day)
    deal = rules.moved(deal, p, s3, False, OWNER, T0 + 5 * day)
    deal = rules.moved(deal, p, s2, False, OWNER, T0 + 6 * day)
    assert [(t.stage_id, t.seconds) for t in rules.time_in_stages(deal, closed, T0 + 8 * day)] == [
        (s1, 2 * 86400),
        (s2, 5 * 86400),  # 3 days, then 2 days so far
        (s3, 86400),
    ]
    assert rules.sales_cycle(deal) is None
    lost = rules.lost(deal, p, "Competencia", OWNER, T0 + 10 * day)
    reopened = rules.reopened(lost, p, "", OWNER, T0 + 20 * day)  # 10 days in Perdido: not counted
    won = rules.won(reopened, p, OWNER, T0 + 21 * day)
    times = rules.time_in_stages(won, closed, T0 + 90 * day)
    assert [(t.stage_id, t.seconds) for t in times] == [(s1, 2 * 86400), (s2, 8 * 86400), (s3, 86400)]
    assert rules.sales_cycle(won) == 21 * day
