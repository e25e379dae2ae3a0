"""The activity RPCs of DealsService (GetActivity, ListActivities, CreateActivity, UpdateActivity,
DeleteActivity, CompleteActivity, CancelActivity): translate messages and call the activity use
cases. Mixed into DealsServicer (entrypoints/grpc_servicer.py)."""

from __future__ import annotations

import grpc

from crm.deals.v1 import deals_pb2
from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_deals.contract.activity_convert import (
    activity_from_proto,
    activity_to_proto,
    due_filter_from_proto,
    kind_from_proto,
    status_from_proto,
)
from crm_deals.service_layer import activities
from crm_platform.db import Database
from crm_platform.idempotency import remembered, run_once
from crm_platform.listing import owner_filter
from crm_platform.protoconv import time_from_proto


class ActivityRpcs:
    db: Database
    directory: ContactsDirectory

    def GetActivity(
        self, request: deals_pb2.GetActivityRequest, context: grpc.ServicerContext
    ) -> deals_pb2.GetActivityResponse:
        return deals_pb2.GetActivityResponse(activity=activity_to_proto(activities.get_activity(self.db, request.id)))

    def ListActivities(
        self, request: deals_pb2.ListActivitiesRequest, context: grpc.ServicerContext
    ) -> deals_pb2.ListActivitiesResponse:
        filters = activities.ActivityFilters(
            query=request.query,
            owner_ids=owner_filter(request.owner_ids),
            kind=kind_from_proto(request.kind),
            status=status_from_proto(request.status),
            due=due_filter_from_proto(request.due),
            deal_id=request.deal_id,
            client_id=request.client_id,
            contact_id=request.contact_id,
            prospect_id=request.prospect_id,
            campaign_id=request.campaign_id,
            due_after=time_from_proto(request, "due_after"),
            due_before=time_from_proto(request, "due_before"),
        )
        page = activities.list_activities(self.db, filters, request.page_size, request.page_token)
        return deals_pb2.ListActivitiesResponse(
            activities=[activity_to_proto(a) for a in page.items], next_page_token=page.next_page_token
        )

    def CreateActivity(
        self, request: deals_pb2.CreateActivityRequest, context: grpc.ServicerContext
    ) -> deals_pb2.CreateActivityResponse:
        draft = activity_from_proto(request.activity)
        allowed = tuple(request.allowed_owner_ids)
        if request.request_id:  # a retry is answered without asking the contacts service again
            with self.db.read() as session:
                earlier = remembered(
                    session, activities.CREATE_SCOPE, request.request_id, deals_pb2.CreateActivityResponse
                )
            if earlier is not None:
                return earlier
        activity = activities.checked_new_activity(self.db, self.directory, draft, allowed_owner_ids=allowed)
        return run_once(
            self.db,
            activities.CREATE_SCOPE,
            request.request_id,
            deals_pb2.CreateActivityResponse,
            lambda uow: deals_pb2.CreateActivityResponse(
                activity=activity_to_proto(activities.create_activity(uow, activity, allowed_owner_ids=allowed))
            ),
        )

    def UpdateActivity(
        self, request: deals_pb2.UpdateActivityRequest, context: grpc.ServicerContext
    ) -> deals_pb2.UpdateActivityResponse:
        activity = activities.update_activity(
            self.db,
            self.directory,
            activity_from_proto(request.activity),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
            allowed_owner_ids=tuple(request.allowed_owner_ids),
        )
        return deals_pb2.UpdateActivityResponse(activity=activity_to_proto(activity))

    def DeleteActivity(
        self, request: deals_pb2.DeleteActivityRequest, context: grpc.ServicerContext
    ) -> deals_pb2.DeleteActivityResponse:
        activities.delete_activity(self.db, request.id)
        return deals_pb2.DeleteActivityResponse()

    def CompleteActivity(
        self, request: deals_pb2.CompleteActivityRequest, context: grpc.ServicerContext
    ) -> deals_pb2.CompleteActivityResponse:
        activity = activities.complete_activity(
            self.db,
            request.activity_id,
            request.outcome,
            time_from_proto(request, "done_time"),
            expected_version=request.expected_version,
        )
        return deals_pb2.CompleteActivityResponse(activity=activity_to_proto(activity))

    def CancelActivity(
        self, request: deals_pb2.CancelActivityRequest, context: grpc.ServicerContext
    ) -> deals_pb2.CancelActivityResponse:
        activity = activities.cancel_activity(
            self.db, request.activity_id, request.reason, expected_version=request.expected_version
        )
        return deals_pb2.CancelActivityResponse(activity=activity_to_proto(activity))
