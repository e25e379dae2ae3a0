"""The ContactsService gRPC servicer: translates messages and calls the use cases. RPCs of the
contacts issue that are not built yet answer UNIMPLEMENTED (the generated base class does)."""

from __future__ import annotations

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.entrypoints.convert import client_from_proto, client_to_proto
from crm_contacts.service_layer import clients
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
            owner_id=request.owner_id,
            segment_tag=request.segment_tag,
            city=request.city,
            country_code=request.country_code,
            include_archived=request.include_archived,
        )
        rows, token = clients.list_clients(self.db, filters, request.page_size, request.page_token)
        return contacts_pb2.ListClientsResponse(clients=[client_to_proto(c) for c in rows], next_page_token=token)
