"""/api/v1/pipelines: sales pipelines and their stages. Every signed-in user reads them (a board
shows them); managers and admins change them. Every change names the pipeline's version it read
through If-Match (its ETag), so two people rearranging one board do not undo each other."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, url_for
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_gateway.access import principal
from crm_gateway.api import ProblemError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.convert import ProtoJson, ProtoPage, page, to_json
from crm_gateway.deals import OptionalId
from crm_gateway.lists import Id, PageToken
from crm_gateway.routing import CHANGE, Resource
from crm_platform.grpc_client import stub

res = Resource("pipelines", "Pipelines", "Sales pipelines and their stages.")

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Probability = Annotated[int, Field(ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StageIn(_Strict):
    name: Name
    default_probability: Probability = 0
    kind: Literal["open", "won", "lost"] = "open"


class PipelineCreate(_Strict):
    """A new pipeline. With no stages it gets the default ones (Prospección, Calificación,
    Propuesta, Negociación); a won and a lost stage are added when none is given."""

    name: Name
    stages: Annotated[list[StageIn], Field(max_length=30)] = []
    is_default: bool = False
    win_on_quote_accepted: bool = Field(False, description="An accepted quote also wins its open deal.")


class PipelinePatch(_Strict):
    name: Name | None = None
    is_default: bool = Field(False, description="Make it the default pipeline (the former one stops being it).")
    win_on_quote_accepted: bool = False


class StageAdd(_Strict):
    name: Name
    default_probability: Probability = 0
    before_stage_id: OptionalId = Field("", description="An open stage; empty = after the last open stage.")


class StagePatch(_Strict):
    name: Name | None = None
    default_probability: Probability = 0


class ReorderIn(_Strict):
    stage_ids: Annotated[list[Id], Field(min_length=1, max_length=30, description="Every open stage, in order.")]


class StageDeleteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    move_deals_to_stage_id: OptionalId = Field("", description="Where the stage's deals go (required if any).")


class Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: Annotated[int, Field(ge=0, le=10_000)] = 0
    page_token: PageToken = ""


ONE = ProtoJson(deals_pb2.Pipeline)


def _stub() -> Any:
    return stub(deals_pb2_grpc.DealsServiceStub, "deals")


def _may_change() -> None:
    if principal().role not in ("admin", "manager"):
        raise ProblemError(403, "forbidden", "only managers and admins change pipelines")


def _current(pipeline_id: str) -> deals_pb2.Pipeline:
    return call("deals", _stub().GetPipeline, deals_pb2.GetPipelineRequest(id=pipeline_id)).pipeline


def _expected(pipeline_id: str) -> int:
    """The version to send: If-Match (412 when stale already), else the version just read."""
    return check_version(if_match(), _current(pipeline_id).version, "pipeline")


def _answer(pipeline: deals_pb2.Pipeline, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return respond(to_json(pipeline), status, {**etag(pipeline.version), **(headers or {})})


@res.route("GET", "/api/v1/pipelines", query=Paging, response=ProtoPage(deals_pb2.Pipeline))
def list_pipelines(query: Paging) -> Response:
    """List the pipelines, oldest first."""
    found = call(
        "deals",
        _stub().ListPipelines,
        deals_pb2.ListPipelinesRequest(page_size=query.page_size, page_token=query.page_token),
    )
    return respond(page(list(found.pipelines), found.next_page_token))


@res.route(
    "POST",
    "/api/v1/pipelines",
    body=PipelineCreate,
    response=ONE,
    status=201,
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_pipeline(body: PipelineCreate) -> Response:
    """Create a pipeline (managers and admins)."""
    _may_change()
    stages = [
        deals_pb2.Stage(
            name=s.name,
            default_probability=s.default_probability,
            kind=deals_pb2.StageKind.Value(f"STAGE_KIND_{s.kind.upper()}"),
        )
        for s in body.stages
    ]
    msg = deals_pb2.Pipeline(
        name=body.name, stages=stages, is_default=body.is_default, win_on_quote_accepted=body.win_on_quote_accepted
    )
    req = deals_pb2.CreatePipelineRequest(pipeline=msg, request_id=idempotency_key(principal().id))
    made = call("deals", _stub().CreatePipeline, req).pipeline
    return _answer(made, 201, {"Location": url_for("pipelines.get_pipeline", pipeline_id=made.id)})


@res.route("GET", "/api/v1/pipelines/<id:pipeline_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_pipeline(pipeline_id: str) -> Response:
    """Get a pipeline with its stages in board order."""
    return _answer(_current(pipeline_id))


@res.route("PATCH", "/api/v1/pipelines/<id:pipeline_id>", body=PipelinePatch, response=ONE, **CHANGE)
def update_pipeline(pipeline_id: str, body: PipelinePatch) -> Response:
    """Rename a pipeline, make it the default, or say whether accepted quotes win its deals."""
    _may_change()
    changed = body.model_dump(exclude_unset=True)
    if not changed:
        raise ProblemError(400, "empty_update", "name at least one field to change")
    req = deals_pb2.UpdatePipelineRequest(
        pipeline=deals_pb2.Pipeline(id=pipeline_id, **changed),
        update_mask=FieldMask(paths=sorted(changed)),
        expected_version=_expected(pipeline_id),
    )
    return _answer(call("deals", _stub().UpdatePipeline, req).pipeline)


@res.route("DELETE", "/api/v1/pipelines/<id:pipeline_id>", status=204, errors=(404,))
def delete_pipeline(pipeline_id: str) -> Response:
    """Delete a pipeline that has no deals and is not the default."""
    _may_change()
    call("deals", _stub().DeletePipeline, deals_pb2.DeletePipelineRequest(id=pipeline_id))
    return Response(status=204)


@res.route(
    "POST",
    "/api/v1/pipelines/<id:pipeline_id>/stages",
    body=StageAdd,
    response=ONE,
    status=201,
    errors=(404, 409, 412),
    request_headers=("If-Match", "Idempotency-Key"),
    response_headers=("ETag",),
)
def add_stage(pipeline_id: str, body: StageAdd) -> Response:
    """Add an open stage (before another open stage, or after the last one)."""
    _may_change()
    req = deals_pb2.AddStageRequest(
        pipeline_id=pipeline_id,
        stage=deals_pb2.Stage(name=body.name, default_probability=body.default_probability),
        before_stage_id=body.before_stage_id,
        expected_version=_expected(pipeline_id),
        request_id=idempotency_key(principal().id),
    )
    return _answer(call("deals", _stub().AddStage, req).pipeline, 201)


@res.route(
    "PATCH",
    "/api/v1/pipelines/<id:pipeline_id>/stages/<id:stage_id>",
    body=StagePatch,
    response=ONE,
    **CHANGE,
)
def update_stage(pipeline_id: str, stage_id: str, body: StagePatch) -> Response:
    """Rename a stage or change its default probability (deals already in it keep theirs)."""
    _may_change()
    changed = body.model_dump(exclude_unset=True)
    if not changed:
        raise ProblemError(400, "empty_update", "name at least one field to change")
    req = deals_pb2.UpdateStageRequest(
        pipeline_id=pipeline_id,
        stage=deals_pb2.Stage(id=stage_id, **changed),
        update_mask=FieldMask(paths=sorted(changed)),
        expected_version=_expected(pipeline_id),
    )
    return _answer(call("deals", _stub().UpdateStage, req).pipeline)


@res.route("POST", "/api/v1/pipelines/<id:pipeline_id>:reorderStages", body=ReorderIn, response=ONE, **CHANGE)
def reorder_stages(pipeline_id: str, body: ReorderIn) -> Response:
    """Put the open stages in a new order (every open stage once; won and lost stay last)."""
    _may_change()
    req = deals_pb2.ReorderStagesRequest(
        pipeline_id=pipeline_id, stage_ids=body.stage_ids, expected_version=_expected(pipeline_id)
    )
    return _answer(call("deals", _stub().ReorderStages, req).pipeline)


@res.route(
    "DELETE",
    "/api/v1/pipelines/<id:pipeline_id>/stages/<id:stage_id>",
    query=StageDeleteQuery,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag", "X-Moved-Deal-Count"),
)
def delete_stage(pipeline_id: str, stage_id: str, query: StageDeleteQuery) -> Response:
    """Delete an open stage; its deals move to move_deals_to_stage_id (each move in the deal's history)."""
    _may_change()
    req = deals_pb2.DeleteStageRequest(
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        move_deals_to_stage_id=query.move_deals_to_stage_id,
        expected_version=_expected(pipeline_id),
    )
    res_ = call("deals", _stub().DeleteStage, req)
    return _answer(res_.pipeline, headers={"X-Moved-Deal-Count": str(res_.moved_deal_count)})
