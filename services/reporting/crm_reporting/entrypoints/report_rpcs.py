"""The report RPCs of ReportingService (GetReportDefinition, ListReportDefinitions,
CreateReportDefinition, UpdateReportDefinition, DeleteReportDefinition, GetReportCatalogue, RunReport,
ExportReport, StreamExportReport). Mixed into ReportingServicer.

StreamExportReport is server-streaming, which the platform's server interceptor passes through
untouched: this method checks the internal token, sets the request id and actor, and turns a
CrmError into a status itself (before the first chunk; nothing is sent for a refused export)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeAlias

import grpc
from grpc_status import rpc_status

from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.config import platform_settings
from crm_platform.context import ACTOR_HEADER, REQUEST_ID_HEADER, actor_var, new_request_id, request_id_var
from crm_platform.db import Database
from crm_platform.errors import CrmError, FailedPrecondition, InvalidArgument
from crm_platform.grpc_server import INTERNAL_TOKEN_HEADER, status_for
from crm_platform.listing import owner_filter
from crm_reporting.adapters.report_definition_repository import DefinitionFilters
from crm_reporting.entrypoints import report_convert as convert
from crm_reporting.service_layer import reports
from crm_reporting.service_layer.reports import ExportFile

# grpc has no type information: its context is Any, named here for the signatures.
Ctx: TypeAlias = grpc.ServicerContext
# Chunks of a streamed export.
CHUNK_BYTES = 1024 * 1024
# ExportReport answers in one message: files larger than this must use StreamExportReport.
MAX_UNARY_EXPORT_BYTES = 3 * 1024 * 1024


class ReportRpcs:
    db: Database
    clock: Callable[[], datetime]

    # --- saved definitions ---------------------------------------------------------------

    def GetReportDefinition(
        self, request: pb.GetReportDefinitionRequest, context: Ctx
    ) -> pb.GetReportDefinitionResponse:
        report = reports.get_definition(self.db, request.id)
        return pb.GetReportDefinitionResponse(report_definition=convert.definition_to_proto(report))

    def ListReportDefinitions(
        self, request: pb.ListReportDefinitionsRequest, context: Ctx
    ) -> pb.ListReportDefinitionsResponse:
        module = convert.MODULE.from_proto(request.module, "module") or ""
        filters = DefinitionFilters(
            query=request.query,
            module=module,
            owner_ids=owner_filter(list(request.owner_ids)),
            include_shared=request.include_shared,
        )
        page = reports.list_definitions(self.db, filters, request.page_size, request.page_token)
        return pb.ListReportDefinitionsResponse(
            report_definitions=[convert.definition_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    def CreateReportDefinition(
        self, request: pb.CreateReportDefinitionRequest, context: Ctx
    ) -> pb.CreateReportDefinitionResponse:
        draft = convert.draft_from_proto(request.report_definition)
        return reports.create_definition(
            self.db,
            draft,
            request_id=request.request_id,
            now=self.clock,
            to_response=lambda r: pb.CreateReportDefinitionResponse(report_definition=convert.definition_to_proto(r)),
            response_class=pb.CreateReportDefinitionResponse,
        )

    def UpdateReportDefinition(
        self, request: pb.UpdateReportDefinitionRequest, context: Ctx
    ) -> pb.UpdateReportDefinitionResponse:
        paths = reports.UPDATABLE.check(list(request.update_mask.paths))
        draft = convert.lenient_draft_from_proto(request.report_definition, paths)
        report = reports.update_definition(
            self.db, draft, list(request.update_mask.paths), expected_version=request.expected_version, now=self.clock
        )
        return pb.UpdateReportDefinitionResponse(report_definition=convert.definition_to_proto(report))

    def DeleteReportDefinition(
        self, request: pb.DeleteReportDefinitionRequest, context: Ctx
    ) -> pb.DeleteReportDefinitionResponse:
        reports.delete_definition(self.db, request.id)
        return pb.DeleteReportDefinitionResponse()

    def GetReportCatalogue(self, request: pb.GetReportCatalogueRequest, context: Ctx) -> pb.GetReportCatalogueResponse:
        module = convert.MODULE.from_proto(request.module, "module")
        chosen = [convert.MODULES[module]] if module else list(convert.MODULES.values())
        return pb.GetReportCatalogueResponse(modules=[convert.module_fields_to_proto(m) for m in chosen])

    # --- running and exporting -----------------------------------------------------------

    def RunReport(self, request: pb.RunReportRequest, context: Ctx) -> pb.RunReportResponse:
        spec, report_id = convert.source_of(request)
        spec, _name = reports.resolve_spec(self.db, spec, report_id)
        run = reports.run_report(
            self.db,
            spec,
            time_zone=request.time_zone,
            owner_ids=list(request.owner_ids),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        response = pb.RunReportResponse(
            columns=[convert.column_to_proto(c) for c in run.columns],
            rows=[convert.row_to_proto(r, run.columns) for r in run.rows],
            next_page_token=run.next_page_token,
            total_row_count=run.total_row_count,
        )
        if run.data_time is not None:
            response.data_time.FromDatetime(run.data_time)
        return response

    def _export(self, request: pb.ExportReportRequest) -> ExportFile:
        spec, report_id = convert.source_of(request)
        spec, name = reports.resolve_spec(self.db, spec, report_id)
        owners = list(request.owner_ids)
        if request.format == pb.EXPORT_FORMAT_XLSX:
            return reports.export_xlsx(
                self.db, spec, name=name, time_zone=request.time_zone, owner_ids=owners, now=self.clock
            )
        if request.format == pb.EXPORT_FORMAT_ICS:
            return reports.export_ics(
                self.db,
                spec,
                name=name,
                time_zone=request.time_zone,
                owner_ids=owners,
                date_field=request.date_field,
                now=self.clock,
            )
        raise InvalidArgument.field("format", "name a format: EXPORT_FORMAT_XLSX or EXPORT_FORMAT_ICS")

    def ExportReport(self, request: pb.ExportReportRequest, context: Ctx) -> pb.ExportReportResponse:
        exported = self._export(request)
        try:
            size = exported.path.stat().st_size
            if size > MAX_UNARY_EXPORT_BYTES:
                raise FailedPrecondition(
                    f"the export is {size} bytes: use StreamExportReport for files over {MAX_UNARY_EXPORT_BYTES}",
                    reason="export_too_large",
                )
            content = exported.path.read_bytes()
        finally:
            exported.path.unlink(missing_ok=True)
        return pb.ExportReportResponse(content=content, content_type=exported.content_type, filename=exported.filename)

    def _internal_token(self) -> bytes:
        token = getattr(self, "_report_internal_token", None)
        if token is None:
            token = self._report_internal_token = platform_settings().internal_token.encode()
        return token

    def StreamExportReport(self, request: pb.ExportReportRequest, context: Ctx) -> Iterator[pb.ExportReportChunk]:
        md = dict(context.invocation_metadata())
        token = self._internal_token()
        if token and not hmac.compare_digest(str(md.get(INTERNAL_TOKEN_HEADER, "")).encode(), token):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong internal token")
        rid = request_id_var.set(str(md.get(REQUEST_ID_HEADER) or new_request_id()))
        actor = actor_var.set(str(md.get(ACTOR_HEADER) or ""))
        try:
            try:
                exported = self._export(request)
            except CrmError as exc:
                context.abort_with_status(rpc_status.to_status(status_for(exc)))
                return
        finally:
            request_id_var.reset(rid)
            actor_var.reset(actor)
        try:
            with exported.path.open("rb") as f:
                first = True
                for _ in range(1 << 40):  # bounded by the file's size
                    data = f.read(CHUNK_BYTES)
                    if not data and not first:
                        break
                    if first:
                        yield pb.ExportReportChunk(
                            content=data, content_type=exported.content_type, filename=exported.filename
                        )
                        first = False
                    else:
                        yield pb.ExportReportChunk(content=data)
                    if len(data) < CHUNK_BYTES:
                        break
        finally:
            exported.path.unlink(missing_ok=True)
