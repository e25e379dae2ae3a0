"""The projectors' rules on single records: tombstones (also for deletions that carry only an
id), a pipeline's stages replaced as a set only by a newer version, a campaign's cost that only
grows (also when a spend arrives before the campaign), and conversion times."""

from __future__ import annotations

import sqlalchemy as sa

from crm.campaigns.v1 import campaigns_pb2
from crm.campaigns.v1 import events_pb2 as campaigns_events
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deals_events
from crm_platform.ids import new_id
from crm_reporting.adapters import tables as t
from crm_reporting.adapters.read_models import TOMBSTONE_VERSION

from .conftest import World, at, campaign_event, meta, pipeline_created, prospect_event, spend_recorded


def row(world: World, table: sa.Table, record_id: str) -> sa.Row:  # type: ignore[type-arg]
    with world.db.read() as s:
        return s.execute(sa.select(table).where(table.c.id == record_id)).one()


def test_a_deletion_with_only_an_id_leaves_a_tombstone_nothing_revives(world: World) -> None:
    client_id = new_id()

    def client_event(cls: type, version: int, name: str) -> object:
        c = contacts_pb2.Client(id=client_id, name=name, owner_id=new_id(), version=version)
        return cls(meta=meta(at("2026-01-01T10:00"), "contacts"), client=c)

    events = [
        client_event(contacts_events.ClientCreated, 1, "Andina"),
        contacts_events.ClientDeleted(meta=meta(at("2026-01-02T10:00"), "contacts"), client_id=client_id),
        client_event(contacts_events.ClientUpdated, 5, "Andina S.A."),  # late, after the delete
    ]
    world.publish(events)  # type: ignore[arg-type]
    world.wait_applied(3)
    stored = row(world, t.rm_clients, client_id)
    assert (stored.deleted, stored.version, stored.name) == (True, TOMBSTONE_VERSION, "Andina")


def test_stages_follow_the_newest_pipeline_version(world: World) -> None:
    pid, s1, s2, s3 = new_id(), new_id(), new_id(), new_id()
    open_, won = deals_pb2.STAGE_KIND_OPEN, deals_pb2.STAGE_KIND_WON
    v1 = pipeline_created(pid, [(s1, "Uno", 10, open_), (s2, "Dos", 50, open_), (s3, "Ganado", 100, won)])
    p2 = deals_pb2.Pipeline()
    p2.CopyFrom(v1.pipeline)  # type: ignore[attr-defined]
    del p2.stages[1]
    p2.version = 2
    p2.stages[0].name = "Primero"
    v2 = deals_events.PipelineUpdated(meta=meta(at("2026-01-03T10:00"), "deals"), pipeline=p2)
    world.publish([v2, v1])  # the older version after the newer one
    world.wait_applied(2)
    with world.db.read() as s:
        stages = s.execute(
            sa.select(t.rm_stages.c.name, t.rm_stages.c.kind)
            .where(t.rm_stages.c.pipeline_id == pid)
            .order_by(t.rm_stages.c.position)
        ).all()
    assert [tuple(r) for r in stages] == [("Primero", "open"), ("Ganado", "won")]
    assert row(world, t.rm_pipelines, pid).version == 2


def test_campaign_cost_only_grows_and_survives_a_spend_before_its_campaign(world: World) -> None:
    cid, owner = new_id(), new_id()
    from datetime import date

    world.publish(
        [
            spend_recorded(cid, "300.00", "300.00", at("2026-02-05T10:00")),
            spend_recorded(cid, "50.00", "350.00", at("2026-02-06T10:00")),
            campaign_event(
                campaigns_events.CampaignCreated,
                cid,
                owner,
                "Correo",
                campaigns_pb2.CAMPAIGN_STATUS_DRAFT,
                1,
                date(2026, 2, 1),
                date(2026, 2, 28),
                None,
            ),
        ]
    )
    world.wait_applied(3)
    stored = row(world, t.rm_campaigns, cid)
    assert (stored.name, stored.owner_id, stored.cost_minor, stored.version) == ("Correo", owner, 35000, 1)


def test_conversion_time_is_the_conversion_events(world: World) -> None:
    pid, owner = new_id(), new_id()
    world.publish(
        [
            prospect_event(
                contacts_events.ProspectConverted,
                pid,
                owner,
                at("2026-02-01T10:00"),
                contacts_pb2.PROSPECT_STATUS_CONVERTED,
                2,
            ),
            prospect_event(
                contacts_events.ProspectUpdated, pid, owner, at("2026-01-01T10:00"), contacts_pb2.PROSPECT_STATUS_NEW, 1
            ),
        ]
    )
    world.wait_applied(2)
    stored = row(world, t.rm_prospects, pid)
    assert stored.status == "converted" and stored.converted_at.replace(tzinfo=None) == at("2026-02-01T10:00").replace(
        tzinfo=None
    )
