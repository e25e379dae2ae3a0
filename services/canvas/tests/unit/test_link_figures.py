"""Link figures are fetched in one batch call per kind, whatever the number of notes, a service
that fails leaves its links' figures unset instead of failing the read, and a campaign the reader
may not see reads as restricted without its results being asked for."""

from __future__ import annotations

from collections import Counter
from typing import Any

import grpc

from crm.campaigns.v1 import campaigns_pb2
from crm.canvas.v1 import canvas_pb2 as pb
from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2
from crm.quotes.v1 import quotes_pb2
from crm_canvas.adapters.records import GrpcRecordsDirectory
from crm_canvas.domain.canvas import Link, LinkKind


class Down(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "down"


class FakePeers:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.deals_down = False

    def BatchGetProducts(self, req: Any) -> quotes_pb2.BatchGetProductsResponse:
        self.calls["BatchGetProducts"] += 1
        found = [i for i in req.ids if i != "gone"]
        return quotes_pb2.BatchGetProductsResponse(
            products=[
                quotes_pb2.Product(id=i, name=f"P {i}", active=i != "old", unit_price=types_pb2.Money(amount="1"))
                for i in found
            ],
            missing_ids=[i for i in req.ids if i == "gone"],
        )

    def BatchGetProductDealFigures(self, req: Any) -> deals_pb2.BatchGetProductDealFiguresResponse:
        self.calls["BatchGetProductDealFigures"] += 1
        if self.deals_down:
            raise Down()
        return deals_pb2.BatchGetProductDealFiguresResponse(
            figures=[
                deals_pb2.ProductDealFigures(product_id=i, deal_count=3, won_deal_count=1) for i in req.product_ids
            ]
        )


def _directory(peers: FakePeers) -> GrpcRecordsDirectory:
    return GrpcRecordsDirectory(stubs={"quotes": lambda: peers, "deals": lambda: peers})


def test_two_hundred_links_to_twenty_products_cost_one_call_per_service() -> None:
    peers = FakePeers()
    links = [Link(LinkKind.PRODUCT, f"p{i % 18}") for i in range(200)] + [
        Link(LinkKind.PRODUCT, "old"),
        Link(LinkKind.PRODUCT, "gone"),
    ]
    resolved = _directory(peers).resolve(links, None)
    assert peers.calls == {"BatchGetProducts": 1, "BatchGetProductDealFigures": 1}
    assert len(resolved) == 20
    p0 = resolved[(LinkKind.PRODUCT, "p0")]
    assert (p0.state, p0.label, p0.figures.deal_count, p0.figures.won_deal_count) == (
        pb.LINK_STATE_ACTIVE,
        "P p0",
        3,
        1,
    )
    assert resolved[(LinkKind.PRODUCT, "old")].state == pb.LINK_STATE_ARCHIVED
    assert resolved[(LinkKind.PRODUCT, "gone")].state == pb.LINK_STATE_MISSING


def test_a_service_that_is_down_leaves_the_figures_unset() -> None:
    peers = FakePeers()
    peers.deals_down = True
    resolved = _directory(peers).resolve([Link(LinkKind.PRODUCT, "p1")], None)
    link = resolved[(LinkKind.PRODUCT, "p1")]
    assert link.label == "P p1" and link.state == pb.LINK_STATE_ACTIVE
    assert not link.figures.HasField("fetch_time") and link.figures.deal_count == 0


OWNERS = {"feria": "ana", "vieja": "beto"}


class FakeCampaigns:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def BatchGetCampaigns(self, req: Any) -> campaigns_pb2.BatchGetCampaignsResponse:
        self.calls["BatchGetCampaigns"] += 1
        status = {"feria": campaigns_pb2.CAMPAIGN_STATUS_RUNNING, "vieja": campaigns_pb2.CAMPAIGN_STATUS_COMPLETED}
        return campaigns_pb2.BatchGetCampaignsResponse(
            campaigns=[
                campaigns_pb2.Campaign(id=i, name=f"C {i}", status=status[i], owner_id=OWNERS[i])
                for i in req.ids
                if i in status
            ],
            missing_ids=[i for i in req.ids if i not in status],
        )

    def GetCampaignResults(self, req: Any) -> campaigns_pb2.GetCampaignResultsResponse:
        self.calls["GetCampaignResults"] += 1
        return campaigns_pb2.GetCampaignResultsResponse(
            results=campaigns_pb2.CampaignResults(
                campaign_id=req.campaign_id, leads=12, deals_won=2, roi="1.5", cost=types_pb2.Money(amount="300")
            )
        )


def test_campaign_links_show_leads_and_roi_and_a_retired_campaign_reads_archived() -> None:
    peers = FakeCampaigns()
    directory = GrpcRecordsDirectory(stubs={"campaigns": lambda: peers})
    links = [Link(LinkKind.CAMPAIGN, t) for t in ("feria", "vieja", "borrada", "feria")]
    resolved = directory.resolve(links, None)
    assert peers.calls == {"BatchGetCampaigns": 1, "GetCampaignResults": 2}
    feria = resolved[(LinkKind.CAMPAIGN, "feria")]
    assert (feria.state, feria.figures.lead_count, feria.figures.roi, feria.figures.cost.amount) == (
        pb.LINK_STATE_ACTIVE,
        12,
        "1.5",
        "300",
    )
    assert resolved[(LinkKind.CAMPAIGN, "vieja")].state == pb.LINK_STATE_ARCHIVED
    assert resolved[(LinkKind.CAMPAIGN, "borrada")].state == pb.LINK_STATE_MISSING


def test_a_campaign_the_reader_may_not_see_reads_restricted_and_its_results_are_not_asked_for() -> None:
    peers = FakeCampaigns()
    directory = GrpcRecordsDirectory(stubs={"campaigns": lambda: peers})
    links = [Link(LinkKind.CAMPAIGN, t) for t in ("feria", "vieja", "borrada")]
    resolved = directory.resolve(links, frozenset({"ana"}))
    assert peers.calls == {"BatchGetCampaigns": 1, "GetCampaignResults": 1}
    assert resolved[(LinkKind.CAMPAIGN, "feria")].figures.lead_count == 12
    vieja = resolved[(LinkKind.CAMPAIGN, "vieja")]
    assert vieja == pb.NoteLink(kind=pb.LINK_KIND_CAMPAIGN, target_id="vieja", state=pb.LINK_STATE_RESTRICTED)
    assert resolved[(LinkKind.CAMPAIGN, "borrada")].state == pb.LINK_STATE_MISSING
