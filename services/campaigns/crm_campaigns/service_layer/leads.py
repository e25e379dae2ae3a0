"""Leads becoming prospects of a campaign: one (quick capture, a webhook), many (a trade fair's
list), or a CSV/XLSX file with the per-row report of the contacts import. Each lead is checked,
deduplicated in its campaign (same external id, else same e-mail), created as a prospect in the
contacts service with a request id derived from the campaign and the lead (so a retry or a
replayed webhook after a crash gets the same prospect back), then stored as a member with
lead_captured."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import events_pb2
from crm_campaigns.adapters import repository as repo
from crm_campaigns.adapters.contacts_directory import NewProspect, Target
from crm_campaigns.domain import campaigns as rules
from crm_campaigns.domain.campaigns import Campaign
from crm_campaigns.domain.leads import Lead, LeadSource, lead_key, lead_problems
from crm_campaigns.domain.members import MemberStatus
from crm_campaigns.entrypoints import convert
from crm_campaigns.service_layer.campaigns import Campaigns, member_row, read_campaign
from crm_platform import import_files, importing
from crm_platform.errors import FieldViolation, InvalidArgument, Unauthenticated
from crm_platform.idempotency import remember, remembered
from crm_platform.ids import is_valid_id

MAX_BATCH = 1000
MAX_IMPORT_ROWS = 20_000
# Import columns: field → header aliases (normalised: lower case, no accents or punctuation).
IMPORT_FIELDS = {
    "company_name": ("empresa", "company", "companyname", "razonsocial", "compania", "organizacion"),
    "first_name": ("nombre", "nombres", "firstname", "name"),
    "last_name": ("apellido", "apellidos", "lastname", "surname"),
    "job_title": ("cargo", "jobtitle", "title", "puesto"),
    "email": ("email", "correo", "correoelectronico", "mail"),
    "phone": ("telefono", "phone", "celular", "movil", "mobile"),
    "city": ("ciudad", "city"),
    "country_code": ("pais", "country", "countrycode"),
    "notes": ("notas", "notes", "comentarios", "comments"),
    "external_id": ("id", "externalid", "codigo", "badge", "escarapela"),
}


def check_secret(c: Campaign, secret: str) -> None:
    """A webhook's secret must be the campaign's (compared in constant time)."""
    if not hmac.compare_digest(secret.encode(), c.webhook_secret.encode()):
        raise Unauthenticated("the webhook secret is not this campaign's", reason="bad_webhook_secret")


def _request_id(campaign_id: str, key: str) -> str:
    return "lead-" + hashlib.sha256(f"{campaign_id}|{key}".encode()).hexdigest()[:40]


def _existing(session: Session, campaign_id: str, lead: Lead, key: str) -> Any:
    """The campaign's member this lead already is (same key, else same e-mail); None when new."""
    row = repo.member_by_key(session, campaign_id, key)
    if row is None and lead.email:
        row = repo.member_by_email(session, campaign_id, lead.email)
    return row


def _capture_one(w: Campaigns, c: Campaign, lead: Lead, owner_id: str) -> tuple[pb.Member, str, bool]:
    key = lead_key(lead)
    with w.db.read() as session:
        found = _existing(session, c.id, lead, key)
    if found is not None:
        return convert.member_to_proto(found), found.created_prospect_id or found.prospect_id, False
    owner = owner_id or c.owner_id
    prospect_id = w.directory.create_prospect(NewProspect(lead, owner, c.id, _request_id(c.id, key)))
    now = w.clock()
    target = Target(
        record_key=key,
        prospect_id=prospect_id,
        email=lead.email,
        phone=lead.phone,
        display_name=lead.display_name,
        first_name=lead.first_name,
        last_name=lead.last_name,
        client_name=lead.company_name,
    )
    row = member_row(c.id, target, MemberStatus.CONVERTED, "", now)
    row["created_prospect_id"] = prospect_id
    try:
        with w.db.uow() as uow:
            repo.insert_members(uow.session, [row])
            member = convert.member_to_proto(repo.get_member(uow.session, row["id"]))
            uow.add_event(
                events_pb2.LeadCaptured(
                    campaign_id=c.id,
                    lead=convert.lead_to_proto(lead),
                    prospect_id=prospect_id,
                    owner_id=owner,
                    member=member,
                )
            )
            uow.commit()
    except IntegrityError:  # the same lead, captured at the same moment by another call
        with w.db.read() as session:
            found = _existing(session, c.id, lead, key)
        if found is None:
            raise
        return convert.member_to_proto(found), found.created_prospect_id, False
    return member, prospect_id, True


def _campaign_for_leads(w: Campaigns, campaign_id: str, secret: str | None) -> Campaign:
    with w.db.read() as session:
        c = read_campaign(session, campaign_id)
    if secret is not None:
        check_secret(c, secret)
    rules.check_accepts_leads(c)
    return c


def _check_owner(owner_id: str) -> None:
    if owner_id and not is_valid_id(owner_id):
        raise InvalidArgument.field("owner_id", f"'{owner_id}' is not a user id")


def capture_lead(
    w: Campaigns, campaign_id: str, lead_msg: pb.Lead, owner_id: str, request_id: str, secret: str | None
) -> pb.CaptureLeadResponse:
    if request_id:
        with w.db.read() as session:
            earlier = remembered(session, "CaptureLead", request_id, pb.CaptureLeadResponse)
        if earlier is not None:
            return earlier
    _check_owner(owner_id)
    lead, problems = lead_problems(convert.lead_from_proto(lead_msg))
    if problems:
        raise InvalidArgument(problems)
    c = _campaign_for_leads(w, campaign_id, secret)
    member, prospect_id, created = _capture_one(w, c, lead, owner_id)
    answer = pb.CaptureLeadResponse(member=member, prospect_id=prospect_id, created=created)
    _remember(w, "CaptureLead", request_id, answer)
    return answer


def _remember(
    w: Campaigns, scope: str, request_id: str, answer: pb.CaptureLeadResponse | pb.BatchCaptureLeadsResponse
) -> None:
    if not request_id:
        return
    try:
        with w.db.uow() as uow:
            remember(uow.session, scope, request_id, answer)
            uow.commit()
    except IntegrityError:
        pass  # a concurrent call with the same request id answered first; ours is the same


def batch_capture(
    w: Campaigns, campaign_id: str, leads: Sequence[pb.Lead], owner_id: str, request_id: str, secret: str | None
) -> pb.BatchCaptureLeadsResponse:
    if request_id:
        with w.db.read() as session:
            earlier = remembered(session, "BatchCaptureLeads", request_id, pb.BatchCaptureLeadsResponse)
        if earlier is not None:
            return earlier
    if len(leads) > MAX_BATCH:
        raise InvalidArgument.field("leads", f"at most {MAX_BATCH} leads per call, got {len(leads)}")
    _check_owner(owner_id)
    c = _campaign_for_leads(w, campaign_id, secret)
    answer = pb.BatchCaptureLeadsResponse()
    for i, msg in enumerate(leads):
        try:
            lead, problems = lead_problems(convert.lead_from_proto(msg, f"leads[{i}]"), f"leads[{i}]")
        except InvalidArgument as exc:
            problems = exc.violations
        if problems:
            answer.errors.append(pb.LeadError(index=i, message=_say(problems)))
            continue
        try:
            _member, _pid, created = _capture_one(w, c, lead, owner_id)
        except InvalidArgument as exc:
            answer.errors.append(pb.LeadError(index=i, message=_say(exc.violations)))
            continue
        if created:
            answer.created_count += 1
        else:
            answer.duplicate_count += 1
    _remember(w, "BatchCaptureLeads", request_id, answer)
    return answer


def _say(problems: Sequence[FieldViolation]) -> str:
    return "; ".join(f"{p.field}: {p.description}" if p.field else p.description for p in problems)


def import_leads(w: Campaigns, request: pb.ImportLeadsRequest) -> pb.ImportLeadsResponse:
    """A trade fair's file: each valid row captured as a lead (source trade fair), with the
    per-row report (problems by row and field, duplicates, created prospects)."""
    if not request.content:
        raise InvalidArgument.field("content", "the file is empty")
    _check_owner(request.owner_id)
    fmt = {pb.IMPORT_FORMAT_CSV: import_files.FileFormat.CSV, pb.IMPORT_FORMAT_XLSX: import_files.FileFormat.XLSX}.get(
        request.format
    ) or import_files.detect_format(request.content, request.file_name)
    table = import_files.read_table(request.content, fmt, MAX_IMPORT_ROWS)
    columns = importing.map_columns(IMPORT_FIELDS, table.header, table.header_row, what="leads")
    c = _campaign_for_leads(w, request.campaign_id, None)
    report = importing.ImportReport(total_rows=table.data_rows)
    report.add_problems(list(columns.problems))
    seen: set[str] = set()
    for row, cells in importing.refuse_nul_rows(table.rows(), columns, table.header, report):
        lead = Lead(
            **{name: columns.value(cells, name) for name in IMPORT_FIELDS},
            source=LeadSource.TRADE_FAIR,
        )
        lead, problems = lead_problems(lead, "lead")
        if problems:
            report.failed += 1
            report.add_problems(
                [importing.RowProblem(row, p.field.removeprefix("lead."), p.description) for p in problems]
            )
            continue
        key = lead_key(lead)
        if key in seen:
            report.duplicates.append(importing.DuplicateRow(row, "", key.split(":")[1]))
            continue
        seen.add(key)
        if request.dry_run:
            with w.db.read() as session:
                found = _existing(session, c.id, lead, key)
            if found is not None:
                report.duplicates.append(importing.DuplicateRow(row, found.created_prospect_id, key.split(":")[1]))
            else:
                report.created_ids.append("")
            continue
        try:
            _member, prospect_id, created = _capture_one(w, c, replace(lead), request.owner_id)
        except InvalidArgument as exc:
            report.failed += 1
            report.add_problems(
                [importing.RowProblem(row, v.field.removeprefix("lead."), v.description) for v in exc.violations]
            )
            continue
        if created:
            report.created_ids.append(prospect_id)
        else:
            report.duplicates.append(importing.DuplicateRow(row, prospect_id, key.split(":")[1]))
    return pb.ImportLeadsResponse(
        total_rows=report.total_rows,
        created=report.created,
        duplicates=len(report.duplicates),
        failed=report.failed,
        problems=[pb.ImportRowProblem(row=p.row, field=p.field, message=p.message) for p in report.listed_problems()],
        created_ids=[i for i in report.created_ids if i],
    )
