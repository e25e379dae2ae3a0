"""The DealsService gRPC servicer: translates messages and calls the use cases. The pipeline and
deal RPCs are here; the activity RPCs come from ActivityRpcs."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_deals.adapters.catalogue import Catalogue
from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_deals.contract.convert import (
    deal_from_proto,
    deal_status_from_proto,
    deal_view_to_proto,
    pipeline_from_proto,
    pipeline_to_proto,
    product_figures_to_proto,
    stage_from_proto,
    stage_to_proto,
)
from crm_deals.entrypoints.activity_rpcs import ActivityRpcs
from crm_deals.service_layer import deals, pipelines
from crm_deals.service_layer.deals import DealFilters, References
from crm_deals.service_layer.pipelines import Clock, utc_now
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.idempotency import remembered, run_once
from crm_platform.listing import owner_filter
from crm_platform.protoconv import date_from_proto

# An alias (not a variable): grpc has no type information, so mypy needs to be told.
Ctx: TypeAlias = grpc.ServicerContext


class DealsServicer(ActivityRpcs, deals_pb2_grpc.DealsServiceServicer):
    def __init__(
        self,
        db: Database,
        directory: ContactsDirectory,
        catalogue: Catalogue,
        *,
        default_currency: str = "COP",
        clock: Clock = utc_now,
    ):
        self.db = db
        self.directory = directory
        self.refs = References(directory, catalogue)
        self.default_currency = default_currency
        self.clock = clock

    # --- Pipelines ---------------------------------------------------------------------------

    def GetPipeline(self, request: deals_pb2.GetPipelineRequest, context: Ctx) -> deals_pb2.GetPipelineResponse:
        return deals_pb2.GetPipelineResponse(pipeline=pipeline_to_proto(pipelines.get_pipeline(self.db, request.id)))

    def ListPipelines(self, request: deals_pb2.ListPipelinesRequest, context: Ctx) -> deals_pb2.ListPipelinesResponse:
        page = pipelines.list_pipelines(self.db, request.page_size, request.page_token)
        return deals_pb2.ListPipelinesResponse(
            pipelines=[pipeline_to_proto(p) for p in page.items], next_page_token=page.next_page_token
        )

    def CreatePipeline(
        self, request: deals_pb2.CreatePipelineRequest, context: Ctx
    ) -> deals_pb2.CreatePipelineResponse:
        draft = pipeline_from_proto(request.pipeline)
        return run_once(
            self.db,
            "CreatePipeline",
            request.request_id,
            deals_pb2.CreatePipelineResponse,
            lambda uow: deals_pb2.CreatePipelineResponse(
                pipeline=pipeline_to_proto(pipelines.create_pipeline(uow, draft, self.clock))
            ),
        )

    def UpdatePipeline(
        self, request: deals_pb2.UpdatePipelineRequest, context: Ctx
    ) -> deals_pb2.UpdatePipelineResponse:
        pipeline = pipelines.update_pipeline(
            self.db,
            pipeline_from_proto(request.pipeline),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
            now=self.clock,
        )
        return deals_pb2.UpdatePipelineResponse(pipeline=pipeline_to_proto(pipeline))

    def DeletePipeline(
        self, request: deals_pb2.DeletePipelineRequest, context: Ctx
    ) -> deals_pb2.DeletePipelineResponse:
        pipelines.delete_pipeline(self.db, request.id)
        return deals_pb2.DeletePipelineResponse()

    def AddStage(self, request: deals_pb2.AddStageRequest, context: Ctx) -> deals_pb2.AddStageResponse:
        stage = stage_from_proto(request.stage)

        def add(uow: UnitOfWork) -> deals_pb2.AddStageResponse:
            pipeline, added = pipelines.add_stage(
                uow,
                request.pipeline_id,
                stage,
                request.before_stage_id,
                expected_version=request.expected_version,
                now=self.clock,
            )
            return deals_pb2.AddStageResponse(pipeline=pipeline_to_proto(pipeline), stage=stage_to_proto(added))

        return run_once(self.db, "AddStage", request.request_id, deals_pb2.AddStageResponse, add)

    def UpdateStage(self, request: deals_pb2.UpdateStageRequest, context: Ctx) -> deals_pb2.UpdateStageResponse:
        pipeline = pipelines.update_stage(
            self.db,
            request.pipeline_id,
            stage_from_proto(request.stage),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
            now=self.clock,
        )
        return deals_pb2.UpdateStageResponse(pipeline=pipeline_to_proto(pipeline))

    def ReorderStages(self, request: deals_pb2.ReorderStagesRequest, context: Ctx) -> deals_pb2.ReorderStagesResponse:
        pipeline = pipelines.reorder_stages(
            self.db,
            request.pipeline_id,
            list(request.stage_ids),
            expected_version=request.expected_version,
            now=self.clock,
        )
        return deals_pb2.ReorderStagesResponse(pipeline=pipeline_to_proto(pipeline))

    def DeleteStage(self, request: deals_pb2.DeleteStageRequest, context: Ctx) -> deals_pb2.DeleteStageResponse:
        pipeline, moved = pipelines.delete_stage(
            self.db,
            request.pipeline_id,
            request.stage_id,
            request.move_deals_to_stage_id,
            expected_version=request.expected_version,
            now=self.clock,
        )
        return deals_pb2.DeleteStageResponse(pipeline=pipeline_to_proto(pipeline), moved_deal_count=moved)

    # --- Deals -------------------------------------------------------------------------------

    def GetDeal(self, request: deals_pb2.GetDealRequest, context: Ctx) -> deals_pb2.GetDealResponse:
        return deals_pb2.GetDealResponse(deal=deal_view_to_proto(deals.get_deal(self.db, request.id, self.clock)))

    def ListDeals(self, request: deals_pb2.ListDealsRequest, context: Ctx) -> deals_pb2.ListDealsResponse:
        filters = DealFilters(
            query=request.query[:200],
            owner_ids=owner_filter(list(request.owner_ids)),
            pipeline_id=request.pipeline_id,
            stage_id=request.stage_id,
            status=deal_status_from_proto(request.status),
            client_id=request.client_id,
            contact_id=request.contact_id,
            product_id=request.product_id,
            source_campaign_id=request.source_campaign_id,
            expected_close_from=date_from_proto(request, "expected_close_from"),
            expected_close_to=date_from_proto(request, "expected_close_to"),
        )
        items, token, total = deals.list_deals(
            self.db,
            filters,
            request.page_size,
            request.page_token,
            self.clock,
            include_total_size=request.include_total_size,
        )
        return deals_pb2.ListDealsResponse(
            deals=[deal_view_to_proto(v) for v in items], next_page_token=token, total_size=total
        )

    def CreateDeal(self, request: deals_pb2.CreateDealRequest, context: Ctx) -> deals_pb2.CreateDealResponse:
        draft = deal_from_proto(request.deal, self.default_currency)
        if request.request_id:  # a retry is answered before any remote check
            with self.db.read() as session:
                earlier = remembered(session, "CreateDeal", request.request_id, deals_pb2.CreateDealResponse)
            if earlier is not None:
                return earlier
        checked = deals.checked_new_deal(self.refs, draft)
        actor = current_actor()
        return run_once(
            self.db,
            "CreateDeal",
            request.request_id,
            deals_pb2.CreateDealResponse,
            lambda uow: deals_pb2.CreateDealResponse(
                deal=deal_view_to_proto(deals.create_deal(uow, checked, actor, self.clock))
            ),
        )

    def UpdateDeal(self, request: deals_pb2.UpdateDealRequest, context: Ctx) -> deals_pb2.UpdateDealResponse:
        deal = deals.update_deal(
            self.db,
            self.refs,
            deal_from_proto(request.deal, ""),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
            now=self.clock,
        )
        return deals_pb2.UpdateDealResponse(deal=deal_view_to_proto(deal))

    def DeleteDeal(self, request: deals_pb2.DeleteDealRequest, context: Ctx) -> deals_pb2.DeleteDealResponse:
        deals.delete_deal(self.db, request.id)
        return deals_pb2.DeleteDealResponse()

    def MoveDeal(self, request: deals_pb2.MoveDealRequest, context: Ctx) -> deals_pb2.MoveDealResponse:
        deal = deals.move_deal(
            self.db,
            request.deal_id,
            request.stage_id,
            request.keep_probability,
            expected_version=request.expected_version,
            now=self.clock,
            allowed_owner_ids=frozenset(request.allowed_owner_ids),
        )
        return deals_pb2.MoveDealResponse(deal=deal_view_to_proto(deal))

    def WinDeal(self, request: deals_pb2.WinDealRequest, context: Ctx) -> deals_pb2.WinDealResponse:
        deal = deals.win_deal(
            self.db,
            request.deal_id,
            expected_version=request.expected_version,
            now=self.clock,
            allowed_owner_ids=frozenset(request.allowed_owner_ids),
        )
        return deals_pb2.WinDealResponse(deal=deal_view_to_proto(deal))

    def LoseDeal(self, request: deals_pb2.LoseDealRequest, context: Ctx) -> deals_pb2.LoseDealResponse:
        deal = deals.lose_deal(
            self.db,
            request.deal_id,
            request.reason,
            expected_version=request.expected_version,
            now=self.clock,
            allowed_owner_ids=frozenset(request.allowed_owner_ids),
        )
        return deals_pb2.LoseDealResponse(deal=deal_view_to_proto(deal))

    def ReopenDeal(self, request: deals_pb2.ReopenDealRequest, context: Ctx) -> deals_pb2.ReopenDealResponse:
        deal = deals.reopen_deal(
            self.db,
            request.deal_id,
            request.stage_id,
            expected_version=request.expected_version,
            now=self.clock,
            allowed_owner_ids=frozenset(request.allowed_owner_ids),
        )
        return deals_pb2.ReopenDealResponse(deal=deal_view_to_proto(deal))

    def BatchGetProductDealFigures(
        self, request: deals_pb2.BatchGetProductDealFiguresRequest, context: Ctx
    ) -> deals_pb2.BatchGetProductDealFiguresResponse:
        return deals_pb2.BatchGetProductDealFiguresResponse(
            figures=[
                product_figures_to_proto(product_id, figures)
                for product_id, figures in deals.product_figures(
                    self.db, list(request.product_ids), list(request.owner_ids)
                )
            ]
        )
