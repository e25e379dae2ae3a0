"""The CampaignsService gRPC servicer: translates messages and calls the use cases."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import campaigns_pb2_grpc
from crm_campaigns.domain.campaigns import Campaign
from crm_campaigns.entrypoints import convert
from crm_campaigns.service_layer import calls, leads, mailing
from crm_campaigns.service_layer import campaigns as uc
from crm_campaigns.service_layer.campaigns import Campaigns
from crm_campaigns.service_layer.mailing import Providers
from crm_platform.errors import InvalidArgument
from crm_platform.listing import owner_filter
from crm_platform.protoconv import date_from_proto

Ctx: TypeAlias = grpc.ServicerContext


class CampaignsServicer(campaigns_pb2_grpc.CampaignsServiceServicer):
    def __init__(self, w: Campaigns, providers: Providers):
        self.w = w
        self.providers = providers

    def _draft(self, message: pb.Campaign) -> Campaign:
        return convert.campaign_from_proto(message, self.w.settings.default_currency)

    def GetCampaign(self, request: pb.GetCampaignRequest, context: Ctx) -> pb.GetCampaignResponse:
        return pb.GetCampaignResponse(campaign=uc.get_campaign(self.w, request.id))

    def ListCampaigns(self, request: pb.ListCampaignsRequest, context: Ctx) -> pb.ListCampaignsResponse:
        ctype = convert.TYPES.from_proto(request.type, "type")
        status = convert.STATUSES.from_proto(request.status, "status")
        filters = {
            "query": request.query.strip(),
            "owner_ids": owner_filter(list(request.owner_ids)),
            "type": ctype.value if ctype else "",
            "status": status.value if status else "",
            "active_on": date_from_proto(request, "active_on"),
            "member_rep_id": request.member_rep_id,
        }
        items, token = uc.list_campaigns(self.w, filters, request.page_size, request.page_token)
        return pb.ListCampaignsResponse(campaigns=items, next_page_token=token)

    def CreateCampaign(self, request: pb.CreateCampaignRequest, context: Ctx) -> pb.CreateCampaignResponse:
        return uc.create_campaign(
            self.w, self._draft(request.campaign), request.request_id, tuple(request.allowed_owner_ids)
        )

    def UpdateCampaign(self, request: pb.UpdateCampaignRequest, context: Ctx) -> pb.UpdateCampaignResponse:
        paths = list(request.update_mask.paths)
        message = pb.Campaign()
        message.CopyFrom(request.campaign)
        if not message.type and "type" not in paths and "*" not in paths:
            message.type = pb.CAMPAIGN_TYPE_MAILING  # a stand-in: only the masked fields apply
        draft = self._draft(message)
        c = uc.update_campaign(self.w, draft, paths, request.expected_version, tuple(request.allowed_owner_ids))
        return pb.UpdateCampaignResponse(campaign=c)

    def DeleteCampaign(self, request: pb.DeleteCampaignRequest, context: Ctx) -> pb.DeleteCampaignResponse:
        uc.delete_campaign(self.w, request.id)
        return pb.DeleteCampaignResponse()

    def LaunchCampaign(self, request: pb.LaunchCampaignRequest, context: Ctx) -> pb.LaunchCampaignResponse:
        return uc.launch_campaign(
            self.w,
            request.campaign_id,
            list(request.rep_ids),
            request.expected_version,
            tuple(request.allowed_owner_ids),
        )

    def CompleteCampaign(self, request: pb.CompleteCampaignRequest, context: Ctx) -> pb.CompleteCampaignResponse:
        return pb.CompleteCampaignResponse(
            campaign=uc.complete_campaign(self.w, request.campaign_id, request.expected_version)
        )

    def CancelCampaign(self, request: pb.CancelCampaignRequest, context: Ctx) -> pb.CancelCampaignResponse:
        return pb.CancelCampaignResponse(
            campaign=uc.cancel_campaign(self.w, request.campaign_id, request.reason, request.expected_version)
        )

    def BatchGetCampaigns(self, request: pb.BatchGetCampaignsRequest, context: Ctx) -> pb.BatchGetCampaignsResponse:
        return uc.batch_get(self.w, list(request.ids))

    def ListMembers(self, request: pb.ListMembersRequest, context: Ctx) -> pb.ListMembersResponse:
        items, token = uc.list_members(self.w, request)
        return pb.ListMembersResponse(members=items, next_page_token=token)

    def PreviewSegment(self, request: pb.PreviewSegmentRequest, context: Ctx) -> pb.PreviewSegmentResponse:
        return uc.preview_segment(self.w, request.campaign_id, tuple(request.allowed_owner_ids), request.sample_size)

    def SendTestMail(self, request: pb.SendTestMailRequest, context: Ctx) -> pb.SendTestMailResponse:
        sent = mailing.send_test_mail(self.w, self.providers, request.campaign_id, list(request.emails))
        return pb.SendTestMailResponse(sent_count=sent)

    def SendMailing(self, request: pb.SendMailingRequest, context: Ctx) -> pb.SendMailingResponse:
        return mailing.queue_mailing(self.w, self.providers, request.campaign_id, request.request_id)

    def RecordMailEvent(self, request: pb.RecordMailEventRequest, context: Ctx) -> pb.RecordMailEventResponse:
        return pb.RecordMailEventResponse(member=mailing.record_mail_event(self.w, request))

    def RecordCallOutcome(self, request: pb.RecordCallOutcomeRequest, context: Ctx) -> pb.RecordCallOutcomeResponse:
        return calls.record_call(self.w, request)

    def CaptureLead(self, request: pb.CaptureLeadRequest, context: Ctx) -> pb.CaptureLeadResponse:
        secret = request.webhook_secret if request.webhook_secret else None
        return leads.capture_lead(
            self.w, request.campaign_id, request.lead, request.owner_id, request.request_id, secret
        )

    def BatchCaptureLeads(self, request: pb.BatchCaptureLeadsRequest, context: Ctx) -> pb.BatchCaptureLeadsResponse:
        secret = request.webhook_secret if request.webhook_secret else None
        return leads.batch_capture(
            self.w, request.campaign_id, list(request.leads), request.owner_id, request.request_id, secret
        )

    def ImportLeads(self, request: pb.ImportLeadsRequest, context: Ctx) -> pb.ImportLeadsResponse:
        return leads.import_leads(self.w, request)

    def RecordSpend(self, request: pb.RecordSpendRequest, context: Ctx) -> pb.RecordSpendResponse:
        return uc.record_spend(
            self.w,
            request.campaign_id,
            date_from_proto(request, "spend_date"),
            request.amount if request.HasField("amount") else None,
            request.description,
            request.request_id,
        )

    def GetCampaignResults(self, request: pb.GetCampaignResultsRequest, context: Ctx) -> pb.GetCampaignResultsResponse:
        return pb.GetCampaignResultsResponse(results=uc.campaign_results(self.w, request.campaign_id))

    def Unsubscribe(self, request: pb.UnsubscribeRequest, context: Ctx) -> pb.UnsubscribeResponse:
        if not request.token:
            raise InvalidArgument.field("token", "is required")
        return mailing.unsubscribe(self.w, request.token)

    def RefreshMailReport(self, request: pb.RefreshMailReportRequest, context: Ctx) -> pb.RefreshMailReportResponse:
        return pb.RefreshMailReportResponse(
            recorded_count=mailing.refresh_report(self.w, self.providers, request.campaign_id)
        )
