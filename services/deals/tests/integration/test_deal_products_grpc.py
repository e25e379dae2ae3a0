"""What a deal sells, checked against the real quotes service's catalogue: line items of active
products are kept with their quantities; an unknown or inactive product, or an unreachable quotes
service, writes nothing; lists filter by product; and the figures per product (deals, open, won,
won amounts per currency) that the canvas shows."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error
from crm_platform.service import ServiceRuntime
from crm_quotes.bootstrap import SPEC as QUOTES

from .conftest import DealsWorld

MISSING = "0192d6e0-0000-7000-8000-00000000dead"


@pytest.fixture
def quotes(
    world: DealsWorld, start_service: Callable[..., ServiceRuntime], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> ServiceRuntime:
    runtime = start_service(QUOTES, f"sqlite:///{tmp_path}/quotes.db", world.nats_url)  # type: ignore[operator]
    monkeypatch.setenv("CRM_QUOTES_ADDR", f"127.0.0.1:{runtime.grpc_port}")
    return runtime


def _product(rt: ServiceRuntime, sku: str, name: str, active: bool = True) -> quotes_pb2.Product:
    stub = quotes_pb2_grpc.QuotesServiceStub(grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}"))
    product = quotes_pb2.Product(
        sku=sku,
        name=name,
        kind=quotes_pb2.PRODUCT_KIND_SERVICE,
        unit_of_measure="licencia",
        unit_price=types_pb2.Money(amount="100000", currency_code="COP"),
        tax_rate="0.19",
        active=True,
    )
    made = stub.CreateProduct(quotes_pb2.CreateProductRequest(product=product), timeout=5).product
    if not active:
        made = stub.UpdateProduct(
            quotes_pb2.UpdateProductRequest(
                product=quotes_pb2.Product(id=made.id, active=False), update_mask=FieldMask(paths=["active"])
            ),
            timeout=5,
        ).product
    return made


def _error(call: object, *args: object) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, timeout=5)  # type: ignore[operator]
    return decode_error(err.value)


def _items(*pairs: tuple[str, str]) -> list[deals_pb2.DealLineItem]:
    return [deals_pb2.DealLineItem(product_id=p, quantity=q) for p, q in pairs]


def test_line_items_are_checked_against_the_catalogue(world: DealsWorld, quotes: ServiceRuntime) -> None:
    licences = _product(quotes, "LIC-01", "Licencia anual")
    support = _product(quotes, "SOP-01", "Soporte técnico")
    retired = _product(quotes, "OLD-01", "Plan descontinuado", active=False)
    client = world.client()
    deal = world.create(client.id, line_items=_items((licences.id, "25"), (support.id, "1.5")))
    assert [(i.product_id, i.quantity) for i in deal.line_items] == [(licences.id, "25"), (support.id, "1.5")]

    before = world.rows()
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="x", client_id=client.id, owner_id=deal.owner_id, line_items=_items((MISSING, "1"))
            )
        ),
    )
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "product_not_found"
    assert info.metadata["field"] == "deal.line_items[0].product_id"
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="x",
                client_id=client.id,
                owner_id=deal.owner_id,
                line_items=_items((licences.id, "1"), (retired.id, "2")),
            )
        ),
    )
    assert info.reason == "product_inactive" and info.metadata["field"] == "deal.line_items[1].product_id"
    info = _error(
        world.stub.UpdateDeal,
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, line_items=_items((retired.id, "1"))),
            update_mask=FieldMask(paths=["line_items"]),
        ),
    )
    assert info.reason == "product_inactive"
    assert world.rows() == before

    changed = world.stub.UpdateDeal(
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, line_items=_items((support.id, "3"))),
            update_mask=FieldMask(paths=["line_items"]),
        ),
        timeout=5,
    ).deal
    assert [(i.product_id, i.quantity) for i in changed.line_items] == [(support.id, "3")]
    # A product made inactive later stays on the deals that have it: other edits still work.
    world.stub.UpdateDeal(
        deals_pb2.UpdateDealRequest(
            deal=deals_pb2.Deal(id=deal.id, title="Solo soporte"), update_mask=FieldMask(paths=["title"])
        ),
        timeout=5,
    )

    quotes.stop(grace=0)
    info = _error(
        world.stub.CreateDeal,
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="x", client_id=client.id, owner_id=deal.owner_id, line_items=_items((support.id, "1"))
            )
        ),
    )
    assert info.code == grpc.StatusCode.UNAVAILABLE and info.reason == "quotes_unavailable"
    assert world.stub.CreateDeal(
        deals_pb2.CreateDealRequest(  # a deal without products needs no catalogue
            deal=deals_pb2.Deal(title="Sin productos", client_id=client.id, owner_id=deal.owner_id)
        ),
        timeout=5,
    ).deal.id


def test_figures_per_product_and_the_product_filter(world: DealsWorld, quotes: ServiceRuntime) -> None:
    licences = _product(quotes, "LIC-02", "Licencia")
    training = _product(quotes, "CAP-02", "Capacitación")
    idle = _product(quotes, "IDL-02", "Sin negocios")
    client = world.client()
    a = world.create(
        client.id, line_items=_items((licences.id, "10")), amount=types_pb2.Money(amount="1000", currency_code="USD")
    )
    b = world.create(
        client.id,
        line_items=_items((licences.id, "2"), (training.id, "1")),
        amount=types_pb2.Money(amount="250.50", currency_code="USD"),
    )
    c = world.create(
        client.id, line_items=_items((licences.id, "1")), amount=types_pb2.Money(amount="900000", currency_code="COP")
    )
    d = world.create(client.id, line_items=_items((training.id, "4")))
    for won in (a, b, c):
        world.stub.WinDeal(deals_pb2.WinDealRequest(deal_id=won.id), timeout=5)
    world.stub.LoseDeal(deals_pb2.LoseDealRequest(deal_id=d.id, reason="Sin presupuesto"), timeout=5)
    world.create(client.id, line_items=_items((training.id, "1")))  # open

    res = world.stub.BatchGetProductDealFigures(
        deals_pb2.BatchGetProductDealFiguresRequest(product_ids=[training.id, idle.id, licences.id]), timeout=5
    )
    figures = {f.product_id: f for f in res.figures}
    assert [f.product_id for f in res.figures] == [training.id, idle.id, licences.id]
    lic = figures[licences.id]
    assert (lic.deal_count, lic.open_deal_count, lic.won_deal_count) == (3, 0, 3)
    assert [(m.currency_code, m.amount) for m in lic.won_amounts] == [("COP", "900000"), ("USD", "1250.50")]
    cap = figures[training.id]
    assert (cap.deal_count, cap.open_deal_count, cap.won_deal_count) == (3, 1, 1)
    assert [(m.currency_code, m.amount) for m in cap.won_amounts] == [("USD", "250.50")]
    assert figures[idle.id].deal_count == 0 and not figures[idle.id].won_amounts

    listed = world.stub.ListDeals(deals_pb2.ListDealsRequest(product_id=training.id), timeout=5).deals
    assert [x.id for x in listed][:2] == [b.id, d.id] and len(listed) == 3
