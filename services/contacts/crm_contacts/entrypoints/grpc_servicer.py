"""The ContactsService gRPC servicer: turns requests into domain values (through contract), calls
the use cases and builds the responses; the idempotent creates run here through run_once. RPCs of the
contacts issue that are not built yet answer UNIMPLEMENTED (the generated base class does)."""

from __future__ import annotations

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.contract.convert import (
    client_from_proto,
    client_kind_from_proto,
    client_to_proto,
    contact_from_proto,
    contact_to_proto,
    decision_role_from_proto,
    import_format_from_proto,
    import_kind_from_proto,
    import_report_to_proto,
    prospect_from_proto,
    prospect_source_from_proto,
    prospect_status_from_proto,
    prospect_to_proto,
)
from crm_contacts.domain.conversion import deal_request
from crm_contacts.domain.importing import ImportOptions
from crm_contacts.service_layer import clients, contacts, conversions, prospects
from crm_contacts.service_layer.imports import import_records
from crm_platform import import_files
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import InvalidArgument
from crm_platform.idempotency import run_once
from crm_platform.listing import owner_filter
from crm_platform.protoconv import time_from_proto


class ContactsServicer(contacts_pb2_grpc.ContactsServiceServicer):
    def __init__(self, db: Database):
        self.db = db

    def CreateClient(
        self, request: contacts_pb2.CreateClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.CreateClientResponse:
        draft = client_from_proto(request.client)

        def create(uow: UnitOfWork) -> contacts_pb2.CreateClientResponse:
            client = clients.create_client(uow, draft, force_duplicate=request.force_duplicate)
            return contacts_pb2.CreateClientResponse(client=client_to_proto(client))

        return run_once(self.db, clients.CREATE_SCOPE, request.request_id, contacts_pb2.CreateClientResponse, create)

    def GetClient(
        self, request: contacts_pb2.GetClientRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.GetClientResponse:
        return contacts_pb2.GetClientResponse(client=client_to_proto(clients.get_client(self.db, request.id)))

    def BatchGetClients(
        self, request: contacts_pb2.BatchGetClientsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.BatchGetClientsResponse:
        found, missing = clients.batch_get_clients(self.db, list(request.ids))
        return contacts_pb2.BatchGetClientsResponse(clients=[client_to_proto(c) for c in found], missing_ids=missing)

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
            industry=request.industry,
            source=request.source,
            kind=client_kind_from_proto(request.kind),
            created_after=time_from_proto(request, "created_after"),
            created_before=time_from_proto(request, "created_before"),
        )
        page = clients.list_clients(
            self.db, filters, request.page_size, request.page_token, include_total_size=request.include_total_size
        )
        return contacts_pb2.ListClientsResponse(
            clients=[client_to_proto(c) for c in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

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
        draft = prospect_from_proto(request.prospect)

        def create(uow: UnitOfWork) -> contacts_pb2.CreateProspectResponse:
            prospect = prospects.create_prospect(uow, draft, force_duplicate=request.force_duplicate)
            return contacts_pb2.CreateProspectResponse(prospect=prospect_to_proto(prospect))

        return run_once(
            self.db, prospects.CREATE_SCOPE, request.request_id, contacts_pb2.CreateProspectResponse, create
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
            include_archived=request.include_archived,
            city=request.city,
            country_code=request.country_code,
            industry=request.industry,
            created_after=time_from_proto(request, "created_after"),
            created_before=time_from_proto(request, "created_before"),
        )
        page = prospects.list_prospects(
            self.db, filters, request.page_size, request.page_token, include_total_size=request.include_total_size
        )
        return contacts_pb2.ListProspectsResponse(
            prospects=[prospect_to_proto(p) for p in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

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

    def ArchiveProspect(
        self, request: contacts_pb2.ArchiveProspectRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ArchiveProspectResponse:
        archived = prospects.archive_prospect(self.db, request.id)
        return contacts_pb2.ArchiveProspectResponse(prospect=prospect_to_proto(archived))

    def ConvertProspect(
        self, request: contacts_pb2.ConvertProspectRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ConvertProspectResponse:
        deal = deal_request(
            request.open_deal, request.deal_title, request.deal_amount.amount, request.deal_amount.currency_code
        )
        done = conversions.convert_prospect(
            self.db, request.prospect_id, reuse_matching_client=request.reuse_matching_client, deal=deal
        )
        return contacts_pb2.ConvertProspectResponse(
            client=client_to_proto(done.client),
            contact=contact_to_proto(done.contact) if done.contact else None,
            prospect=prospect_to_proto(done.prospect),
            client_created=done.client_created,
            converted_now=done.converted_now,
        )

    def CreateContact(
        self, request: contacts_pb2.CreateContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.CreateContactResponse:
        draft = contact_from_proto(request.contact)

        def create(uow: UnitOfWork) -> contacts_pb2.CreateContactResponse:
            contact = contacts.create_contact(uow, draft, force_duplicate=request.force_duplicate)
            return contacts_pb2.CreateContactResponse(contact=contact_to_proto(contact))

        return run_once(self.db, contacts.CREATE_SCOPE, request.request_id, contacts_pb2.CreateContactResponse, create)

    def GetContact(
        self, request: contacts_pb2.GetContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.GetContactResponse:
        return contacts_pb2.GetContactResponse(contact=contact_to_proto(contacts.get_contact(self.db, request.id)))

    def BatchGetContacts(
        self, request: contacts_pb2.BatchGetContactsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.BatchGetContactsResponse:
        found, missing = contacts.batch_get_contacts(self.db, list(request.ids))
        return contacts_pb2.BatchGetContactsResponse(contacts=[contact_to_proto(c) for c in found], missing_ids=missing)

    def ListContacts(
        self, request: contacts_pb2.ListContactsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ListContactsResponse:
        filters = contacts.ContactFilters(
            query=request.query,
            client_id=request.client_id,
            owner_ids=owner_filter(request.owner_ids),
            decision_role=decision_role_from_proto(request.decision_role),
            include_archived=request.include_archived,
            created_after=time_from_proto(request, "created_after"),
            created_before=time_from_proto(request, "created_before"),
        )
        page = contacts.list_contacts(
            self.db, filters, request.page_size, request.page_token, include_total_size=request.include_total_size
        )
        return contacts_pb2.ListContactsResponse(
            contacts=[contact_to_proto(c) for c in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    def UpdateContact(
        self, request: contacts_pb2.UpdateContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.UpdateContactResponse:
        contact = contacts.update_contact(
            self.db,
            contact_from_proto(request.contact),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
        )
        return contacts_pb2.UpdateContactResponse(contact=contact_to_proto(contact))

    def ArchiveContact(
        self, request: contacts_pb2.ArchiveContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ArchiveContactResponse:
        archived = contacts.archive_contact(self.db, request.id)
        return contacts_pb2.ArchiveContactResponse(contact=contact_to_proto(archived))

    def DeleteContact(
        self, request: contacts_pb2.DeleteContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.DeleteContactResponse:
        contacts.delete_contact(self.db, request.id)
        return contacts_pb2.DeleteContactResponse()

    def ImportRecords(
        self, request: contacts_pb2.ImportRecordsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ImportRecordsResponse:
        """The request's kind, format and options checked, the file imported, the report as the
        response."""
        kind = import_kind_from_proto(request.kind)
        if kind is None:
            raise InvalidArgument.field("kind", "must be clients, contacts or prospects")
        file_format = import_format_from_proto(request.format)
        if request.format and file_format is None:
            raise InvalidArgument.field("format", f"unknown import format {request.format}")
        options = ImportOptions(
            default_owner_id=request.default_owner_id.strip(),
            allowed_owner_ids=frozenset(request.allowed_owner_ids),
            default_source=prospect_source_from_proto(request.default_source, "default_source"),
            source_campaign_id=request.source_campaign_id.strip(),
        )
        file_format = file_format or import_files.detect_format(request.content, request.file_name)
        report = import_records(self.db, kind, request.content, file_format, options, dry_run=request.dry_run)
        return import_report_to_proto(report, dry_run=request.dry_run)
