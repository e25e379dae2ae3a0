"""/api/v1/products: the catalogue of products and services the team sells (Producto). Every
signed-in user reads it (quotes are built from it); only admins and managers change it (create,
update, price changes, delete, import), since a price is a commercial decision a rep does not
take alone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, request, url_for
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_gateway.access import principal
from crm_gateway.api import ProblemError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.convert import ProtoJson, ProtoPage, enum_member, from_json, page, to_json
from crm_gateway.lists import PageToken
from crm_gateway.money import CURRENCY_RULE, MoneyIn, OptionalCurrencyCode, TaxRate
from crm_gateway.owned import IMPORT_DEADLINE_SECONDS, IMPORT_MAX_BYTES, XLSX
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("products", "Products", "The catalogue of products and services the team sells (Producto).")

# The roles that may change the catalogue.
CATALOGUE_ROLES = frozenset({"admin", "manager"})
Kind = Literal["product", "service"]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Unit = Annotated[str, StringConstraints(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProductCreate(_Strict):
    """A new catalogue entry. `tax_rate` is a decimal fraction: "0.19" is 19 %, "0" is exempt."""

    sku: Sku
    name: Name
    kind: Kind
    unit_price: MoneyIn
    tax_rate: TaxRate
    description: Text = ""
    unit_of_measure: Unit = ""
    active: bool = True


class ProductPatch(_Strict):
    """The fields to change; a new unit_price or tax_rate is kept in the price history (quotes
    already made keep the price they were made with)."""

    sku: Sku | None = None
    name: Name | None = None
    kind: Kind | None = None
    unit_price: MoneyIn | None = None
    tax_rate: TaxRate | None = None
    description: Text | None = None
    unit_of_measure: Unit | None = None
    active: bool | None = None


class ProductListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200), Field(description="Search SKU, name, description.")] = ""
    kind: Kind | None = None
    include_inactive: bool = False
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: PageToken = ""


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: PageToken = ""


class ProductImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(False, description="Check every row and report; write nothing.")
    default_currency_code: Annotated[
        OptionalCurrencyCode, Field(description=f"Currency of rows naming none. {CURRENCY_RULE}")
    ] = ""


def _stub() -> Any:
    return stub(quotes_pb2_grpc.QuotesServiceStub, "quotes")


def require_catalogue_manager() -> None:
    p = principal()
    if p.role not in CATALOGUE_ROLES:
        raise ProblemError(403, "catalogue_managers_only", "only admins and managers may change the catalogue")


def _kind(word: str | None) -> quotes_pb2.ProductKind:
    return quotes_pb2.PRODUCT_KIND_UNSPECIFIED if word is None else enum_member(quotes_pb2.ProductKind, word)


def _message(data: dict[str, Any], **kw: Any) -> quotes_pb2.Product:
    kind = data.pop("kind", None)
    msg = from_json(quotes_pb2.Product(**kw), data)
    if kind is not None:
        msg.kind = _kind(kind)
    return msg


def _get(product_id: str) -> quotes_pb2.Product:
    return call("quotes", _stub().GetProduct, quotes_pb2.GetProductRequest(id=product_id)).product


ONE = ProtoJson(quotes_pb2.Product)


@res.route("GET", "/api/v1/products", query=ProductListQuery, response=ProtoPage(quotes_pb2.Product))
def list_products(query: ProductListQuery) -> Response:
    """List the catalogue, oldest first (active products unless include_inactive)."""
    req = quotes_pb2.ListProductsRequest(
        query=query.q,
        kind=_kind(query.kind),
        include_inactive=query.include_inactive,
        page_size=query.page_size,
        page_token=query.page_token,
    )
    res_ = call("quotes", _stub().ListProducts, req)
    return respond(page(list(res_.products), res_.next_page_token))


@res.route(
    "POST",
    "/api/v1/products:import",
    query=ProductImportQuery,
    response=ProtoJson(quotes_pb2.ImportProductsResponse),
    upload_types=("text/csv", XLSX),
    max_body=IMPORT_MAX_BYTES,
)
def import_products(query: ProductImportQuery) -> Response:
    """Import products from a CSV or XLSX file (the body; admins and managers).
    Valid rows land; each invalid row is reported with its row number, column and problem; rows
    whose SKU a product already has are skipped and listed, so importing the same file again adds
    nothing. Column names may be in Spanish or English (código, nombre, precio, moneda, IVA ...)."""
    require_catalogue_manager()
    formats = {"text/csv": quotes_pb2.IMPORT_FORMAT_CSV, XLSX: quotes_pb2.IMPORT_FORMAT_XLSX}
    if request.mimetype not in formats:
        raise ProblemError(415, "unsupported_media_type", f"send the file as text/csv or {XLSX}")
    content = request.get_data(cache=False)
    if not content:
        raise ProblemError(400, "empty_file", "the body is empty: send the file itself")
    req = quotes_pb2.ImportProductsRequest(
        format=formats[request.mimetype],
        content=content,
        file_name=request.headers.get("X-File-Name", "")[:200],
        dry_run=query.dry_run,
        default_currency_code=query.default_currency_code,
    )
    return respond(to_json(call("quotes", _stub().ImportProducts, req, timeout=IMPORT_DEADLINE_SECONDS)))


@res.route(
    "POST",
    "/api/v1/products",
    body=ProductCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_product(body: ProductCreate) -> Response:
    """Create a product (admins and managers).
    A SKU that another product has (case ignored) is a 409 naming it (`existing_id`)."""
    require_catalogue_manager()
    req = quotes_pb2.CreateProductRequest(
        product=_message(body.model_dump()), request_id=idempotency_key(principal().id)
    )
    product = call("quotes", _stub().CreateProduct, req).product
    location = url_for("products.get_product", product_id=product.id)
    return respond(to_json(product), 201, {"Location": location, **etag(product.version)})


@res.route("GET", "/api/v1/products/<id:product_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_product(product_id: str) -> Response:
    """Get a product."""
    product = _get(product_id)
    return respond(to_json(product), headers=etag(product.version))


@res.route(
    "PATCH",
    "/api/v1/products/<id:product_id>",
    body=ProductPatch,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_product(product_id: str, body: ProductPatch) -> Response:
    """Update a product (admins and managers); a price or tax change goes into its price history."""
    require_catalogue_manager()
    changed = body.model_dump(exclude_unset=True)
    if not changed:
        raise ProblemError(400, "empty_update", "name at least one field to change")
    nulls = sorted(k for k, v in changed.items() if v is None)
    if nulls:
        raise ProblemError(400, "null_field", f"these fields cannot be null: {', '.join(nulls)}")
    current = _get(product_id)
    req = quotes_pb2.UpdateProductRequest(
        product=_message(dict(changed), id=product_id),
        update_mask=FieldMask(paths=sorted(changed)),
        expected_version=check_version(if_match(), current.version, "product"),
    )
    product = call("quotes", _stub().UpdateProduct, req).product
    return respond(to_json(product), headers=etag(product.version))


@res.route("DELETE", "/api/v1/products/<id:product_id>", status=204, errors=(404,))
def delete_product(product_id: str) -> Response:
    """Delete a product that no quote names (admins and managers; otherwise 400 product_in_use:
    set active to false instead)."""
    require_catalogue_manager()
    call("quotes", _stub().DeleteProduct, quotes_pb2.DeleteProductRequest(id=product_id))
    return Response(status=204)


@res.route(
    "GET",
    "/api/v1/products/<id:product_id>/price-history",
    query=HistoryQuery,
    response=ProtoPage(quotes_pb2.PriceChange),
    errors=(404,),
)
def price_history(product_id: str, query: HistoryQuery) -> Response:
    """The product's unit price and tax rate changes, newest first (the first entry made it)."""
    req = quotes_pb2.ListPriceHistoryRequest(
        product_id=product_id, page_size=query.page_size, page_token=query.page_token
    )
    res_ = call("quotes", _stub().ListPriceHistory, req)
    return respond(page(list(res_.price_changes), res_.next_page_token))
