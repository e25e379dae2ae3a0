"""Products over real gRPC with a real database: create/get/list/batch-get, unique SKUs, price
changes kept as history (and published as product_price_changed), bad input answered with the
field at fault and nothing changed, optimistic concurrency, deletion refused while on a quote."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1 import types_pb2
from crm.quotes.v1 import events_pb2, quotes_pb2
from crm_platform.context import actor_var
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.testing import wait_for_event

from .conftest import QuotesWorld


def _error(call: object) -> object:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return decode_error(err.value)


def _product(**kw: object) -> quotes_pb2.Product:
    kw.setdefault("sku", "lic-001")
    kw.setdefault("name", "Licencia anual")
    kw.setdefault("kind", quotes_pb2.PRODUCT_KIND_SERVICE)
    kw.setdefault("unit_price", types_pb2.Money(amount="1250000.50", currency_code="COP"))
    kw.setdefault("tax_rate", "0.19")
    kw.setdefault("active", True)
    return quotes_pb2.Product(**kw)  # type: ignore[arg-type]


def test_create_get_list_and_batch_get_products(world: QuotesWorld) -> None:
    stub = world.stub
    made = stub.CreateProduct(quotes_pb2.CreateProductRequest(product=_product()), timeout=5).product
    assert made.sku == "LIC-001" and made.version == 1 and made.unit_of_measure == "unit"
    assert made.unit_price.amount == "1250000.5" and made.unit_price.currency_code == "COP"
    assert made.tax_rate == "0.19" and made.active and made.create_time.seconds > 0
    assert stub.GetProduct(quotes_pb2.GetProductRequest(id=made.id), timeout=5).product == made

    others = [world.product(f"P-{i}", name=f"Cable de cobre {i}") for i in range(4)]
    world.product("OLD-1", name="Cable viejo", active=False)
    seen, token = [], ""
    while True:
        page = stub.ListProducts(quotes_pb2.ListProductsRequest(page_size=2, page_token=token), timeout=5)
        seen += [p.id for p in page.products]
        token = page.next_page_token
        if not token:
            break
    assert seen == [made.id, *[p.id for p in others]]  # the inactive one only when asked for
    everything = stub.ListProducts(quotes_pb2.ListProductsRequest(include_inactive=True), timeout=5).products
    assert len(everything) == 6
    found = stub.ListProducts(quotes_pb2.ListProductsRequest(query="COBRE 3"), timeout=5).products
    assert [p.sku for p in found] == ["P-3"]
    services = stub.ListProducts(quotes_pb2.ListProductsRequest(kind=quotes_pb2.PRODUCT_KIND_SERVICE), timeout=5)
    assert [p.id for p in services.products] == [made.id]

    unknown = "0192d6e0-0000-7000-8000-000000000000"
    res = stub.BatchGetProducts(quotes_pb2.BatchGetProductsRequest(ids=[others[1].id, unknown, made.id]), timeout=5)
    assert sorted(p.id for p in res.products) == sorted([others[1].id, made.id])
    assert list(res.missing_ids) == [unknown]


@pytest.mark.parametrize(
    ("product", "fields"),
    [
        (_product(unit_price=types_pb2.Money(amount="-1", currency_code="COP")), {"unit_price.amount"}),
        (_product(unit_price=types_pb2.Money(amount="1", currency_code="XXY")), {"unit_price.currency_code"}),
        (_product(unit_price=types_pb2.Money(amount="abc", currency_code="COP")), {"unit_price.amount"}),
        (_product(tax_rate="19"), {"tax_rate"}),
        (_product(tax_rate=""), {"tax_rate"}),
        (_product(sku="", name="", kind=0), {"sku", "name", "kind"}),
        (_product(sku="con espacio"), {"sku"}),
    ],
)
def test_bad_products_are_refused_naming_the_field_and_nothing_is_stored(
    world: QuotesWorld, product: quotes_pb2.Product, fields: set[str]
) -> None:
    info = _error(lambda: world.stub.CreateProduct(quotes_pb2.CreateProductRequest(product=product), timeout=5))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert {v.field for v in info.violations} == fields  # type: ignore[attr-defined]
    assert world.counts()["products"] == 0 and world.counts()["outbox"] == 0


def test_a_duplicate_sku_is_already_exists_naming_the_product(world: QuotesWorld) -> None:
    first = world.product("ABC-1")
    before = world.counts()
    info = _error(lambda: world.product("abc-1 "))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS and info.metadata["existing_id"] == first.id  # type: ignore[attr-defined]
    assert world.counts() == before
    other = world.product("ABC-2")
    req = quotes_pb2.UpdateProductRequest(product=quotes_pb2.Product(id=other.id, sku="abc-1"))
    req.update_mask.paths.append("sku")
    info = _error(lambda: world.stub.UpdateProduct(req, timeout=5))
    assert info.code == grpc.StatusCode.ALREADY_EXISTS  # type: ignore[attr-defined]
    assert world.stub.GetProduct(quotes_pb2.GetProductRequest(id=other.id), timeout=5).product == other


def test_a_retried_create_with_the_same_request_id_creates_one_product(world: QuotesWorld) -> None:
    req = quotes_pb2.CreateProductRequest(product=_product(), request_id="req-p-1")
    a = world.stub.CreateProduct(req, timeout=5).product
    b = world.stub.CreateProduct(req, timeout=5).product
    assert a == b and world.counts()["products"] == 1


def test_price_changes_are_kept_as_history_and_published(world: QuotesWorld, nats_server: NatsServer) -> None:
    stub = world.stub
    made = stub.CreateProduct(quotes_pb2.CreateProductRequest(product=_product()), timeout=5).product

    def update(mask: list[str], expected: int = 0, **fields: object) -> quotes_pb2.Product:
        req = quotes_pb2.UpdateProductRequest(
            product=quotes_pb2.Product(id=made.id, **fields),  # type: ignore[arg-type]
            update_mask=FieldMask(paths=mask),
            expected_version=expected,
        )
        return stub.UpdateProduct(req, timeout=5).product

    renamed = update(["name"], 1, name="Licencia anual Pro")
    assert renamed.version == 2 and renamed.unit_price == made.unit_price
    token = actor_var.set("0192d6e0-0000-7000-8000-0000000000a1")
    try:
        repriced = update(["unit_price"], 2, unit_price=types_pb2.Money(amount="1300000", currency_code="COP"))
    finally:
        actor_var.reset(token)
    assert repriced.version == 3 and repriced.unit_price.amount == "1300000"
    retaxed = update(["tax_rate"], 3, tax_rate="0.05")
    assert retaxed.tax_rate == "0.05"
    same = update(["tax_rate", "name"], 0, tax_rate="0.050", name="Licencia anual Pro")
    assert same.version == 4  # nothing changed: nothing stored

    history = stub.ListPriceHistory(quotes_pb2.ListPriceHistoryRequest(product_id=made.id), timeout=5).price_changes
    assert [(c.unit_price.amount, c.tax_rate, c.product_version) for c in history] == [
        ("1300000", "0.05", 4),
        ("1300000", "0.19", 3),
        ("1250000.5", "0.19", 1),
    ]
    assert history[1].previous_unit_price.amount == "1250000.5" and history[0].previous_tax_rate == "0.19"
    assert not history[2].HasField("previous_unit_price") and history[2].previous_tax_rate == ""
    page = stub.ListPriceHistory(quotes_pb2.ListPriceHistoryRequest(product_id=made.id, page_size=2), timeout=5)
    rest = stub.ListPriceHistory(
        quotes_pb2.ListPriceHistoryRequest(product_id=made.id, page_size=2, page_token=page.next_page_token),
        timeout=5,
    )
    assert list(page.price_changes) + list(rest.price_changes) == list(history) and not rest.next_page_token

    event = wait_for_event(
        nats_server.url, events_pb2.ProductPriceChanged, lambda e: e.product.id == made.id and e.product.version == 3
    )
    assert event.price_change.unit_price.amount == "1300000"
    assert event.price_change.previous_unit_price.amount == "1250000.5"
    assert event.meta.producer == "quotes"
    updated = wait_for_event(
        nats_server.url, events_pb2.ProductUpdated, lambda e: e.product.id == made.id and e.product.version == 2
    )
    assert list(updated.changed_fields) == ["name"]


def test_a_stale_version_is_aborted_and_changes_nothing(world: QuotesWorld) -> None:
    made = world.product("V-1")
    req = quotes_pb2.UpdateProductRequest(
        product=quotes_pb2.Product(id=made.id, name="Otro"), update_mask=FieldMask(paths=["name"]), expected_version=7
    )
    info = _error(lambda: world.stub.UpdateProduct(req, timeout=5))
    assert info.code == grpc.StatusCode.ABORTED and info.metadata["current_version"] == "1"  # type: ignore[attr-defined]
    assert world.stub.GetProduct(quotes_pb2.GetProductRequest(id=made.id), timeout=5).product == made


def test_a_bad_update_names_the_field_and_changes_nothing(world: QuotesWorld) -> None:
    made = world.product("U-1")
    for mask, fields in (
        (["unit_price"], quotes_pb2.Product(id=made.id, unit_price=types_pb2.Money(amount="-5", currency_code="USD"))),
        (["id"], quotes_pb2.Product(id=made.id)),
        (["version"], quotes_pb2.Product(id=made.id)),
    ):
        req = quotes_pb2.UpdateProductRequest(product=fields, update_mask=FieldMask(paths=mask))
        info = _error(lambda req=req: world.stub.UpdateProduct(req, timeout=5))
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert world.stub.GetProduct(quotes_pb2.GetProductRequest(id=made.id), timeout=5).product == made
    assert world.counts()["price_changes"] == 1


def test_a_product_on_a_quote_is_not_deleted_but_may_be_deactivated(world: QuotesWorld) -> None:
    used, unused = world.product("USED-1"), world.product("FREE-1")
    world.quote(lines=[(used.id, "1")])
    info = _error(lambda: world.stub.DeleteProduct(quotes_pb2.DeleteProductRequest(id=used.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "product_in_use"  # type: ignore[attr-defined]
    assert world.stub.GetProduct(quotes_pb2.GetProductRequest(id=used.id), timeout=5).product == used
    world.stub.DeleteProduct(quotes_pb2.DeleteProductRequest(id=unused.id), timeout=5)
    info = _error(lambda: world.stub.GetProduct(quotes_pb2.GetProductRequest(id=unused.id), timeout=5))
    assert info.code == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    req = quotes_pb2.UpdateProductRequest(
        product=quotes_pb2.Product(id=used.id, active=False), update_mask=FieldMask(paths=["active"])
    )
    assert not world.stub.UpdateProduct(req, timeout=5).product.active


def test_racing_creates_of_one_sku_make_one_product_and_name_it(world: QuotesWorld) -> None:
    import threading

    answers: list[object] = []

    def create() -> None:
        try:
            answers.append(
                world.stub.CreateProduct(
                    quotes_pb2.CreateProductRequest(product=_product(sku="RACE-1")), timeout=10
                ).product
            )
        except grpc.RpcError as exc:
            answers.append(decode_error(exc))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [a for a in answers if isinstance(a, quotes_pb2.Product)]
    refused = [a for a in answers if not isinstance(a, quotes_pb2.Product)]
    assert len(made) == 1 and len(refused) == 7
    assert all(r.code == grpc.StatusCode.ALREADY_EXISTS for r in refused)  # type: ignore[attr-defined]
    assert all(made[0].id in r.message for r in refused)  # type: ignore[attr-defined]
    listed = world.stub.ListProducts(quotes_pb2.ListProductsRequest(query="RACE-1"), timeout=5).products
    assert [p.id for p in listed] == [made[0].id]
