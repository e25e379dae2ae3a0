"""The ContactsService gRPC servicer: translates messages and calls the use cases. RPCs of the
contacts issue that are not built yet answer UNIMPLEMENTED (the generated base class does)."""

from __future__ import annotations

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.domain.common import owner_filter
from crm_contacts.entrypoints.convert import (
    client_from_proto,
    client_to_proto,
    prospect_from_proto,
    prospect_source_from_proto,
    prospect_status_from_proto,
    prospect_to_proto,
)
from crm_contacts.service_layer import clients, prospects
from crm_platform.db import Database


class ContactsServicer(contacts_pb2_grpc.ContactsServiceServicer):
    def __init__(self, db: Database):
        self.db = db

    def CreateClient(
        self, request: contacts_pb2.CreateClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.CreateClientResponse:
        return clients.create_client(
            self.db,
            client_from_proto(request.client),
            request_id=request.request_id,
            force_duplicate=request.force_duplicate,
        )

    def GetClient(
        self, request: contacts_pb2.GetClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.GetClientResponse:
        return contacts_pb2.GetClientResponse(client=client_to_proto(clients.get_client(self.db, request.id)))

    def ListClients(
        self, request: contacts_pb2.ListClientsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ListClientsResponse:
        filters = clients.ClientFilters(
            query=request.query,
            owner_ids=owner_filter(request.owner_ids),
            segment_tag=request.segment_tag,
            city=request.city,
            country_code=request.country_code,
            include_archived=request.include_archived,
        )
        rows, token = clients.list_clients(self.db, filters, request.page_size, request.page_token)
        return contacts_pb2.ListClientsResponse(clients=[client_to_proto(c) for c in rows], next_page_token=token)

    def UpdateClient(
        self, request: contacts_pb2.UpdateClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.UpdateClientResponse:
        client = clients.update_client(
            self.db,
            client_from_proto(request.client, default_kind=None),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
        )
        return contacts_pb2.UpdateClientResponse(client=client_to_proto(client))

    def ArchiveClient(
        self, request: contacts_pb2.ArchiveClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ArchiveClientResponse:
        return contacts_pb2.ArchiveClientResponse(client=client_to_proto(clients.archive_client(self.db, request.id)))

    def DeleteClient(
        self, request: contacts_pb2.DeleteClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.DeleteClientResponse:
        clients.delete_client(self.db, request.id)
        return contacts_pb2.DeleteClientResponse()

    def CreateProspect(
        self, request: contacts_pb2.CreateProspectRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.CreateProspectResponse:
        return prospects.create_prospect(
            self.db,
            prospect_from_proto(request.prospect),
            request_id=request.request_id,
            force_duplicate=request.force_duplicate,
        )

    def GetProspect(
        self, request: contacts_pb2.GetProspectRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.GetProspectResponse:
        return contacts_pb2.GetProspectResponse(prospect=prospect_to_proto(prospects.get_prospect(self.db, request.id)))

    def ListProspects(
        self, request: contacts_pb2.ListProspectsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ListProspectsResponse:
        filters = prospects.ProspectFilters(
            query=request.query,
            owner_ids=owner_filter(request.owner_ids),
            status=prospect_status_from_proto(request.status),
            source=prospect_source_from_proto(request.source),
            source_campaign_id=request.source_campaign_id,
        )
        rows, token = prospects.list_prospects(self.db, filters, request.page_size, request.page_token)
        return contacts_pb2.ListProspectsResponse(prospects=[prospect_to_proto(p) for p in rows], next_page_token=token)

    def UpdateProspect(
        self, request: contacts_pb2.UpdateProspectRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.UpdateProspectResponse:
        prospect = prospects.update_prospect(
            self.db,
            prospect_from_proto(request.prospect),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
        )
        return contacts_pb2.UpdateProspectResponse(prospect=prospect_to_proto(prospect))

    def DeleteProspect(
        self, request: contacts_pb2.DeleteProspectRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.DeleteProspectResponse:
        prospects.delete_prospect(self.db, request.id)
        return contacts_pb2.DeleteProspectResponse()
