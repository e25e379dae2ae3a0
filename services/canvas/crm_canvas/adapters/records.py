"""The CRM records a canvas's notes link to, asked over gRPC (the platform's deadline on every
call): products and their deal figures (quotes and deals services), campaigns and their results
(campaigns service), client segments (contacts service: the clients carrying the tag; reporting
service: their deals won in the last 12 months).

Writes validate links (`missing`): a product or campaign that does not exist is reported, an
unreachable service is UNAVAILABLE before anything is written. Reads resolve links (`resolve`):
one batch call per kind (products, deal figures, campaigns), the kinds fetched in parallel on a
small thread pool, plus one call per distinct campaign (results) and per distinct segment tag
(client count), those too in parallel. A kind whose service fails leaves its links' figures
unset (fetch_time unset): a note always reads.

Reads follow the reader's visibility (`Owners`, from the gateway): a campaign owned by someone the
reader may not see reads as RESTRICTED (no name, no figures, its results never asked for), and a
segment's won deals are only those of the owners the reader may see (a rep: their own; a manager:
their teams'). Clients are shared, so a segment's client count is everyone's."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

import grpc

from crm.campaigns.v1 import campaigns_pb2, campaigns_pb2_grpc
from crm.canvas.v1 import canvas_pb2
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_canvas.domain.canvas import Link, LinkKind
from crm_platform.errors import Unavailable
from crm_platform.grpc_client import decode_error, stub
from crm_platform.protoconv import timestamp

log = logging.getLogger(__name__)
T = TypeVar("T")

Key = tuple[LinkKind, str]
# The owners whose records' figures the reader may see; None = every owner (an admin).
Owners = frozenset[str] | None
# Each distinct link of a read, resolved to the wire form it is shown in (state, label, figures).
ResolvedLinks = dict[Key, canvas_pb2.NoteLink]
RETIRED_CAMPAIGNS = {campaigns_pb2.CAMPAIGN_STATUS_COMPLETED, campaigns_pb2.CAMPAIGN_STATUS_CANCELLED}


class RecordsDirectory(Protocol):
    def missing(self, links: Collection[Link]) -> list[Link]:
        """The links whose target does not exist (segments always exist); Unavailable when a
        service that must answer cannot."""
        ...

    def resolve(self, links: Collection[Link], owners: Owners) -> ResolvedLinks:
        """Each distinct link with its state, label and figures as `owners` may see them (never
        raises)."""
        ...


def _unavailable(service: str, exc: grpc.RpcError) -> Unavailable:
    info = decode_error(exc)
    return Unavailable(
        f"the {service} service could not answer ({info.code.name}: {info.message}); nothing was changed, try again",
        reason=f"{service}_unavailable",
        metadata={"dependency": service, "status": info.code.name},
    )


class GrpcRecordsDirectory:
    """The peer services over gRPC (CRM_QUOTES_ADDR, CRM_DEALS_ADDR, CRM_CAMPAIGNS_ADDR,
    CRM_CONTACTS_ADDR)."""

    def __init__(self, workers: int = 8, stubs: dict[str, Callable[[], Any]] | None = None):
        # Two pools: a kind's job waits on its calls, a call never waits, so neither can starve.
        self._kinds = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="canvas-kinds")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="canvas-calls")
        self._stubs: dict[str, Callable[[], Any]] = {
            "quotes": lambda: stub(quotes_pb2_grpc.QuotesServiceStub, "quotes"),
            "deals": lambda: stub(deals_pb2_grpc.DealsServiceStub, "deals"),
            "campaigns": lambda: stub(campaigns_pb2_grpc.CampaignsServiceStub, "campaigns"),
            "contacts": lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"),
            "reporting": lambda: stub(reporting_pb2_grpc.ReportingServiceStub, "reporting"),
            **(stubs or {}),
        }

    @staticmethod
    def _submit(pool: ThreadPoolExecutor, fn: Callable[[], T]) -> Future[T]:
        """Runs `fn` on the pool in a copy of the caller's context, so that the peers' calls carry
        the request id and the acting user as the caller's own calls do."""
        return pool.submit(contextvars.copy_context().run, fn)

    def close(self) -> None:
        self._kinds.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- Validation on write -------------------------------------------------------------------

    def missing(self, links: Collection[Link]) -> list[Link]:
        found: list[Link] = []
        products = sorted({k.target_id for k in links if k.kind is LinkKind.PRODUCT})
        campaigns = sorted({k.target_id for k in links if k.kind is LinkKind.CAMPAIGN})
        if products:
            try:
                res = self._stubs["quotes"]().BatchGetProducts(quotes_pb2.BatchGetProductsRequest(ids=products))
            except grpc.RpcError as exc:
                raise _unavailable("quotes", exc) from None
            found += [Link(LinkKind.PRODUCT, i) for i in res.missing_ids]
        if campaigns:
            try:
                res = self._stubs["campaigns"]().BatchGetCampaigns(
                    campaigns_pb2.BatchGetCampaignsRequest(ids=campaigns)
                )
            except grpc.RpcError as exc:
                raise _unavailable("campaigns", exc) from None
            found += [Link(LinkKind.CAMPAIGN, i) for i in res.missing_ids]
        return found

    # --- Figures on read -----------------------------------------------------------------------

    def resolve(self, links: Collection[Link], owners: Owners) -> ResolvedLinks:
        keys = sorted({(k.kind, k.target_id) for k in links})
        by_kind: dict[LinkKind, list[str]] = {}
        for kind, target in keys:
            by_kind.setdefault(kind, []).append(target)
        jobs: dict[LinkKind, Future[dict[str, canvas_pb2.NoteLink]]] = {}
        if LinkKind.PRODUCT in by_kind:
            jobs[LinkKind.PRODUCT] = self._submit(
                self._kinds, lambda: self._products(by_kind[LinkKind.PRODUCT], owners)
            )
        if LinkKind.CAMPAIGN in by_kind:
            jobs[LinkKind.CAMPAIGN] = self._submit(
                self._kinds, lambda: self._campaigns(by_kind[LinkKind.CAMPAIGN], owners)
            )
        if LinkKind.CLIENT_SEGMENT in by_kind:
            jobs[LinkKind.CLIENT_SEGMENT] = self._submit(
                self._kinds, lambda: self._segments(by_kind[LinkKind.CLIENT_SEGMENT], owners)
            )
        out: dict[Key, canvas_pb2.NoteLink] = {}
        for kind, job in jobs.items():
            try:
                resolved = job.result()
            except Exception:  # a kind's service is down or failed: its links read without figures
                log.warning("figures of %s links unavailable", kind.value, exc_info=True)
                resolved = {}
            for target in by_kind[kind]:
                out[(kind, target)] = resolved.get(target) or canvas_pb2.NoteLink(
                    kind=_KIND_PB[kind], target_id=target, label=target if kind is LinkKind.CLIENT_SEGMENT else ""
                )
        return out

    def _products(self, ids: list[str], owners: Owners) -> dict[str, canvas_pb2.NoteLink]:
        # Deal figures count only the deals the reader may see (their own, their teams', all).
        figures_job = self._submit(
            self._pool,
            lambda: self._stubs["deals"]().BatchGetProductDealFigures(
                deals_pb2.BatchGetProductDealFiguresRequest(
                    product_ids=ids, owner_ids=sorted(owners) if owners is not None else []
                )
            ),
        )
        products = self._stubs["quotes"]().BatchGetProducts(quotes_pb2.BatchGetProductsRequest(ids=ids))
        now = timestamp(datetime.now(UTC))
        out: dict[str, canvas_pb2.NoteLink] = {}
        for i in products.missing_ids:
            out[i] = canvas_pb2.NoteLink(
                kind=canvas_pb2.LINK_KIND_PRODUCT, target_id=i, state=canvas_pb2.LINK_STATE_MISSING
            )
        try:
            deal_figures = {f.product_id: f for f in figures_job.result().figures}
        except Exception:
            log.warning("deal figures of products unavailable", exc_info=True)
            deal_figures = None
        for p in products.products:
            link = canvas_pb2.NoteLink(
                kind=canvas_pb2.LINK_KIND_PRODUCT,
                target_id=p.id,
                label=p.name,
                state=canvas_pb2.LINK_STATE_ACTIVE if p.active else canvas_pb2.LINK_STATE_ARCHIVED,
            )
            if deal_figures is not None:
                f = deal_figures.get(p.id)
                link.figures.unit_price.CopyFrom(p.unit_price)
                if f is not None:
                    link.figures.deal_count = f.deal_count
                    link.figures.won_deal_count = f.won_deal_count
                    link.figures.won_amounts.extend(f.won_amounts)
                link.figures.fetch_time.CopyFrom(now)
            out[p.id] = link
        return out

    def _campaigns(self, ids: list[str], owners: Owners) -> dict[str, canvas_pb2.NoteLink]:
        res = self._stubs["campaigns"]().BatchGetCampaigns(campaigns_pb2.BatchGetCampaignsRequest(ids=ids))
        out: dict[str, canvas_pb2.NoteLink] = {}
        for i in res.missing_ids:
            out[i] = canvas_pb2.NoteLink(
                kind=canvas_pb2.LINK_KIND_CAMPAIGN, target_id=i, state=canvas_pb2.LINK_STATE_MISSING
            )
        visible = []
        for c in res.campaigns:
            if owners is None or c.owner_id in owners:
                visible.append(c)
            else:
                out[c.id] = canvas_pb2.NoteLink(
                    kind=canvas_pb2.LINK_KIND_CAMPAIGN, target_id=c.id, state=canvas_pb2.LINK_STATE_RESTRICTED
                )

        def results_of(campaign_id: str) -> campaigns_pb2.GetCampaignResultsResponse:
            return self._stubs["campaigns"]().GetCampaignResults(
                campaigns_pb2.GetCampaignResultsRequest(campaign_id=campaign_id)
            )

        results = {c.id: self._submit(self._pool, partial(results_of, c.id)) for c in visible}
        for c in visible:
            link = canvas_pb2.NoteLink(
                kind=canvas_pb2.LINK_KIND_CAMPAIGN,
                target_id=c.id,
                label=c.name,
                state=canvas_pb2.LINK_STATE_ARCHIVED if c.status in RETIRED_CAMPAIGNS else canvas_pb2.LINK_STATE_ACTIVE,
            )
            try:
                r = results[c.id].result().results
            except Exception:
                log.warning("results of campaign %s unavailable", c.id, exc_info=True)
            else:
                link.figures.lead_count = r.leads
                link.figures.won_deal_count = r.deals_won
                link.figures.deal_count = r.deals_opened
                if r.HasField("won_amount"):
                    link.figures.won_amounts.append(r.won_amount)
                link.figures.won_amounts.extend(r.other_won_amounts)
                if r.HasField("cost"):
                    link.figures.cost.CopyFrom(r.cost)
                link.figures.roi = r.roi
                link.figures.fetch_time.CopyFrom(timestamp(datetime.now(UTC)))
            out[c.id] = link
        return out

    def _segments(self, tags: list[str], owners: Owners) -> dict[str, canvas_pb2.NoteLink]:
        """The client count of each tag from the contacts service (the source of truth, one call
        per tag in parallel), and the won deals of the segment's clients over the last 12 months
        owned by `owners` from the reporting service's read models (one batch call); either may
        be missing."""
        won_job = self._submit(
            self._pool,
            lambda: self._stubs["reporting"]().BatchGetSegmentFigures(
                reporting_pb2.BatchGetSegmentFiguresRequest(
                    segment_tags=tags, owner_ids=sorted(owners) if owners is not None else []
                )
            ),
        )

        def clients_tagged(tag: str) -> contacts_pb2.ListClientsResponse:
            return self._stubs["contacts"]().ListClients(
                contacts_pb2.ListClientsRequest(segment_tag=tag, page_size=1, include_total_size=True)
            )

        counts = {tag: self._submit(self._pool, partial(clients_tagged, tag)) for tag in tags}
        try:
            won = {f.segment_tag: f for f in won_job.result().figures}
        except Exception:
            log.warning("segment figures of the reporting service unavailable", exc_info=True)
            won = {}
        out: dict[str, canvas_pb2.NoteLink] = {}
        for tag, job in counts.items():
            link = canvas_pb2.NoteLink(kind=canvas_pb2.LINK_KIND_CLIENT_SEGMENT, target_id=tag, label=tag)
            try:
                total = job.result().total_size
            except Exception:
                log.warning("client count of segment %s unavailable", tag, exc_info=True)
            else:
                link.state = canvas_pb2.LINK_STATE_ACTIVE if total else canvas_pb2.LINK_STATE_MISSING
                link.figures.client_count = total
                if tag in won:
                    link.figures.won_deal_count = won[tag].won_deal_count
                    link.figures.won_amounts.extend(won[tag].won_amounts)
                link.figures.fetch_time.CopyFrom(timestamp(datetime.now(UTC)))
            out[tag] = link
        return out


_KIND_PB = {
    LinkKind.PRODUCT: canvas_pb2.LINK_KIND_PRODUCT,
    LinkKind.CLIENT_SEGMENT: canvas_pb2.LINK_KIND_CLIENT_SEGMENT,
    LinkKind.CAMPAIGN: canvas_pb2.LINK_KIND_CAMPAIGN,
}


def links_of(notes: Iterable[Any]) -> list[Link]:
    return [link for n in notes for link in n.links]
