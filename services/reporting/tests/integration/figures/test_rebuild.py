"""The rebuild empties the read models and replays every stream from the start, while the service
keeps running, and ends in the same state; its duration shows on the service's /metrics."""

from __future__ import annotations

import urllib.request

import pytest
import sqlalchemy as sa

from crm.reporting.v1 import reporting_pb2 as pb
from crm_reporting.adapters import tables as t
from crm_reporting.service_layer.rebuild import clear_read_models, rebuild

from .conftest import World
from .test_indicators_events import Q1, QUARTER, check_q1_figures, create_budgets, data_set


def metrics(world: World) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{world.service.metrics_port}/metrics", timeout=5) as res:
        return str(res.read().decode())


def test_rebuild_ends_in_the_same_state(world: World) -> None:
    ds = data_set()
    world.publish([*ds.events, *ds.stale])
    world.wait_applied(len(ds.events) + len(ds.stale))
    create_budgets(world, ds)
    before = world.snapshot()
    figures = world.indicators(pb.INDICATOR_SCOPE_TEAM, ds.ids["norte"], QUARTER, Q1)
    assert sum(len(rows) for rows in before.values()) > 50

    clear_read_models(world.db)
    assert world.count(t.rm_deals) == 0 and world.applied() == 0  # it really starts from nothing

    result = rebuild(world.db, world.nats_url, timeout=120)
    assert sum(result.events.values()) >= len(ds.events) + len(ds.stale)
    assert world.snapshot() == before
    assert world.indicators(pb.INDICATOR_SCOPE_TEAM, ds.ids["norte"], QUARTER, Q1) == figures
    check_q1_figures(world, ds)
    with world.db.read() as s:
        runs = s.execute(sa.select(t.rm_rebuilds)).all()
    assert len(runs) == 1 and runs[0].finished_at is not None and runs[0].duration_seconds > 0
    world.wait_for(lambda: "crm_reporting_rebuild_duration_seconds " in metrics(world))
    text = metrics(world)
    assert 'crm_reporting_read_model_events_applied{stream="deals"}' in text


def test_rebuild_while_events_keep_arriving(world: World) -> None:
    """Events published during the rebuild are applied exactly once, by whichever path sees them
    first (the durable consumers or the replay)."""
    ds = data_set()
    half = len(ds.events) // 2
    first, second = ds.events[:half], ds.events[half:]
    world.publish(first)
    world.wait_applied(len(first))
    world.publish(second)  # while the durable consumers handle these, the rebuild replays all
    rebuild(world.db, world.nats_url, timeout=120)
    world.wait_applied(len(ds.events))
    assert world.applied() == len(ds.events)
    create_budgets(world, ds)
    check_q1_figures(world, ds)


def test_the_crm_verb_rebuilds_the_running_services_read_models(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crm_cli.cli import main

    ds = data_set()
    world.publish(ds.events)
    world.wait_applied(len(ds.events))
    before = world.snapshot()
    monkeypatch.setenv("CRM_REPORTING_DATABASE_URL", world.database_url)
    monkeypatch.setenv("CRM_NATS_URL", world.nats_url)
    assert main(["rebuild-reports", "--timeout", "120"]) == 0
    assert "read models rebuilt in" in capsys.readouterr().out
    assert world.snapshot() == before
    with world.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(t.rm_rebuilds)) == 1


def test_a_rebuild_that_cannot_reach_nats_changes_nothing(world: World) -> None:
    from crm_platform.nats_server import free_port

    ds = data_set()
    world.publish(ds.events)
    world.wait_applied(len(ds.events))
    before = world.snapshot()
    with pytest.raises(TimeoutError):
        rebuild(world.db, f"nats://127.0.0.1:{free_port()}", timeout=1.0)
    assert world.snapshot() == before
