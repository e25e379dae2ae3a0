"""The DealsService gRPC servicer: translates messages and calls the use cases. The pipeline and
deal RPCs are here; the activity RPCs come from ActivityRpcs."""

from __future__ import annotations

from crm.deals.v1 import deals_pb2_grpc
from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_deals.entrypoints.activity_rpcs import ActivityRpcs
from crm_platform.db import Database


class DealsServicer(ActivityRpcs, deals_pb2_grpc.DealsServiceServicer):
    def __init__(self, db: Database, directory: ContactsDirectory):
        self.db = db
        self.directory = directory
