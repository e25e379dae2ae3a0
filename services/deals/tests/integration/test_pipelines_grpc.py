"""Pipelines over real gRPC with a real database and nats-server: the default pipeline made once
(also by two replicas starting on one database), custom pipelines, and stage changes (add,
rename, reorder, delete moving the stage's deals) with their versions, events and errors."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.deals.v1 import deals_pb2, deals_pb2_grpc, events_pb2
from crm_deals.bootstrap import build_spec
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.service import ServiceRuntime
from crm_platform.testing import wait_for_event

from .conftest import DealsWorld

MISSING = "0192d6e0-0000-7000-8000-00000000dead"


def _error(call: object, *args: object) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, timeout=5)  # type: ignore[operator]
    return decode_error(err.value)


def _names(p: deals_pb2.Pipeline) -> list[str]:
    return [s.name for s in p.stages]


def test_the_default_pipeline_is_made_once_even_by_two_replicas(
    world: DealsWorld, start_service: Callable[..., ServiceRuntime]
) -> None:
    default = world.default_pipeline()
    assert default.name == "Ventas" and default.version == 1
    assert [(s.default_probability, s.kind) for s in default.stages] == [
        (10, deals_pb2.STAGE_KIND_OPEN),
        (25, deals_pb2.STAGE_KIND_OPEN),
        (50, deals_pb2.STAGE_KIND_OPEN),
        (75, deals_pb2.STAGE_KIND_OPEN),
        (100, deals_pb2.STAGE_KIND_WON),
        (0, deals_pb2.STAGE_KIND_LOST),
    ]
    replica = start_service(build_spec(world.clock), world.database_url, world.nats_url)
    stub = deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(f"127.0.0.1:{replica.grpc_port}"))
    listed = stub.ListPipelines(deals_pb2.ListPipelinesRequest(), timeout=5).pipelines
    assert [p.id for p in listed] == [default.id]
    event = wait_for_event(world.nats_url, events_pb2.PipelineCreated, lambda e: e.pipeline.id == default.id)
    assert _names(event.pipeline) == _names(default)


def test_a_custom_pipeline_and_its_stage_changes(world: DealsWorld) -> None:
    made = world.stub.CreatePipeline(
        deals_pb2.CreatePipelineRequest(
            pipeline=deals_pb2.Pipeline(
                name="Proyectos",
                win_on_quote_accepted=True,
                stages=[
                    deals_pb2.Stage(name="Diagnóstico", default_probability=20),
                    deals_pb2.Stage(name="Oferta", default_probability=60),
                ],
            ),
            request_id="p-1",
        ),
        timeout=5,
    ).pipeline
    assert _names(made) == ["Diagnóstico", "Oferta", "Ganado", "Perdido"] and made.win_on_quote_accepted
    assert not made.is_default and made.version == 1
    again = world.stub.CreatePipeline(
        deals_pb2.CreatePipelineRequest(pipeline=deals_pb2.Pipeline(name="otro"), request_id="p-1"), timeout=5
    ).pipeline
    assert again == made

    added = world.stub.AddStage(
        deals_pb2.AddStageRequest(
            pipeline_id=made.id,
            stage=deals_pb2.Stage(name="Visita técnica", default_probability=40),
            before_stage_id=made.stages[1].id,
            expected_version=1,
        ),
        timeout=5,
    )
    assert _names(added.pipeline) == ["Diagnóstico", "Visita técnica", "Oferta", "Ganado", "Perdido"]
    assert added.stage.name == "Visita técnica" and added.pipeline.version == 2
    info = _error(
        world.stub.AddStage,
        deals_pb2.AddStageRequest(pipeline_id=made.id, stage=deals_pb2.Stage(name="Tarde"), expected_version=1),
    )
    assert info.code == grpc.StatusCode.ABORTED
    info = _error(
        world.stub.AddStage,
        deals_pb2.AddStageRequest(pipeline_id=made.id, stage=deals_pb2.Stage(name="oferta", default_probability=10)),
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "stage.name"
    info = _error(
        world.stub.AddStage,
        deals_pb2.AddStageRequest(
            pipeline_id=made.id, stage=deals_pb2.Stage(name="Otro ganado", kind=deals_pb2.STAGE_KIND_WON)
        ),
    )
    assert info.violations[0].field == "stage.kind"

    renamed = world.stub.UpdateStage(
        deals_pb2.UpdateStageRequest(
            pipeline_id=made.id,
            stage=deals_pb2.Stage(id=added.stage.id, name="Visita en sitio", default_probability=45),
            update_mask=FieldMask(paths=["name", "default_probability"]),
        ),
        timeout=5,
    ).pipeline
    assert renamed.stages[1].name == "Visita en sitio" and renamed.stages[1].default_probability == 45
    info = _error(
        world.stub.UpdateStage,
        deals_pb2.UpdateStageRequest(
            pipeline_id=made.id, stage=deals_pb2.Stage(id=added.stage.id), update_mask=FieldMask(paths=["kind"])
        ),
    )
    assert info.violations[0].field == "update_mask"

    opens = [s.id for s in renamed.stages[:3]]
    reordered = world.stub.ReorderStages(
        deals_pb2.ReorderStagesRequest(pipeline_id=made.id, stage_ids=list(reversed(opens))), timeout=5
    ).pipeline
    assert _names(reordered) == ["Oferta", "Visita en sitio", "Diagnóstico", "Ganado", "Perdido"]
    info = _error(world.stub.ReorderStages, deals_pb2.ReorderStagesRequest(pipeline_id=made.id, stage_ids=opens[:2]))
    assert info.violations[0].field == "stage_ids"
    event = wait_for_event(
        world.nats_url, events_pb2.PipelineUpdated, lambda e: e.pipeline.version == reordered.version
    )
    assert _names(event.pipeline) == _names(reordered) and list(event.changed_fields) == ["stages"]

    renamed_pipeline = world.stub.UpdatePipeline(
        deals_pb2.UpdatePipelineRequest(
            pipeline=deals_pb2.Pipeline(id=made.id, name="Proyectos 2026", is_default=True),
            update_mask=FieldMask(paths=["name", "is_default"]),
        ),
        timeout=5,
    ).pipeline
    assert renamed_pipeline.is_default and renamed_pipeline.name == "Proyectos 2026"
    defaults = [
        p for p in world.stub.ListPipelines(deals_pb2.ListPipelinesRequest(), timeout=5).pipelines if p.is_default
    ]
    assert [p.id for p in defaults] == [made.id]


def test_a_stage_with_deals_is_deleted_only_by_moving_them(world: DealsWorld) -> None:
    pipeline = world.default_pipeline()
    first, second, won = pipeline.stages[0], pipeline.stages[1], pipeline.stages[4]
    client = world.client()
    deals = [world.create(client.id, f"Negocio {i}") for i in range(3)]
    before = world.rows()
    info = _error(world.stub.DeleteStage, deals_pb2.DeleteStageRequest(pipeline_id=pipeline.id, stage_id=first.id))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "stage_has_deals"
    assert info.metadata["deal_count"] == "3"
    info = _error(
        world.stub.DeleteStage,
        deals_pb2.DeleteStageRequest(pipeline_id=pipeline.id, stage_id=first.id, move_deals_to_stage_id=won.id),
    )
    assert info.reason == "stage_not_open"
    info = _error(world.stub.DeleteStage, deals_pb2.DeleteStageRequest(pipeline_id=pipeline.id, stage_id=won.id))
    assert info.reason == "stage_not_open"
    info = _error(world.stub.DeletePipeline, deals_pb2.DeletePipelineRequest(id=pipeline.id))
    assert info.reason == "default_pipeline"
    assert world.rows() == before

    res = world.stub.DeleteStage(
        deals_pb2.DeleteStageRequest(
            pipeline_id=pipeline.id, stage_id=first.id, move_deals_to_stage_id=second.id, expected_version=1
        ),
        timeout=5,
    )
    assert res.moved_deal_count == 3 and first.id not in [s.id for s in res.pipeline.stages]
    for deal in deals:
        now = world.stub.GetDeal(deals_pb2.GetDealRequest(id=deal.id), timeout=5).deal
        assert now.stage_id == second.id and now.probability == second.default_probability and now.version == 2
        assert [(h.from_stage_id, h.to_stage_id) for h in now.stage_history] == [("", first.id), (first.id, second.id)]
    event = wait_for_event(world.nats_url, events_pb2.DealStageChanged, lambda e: e.deal.id == deals[2].id)
    assert event.from_stage_id == first.id and event.to_stage_id == second.id


def test_only_an_empty_non_default_pipeline_can_be_deleted(world: DealsWorld) -> None:
    made = world.stub.CreatePipeline(
        deals_pb2.CreatePipelineRequest(pipeline=deals_pb2.Pipeline(name="Temporal")), timeout=5
    ).pipeline
    deal = world.create(world.client().id, pipeline_id=made.id)
    assert deal.stage_id == made.stages[0].id
    info = _error(world.stub.DeletePipeline, deals_pb2.DeletePipelineRequest(id=made.id))
    assert info.reason == "pipeline_has_deals"
    world.stub.DeleteDeal(deals_pb2.DeleteDealRequest(id=deal.id), timeout=5)
    world.stub.DeletePipeline(deals_pb2.DeletePipelineRequest(id=made.id), timeout=5)
    info = _error(world.stub.GetPipeline, deals_pb2.GetPipelineRequest(id=made.id))
    assert info.code == grpc.StatusCode.NOT_FOUND and info.reason == "pipeline_not_found"
    event = wait_for_event(world.nats_url, events_pb2.PipelineDeleted, lambda e: e.pipeline.id == made.id)
    assert event.pipeline.name == "Temporal"
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(title="x", client_id=world.client().id, owner_id=deal.owner_id, pipeline_id=made.id)
        ),
    )
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "pipeline_not_found"
