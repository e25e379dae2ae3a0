"""What the campaigns service asks the contacts service over gRPC (the platform's deadline on every
call): the records of a target segment, read page by page in pages of 500 (the contacts service's
largest), and new prospects for captured leads and calls. Filters the contacts service takes with
one value are sent with the call; a filter with several values (OR) is applied here to each page.
Cities and industries are compared without regard to case here (the contacts service
compares them exactly). An unreachable contacts service is UNAVAILABLE, raised before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_campaigns.domain.campaigns import Segment, TargetKind
from crm_campaigns.domain.leads import Lead, LeadSource
from crm_platform.errors import FieldViolation, InvalidArgument, Unavailable
from crm_platform.grpc_client import decode_error, stub

PAGE_SIZE = 500
# A bound on the pages one segment is read in (50 million records): a loop that cannot run away.
MAX_PAGES = 100_000
_SOURCES = {
    LeadSource.TRADE_FAIR: contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR,
    LeadSource.GOOGLE_ADS: contacts_pb2.PROSPECT_SOURCE_ADS,
    LeadSource.RD_STATION: contacts_pb2.PROSPECT_SOURCE_RD_STATION,
    LeadSource.WEB_FORM: contacts_pb2.PROSPECT_SOURCE_CAMPAIGN,
    LeadSource.MANUAL: contacts_pb2.PROSPECT_SOURCE_CAMPAIGN,
}


@dataclass(frozen=True)
class Target:
    """One record of a segment, with what a member copies from it."""

    record_key: str
    client_id: str = ""
    contact_id: str = ""
    prospect_id: str = ""
    parent_client_id: str = ""
    email: str = ""
    phone: str = ""
    display_name: str = ""
    first_name: str = ""
    last_name: str = ""
    client_name: str = ""


@dataclass(frozen=True)
class NewProspect:
    lead: Lead
    owner_id: str
    campaign_id: str
    request_id: str


class ContactsDirectory(Protocol):
    def segment(self, segment: Segment) -> Iterator[Target]: ...

    def create_prospect(self, new: NewProspect) -> str:
        """The new prospect's id (the same one for a repeated request id)."""
        ...


def _one(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else ""


def _matches(values: tuple[str, ...], value: str) -> bool:
    return not values or value.casefold() in {v.casefold() for v in values}


def _client_matches(seg: Segment, c: Any) -> bool:
    return (
        _matches(seg.industries, c.industry)
        and _matches(seg.cities, c.address.city)
        and _matches(seg.country_codes, c.address.country_code)
        and (
            not seg.segment_tags
            or bool({t.casefold() for t in seg.segment_tags} & {t.casefold() for t in c.segment_tags})
        )
    )


class GrpcContactsDirectory:
    """The contacts service over gRPC (CRM_CONTACTS_ADDR)."""

    def __init__(self, make_stub: Callable[[], Any] | None = None):
        self._make_stub = make_stub or (lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"))

    def _call(self, rpc: str, request: Any) -> Any:
        try:
            return getattr(self._make_stub(), rpc)(request)
        except grpc.RpcError as exc:
            raise _unavailable(exc) from None

    def _pages(self, rpc: str, plural: str, **filters: Any) -> Iterator[list[Any]]:
        request_class = getattr(contacts_pb2, f"{rpc}Request")
        token = ""
        for _page in range(MAX_PAGES):
            res = self._call(rpc, request_class(page_size=PAGE_SIZE, page_token=token, **filters))
            yield list(getattr(res, plural))
            token = res.next_page_token
            if not token:
                return

    def _clients(self, seg: Segment, owner_ids: tuple[str, ...]) -> Iterator[Any]:
        filters = {
            "owner_ids": list(owner_ids),
            "segment_tag": _one(seg.segment_tags),
            "country_code": _one(seg.country_codes),
        }
        for page in self._pages("ListClients", "clients", **filters):
            yield from (c for c in page if _client_matches(seg, c))

    def segment(self, seg: Segment) -> Iterator[Target]:
        if seg.kind is TargetKind.CLIENTS:
            for c in self._clients(seg, seg.owner_ids):
                yield Target(
                    record_key=f"client:{c.id}",
                    client_id=c.id,
                    email=c.email.lower(),
                    phone=c.phones[0] if c.phones else "",
                    display_name=c.name,
                    client_name=c.name,
                )
        elif seg.kind is TargetKind.CONTACTS:
            yield from self._contacts(seg)
        elif seg.kind is TargetKind.PROSPECTS:
            yield from self._prospects(seg)

    def _contacts(self, seg: Segment) -> Iterator[Target]:
        by_client = bool(seg.segment_tags or seg.industries or seg.cities or seg.country_codes)
        names: dict[str, str] = {}
        if by_client:  # the clients the segment names, whoever owns them; then their contacts
            names = {c.id: c.name for c in self._clients(seg, ())}
            if not names:
                return
        for page in self._pages("ListContacts", "contacts", owner_ids=list(seg.owner_ids)):
            if by_client:
                page = [p for p in page if p.client_id in names]
            else:
                missing = sorted({p.client_id for p in page if p.client_id and p.client_id not in names})
                if missing:
                    res = self._call("BatchGetClients", contacts_pb2.BatchGetClientsRequest(ids=missing))
                    names.update({c.id: c.name for c in res.clients})
            for p in page:
                yield Target(
                    record_key=f"contact:{p.id}",
                    contact_id=p.id,
                    parent_client_id=p.client_id,
                    email=p.email.lower(),
                    phone=p.phones[0] if p.phones else "",
                    display_name=" ".join(x for x in (p.first_name, p.last_name) if x),
                    first_name=p.first_name,
                    last_name=p.last_name,
                    client_name=names.get(p.client_id, ""),
                )

    def _prospects(self, seg: Segment) -> Iterator[Target]:
        statuses = [contacts_pb2.ProspectStatus.Value(s) for s in seg.prospect_statuses]
        sources = [contacts_pb2.ProspectSource.Value(s) for s in seg.prospect_sources]
        filters = {
            "owner_ids": list(seg.owner_ids),
            "status": statuses[0] if len(statuses) == 1 else 0,
            "source": sources[0] if len(sources) == 1 else 0,
            "country_code": _one(seg.country_codes),
        }
        for page in self._pages("ListProspects", "prospects", **filters):
            for p in page:
                if not (
                    (not statuses or p.status in statuses)
                    and (not sources or p.source in sources)
                    and _matches(seg.industries, p.industry)
                    and _matches(seg.cities, p.address.city)
                    and _matches(seg.country_codes, p.address.country_code)
                ):
                    continue
                person = " ".join(x for x in (p.first_name, p.last_name) if x)
                yield Target(
                    record_key=f"prospect:{p.id}",
                    prospect_id=p.id,
                    email=p.email.lower(),
                    phone=p.phones[0] if p.phones else "",
                    display_name=person or p.company_name,
                    first_name=p.first_name,
                    last_name=p.last_name,
                    client_name=p.company_name,
                )

    def create_prospect(self, new: NewProspect) -> str:
        lead = new.lead
        prospect = contacts_pb2.Prospect(
            company_name=lead.company_name,
            first_name=lead.first_name,
            last_name=lead.last_name,
            job_title=lead.job_title,
            email=lead.email,
            phones=[lead.phone] if lead.phone else [],
            address=contacts_pb2.Address(city=lead.city, country_code=lead.country_code),
            source=_SOURCES.get(lead.source or LeadSource.MANUAL, contacts_pb2.PROSPECT_SOURCE_CAMPAIGN),
            source_campaign_id=new.campaign_id,
            owner_id=new.owner_id,
        )
        request = contacts_pb2.CreateProspectRequest(prospect=prospect, request_id=new.request_id, force_duplicate=True)
        try:
            return str(self._make_stub().CreateProspect(request).prospect.id)
        except grpc.RpcError as exc:
            info = decode_error(exc)
            if info.code != grpc.StatusCode.INVALID_ARGUMENT:
                raise _unavailable(exc) from None
            fields = {v.field for v in info.violations}
            if lead.phone and fields and all(f.startswith("phones") for f in fields):
                # A number the contacts service cannot read (no country code): the prospect is
                # created without it; the member keeps it as given.
                prospect.ClearField("phones")
                request = contacts_pb2.CreateProspectRequest(
                    prospect=prospect, request_id=new.request_id + ":nophone", force_duplicate=True
                )
                return str(self._call("CreateProspect", request).prospect.id)
            raise InvalidArgument(
                [FieldViolation(f"lead.{_lead_field(v.field)}", v.description) for v in info.violations]
                or [FieldViolation("lead", info.message)]
            ) from None


def _lead_field(field: str) -> str:
    return {"address.city": "city", "address.country_code": "country_code"}.get(field, field.split("[")[0])


def _unavailable(exc: grpc.RpcError) -> Unavailable:
    info = decode_error(exc)
    return Unavailable(
        f"the contacts service could not answer ({info.code.name}: {info.message}); nothing was changed, try again",
        reason="contacts_unavailable",
        metadata={"dependency": "contacts", "upstream_status": info.code.name},
    )
