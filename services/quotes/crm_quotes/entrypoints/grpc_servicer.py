"""The QuotesService gRPC servicer: translates messages and calls the use cases."""

from __future__ import annotations

import grpc
from sqlalchemy.exc import IntegrityError

from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_platform.db import Database, UnitOfWork
from crm_platform.idempotency import remembered, run_once
from crm_platform.listing import owner_filter
from crm_quotes.adapters.quote_repository import QuoteQuery
from crm_quotes.contract.convert import (
    import_format_from_proto,
    import_report_to_proto,
    price_change_to_proto,
    product_from_proto,
    product_kind_from_proto,
    product_to_proto,
    quote_from_proto,
    quote_status_from_proto,
    quote_to_proto,
)
from crm_quotes.service_layer import documents, imports, products, quotes
from crm_quotes.service_layer.documents import Documents
from crm_quotes.service_layer.quotes import Quoting


class QuotesServicer(quotes_pb2_grpc.QuotesServiceServicer):
    def __init__(self, db: Database, quoting: Quoting, docs: Documents):
        self.db = db
        self.quoting = quoting
        self.docs = docs

    # --- Products ---------------------------------------------------------------------------------

    def CreateProduct(
        self, request: quotes_pb2.CreateProductRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.CreateProductResponse:
        draft = product_from_proto(request.product)

        def create(uow: UnitOfWork) -> quotes_pb2.CreateProductResponse:
            return quotes_pb2.CreateProductResponse(product=product_to_proto(products.create_product(uow, draft)))

        scope = products.CREATE_SCOPE
        try:
            return run_once(self.db, scope, request.request_id, quotes_pb2.CreateProductResponse, create)
        except IntegrityError:
            # A concurrent create took the SKU between the check and the commit (PostgreSQL): run
            # again, so the check sees it and answers ALREADY_EXISTS naming that product.
            return run_once(self.db, scope, request.request_id, quotes_pb2.CreateProductResponse, create)

    def GetProduct(
        self, request: quotes_pb2.GetProductRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.GetProductResponse:
        return quotes_pb2.GetProductResponse(product=product_to_proto(products.get_product(self.db, request.id)))

    def BatchGetProducts(
        self, request: quotes_pb2.BatchGetProductsRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.BatchGetProductsResponse:
        found, missing = products.batch_get_products(self.db, list(request.ids))
        return quotes_pb2.BatchGetProductsResponse(products=[product_to_proto(p) for p in found], missing_ids=missing)

    def ListProducts(
        self, request: quotes_pb2.ListProductsRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ListProductsResponse:
        filters = products.ProductFilters(
            query=request.query.strip(),
            kind=product_kind_from_proto(request.kind),
            include_inactive=request.include_inactive,
        )
        page = products.list_products(self.db, filters, request.page_size, request.page_token)
        return quotes_pb2.ListProductsResponse(
            products=[product_to_proto(p) for p in page.items], next_page_token=page.next_page_token
        )

    def UpdateProduct(
        self, request: quotes_pb2.UpdateProductRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.UpdateProductResponse:
        product = products.update_product(
            self.db,
            product_from_proto(request.product),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
        )
        return quotes_pb2.UpdateProductResponse(product=product_to_proto(product))

    def DeleteProduct(
        self, request: quotes_pb2.DeleteProductRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.DeleteProductResponse:
        products.delete_product(self.db, request.id)
        return quotes_pb2.DeleteProductResponse()

    def ListPriceHistory(
        self, request: quotes_pb2.ListPriceHistoryRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ListPriceHistoryResponse:
        changes, token = products.price_history(self.db, request.product_id, request.page_size, request.page_token)
        return quotes_pb2.ListPriceHistoryResponse(
            price_changes=[price_change_to_proto(c) for c in changes], next_page_token=token
        )

    def ImportProducts(
        self, request: quotes_pb2.ImportProductsRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ImportProductsResponse:
        report = imports.import_file(
            self.db,
            request.content,
            request.file_name,
            import_format_from_proto(request.format),
            request.default_currency_code,
            dry_run=request.dry_run,
        )
        return import_report_to_proto(report, request.dry_run)

    # --- Quotes -----------------------------------------------------------------------------------

    def CreateQuote(
        self, request: quotes_pb2.CreateQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.CreateQuoteResponse:
        draft, lines = quote_from_proto(request.quote)
        response = quotes_pb2.CreateQuoteResponse
        if request.request_id:  # a repeat answers as the first call did, without asking the deals service again
            with self.db.read() as session:
                earlier = remembered(session, quotes.CREATE_SCOPE, request.request_id, response)
            if earlier is not None:
                return earlier
        new = quotes.prepare_quote(self.quoting, draft, lines)
        return run_once(
            self.db,
            quotes.CREATE_SCOPE,
            request.request_id,
            response,
            lambda uow: response(quote=quote_to_proto(quotes.create_quote(uow, new))),
        )

    def PreviewQuote(
        self, request: quotes_pb2.PreviewQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.PreviewQuoteResponse:
        draft, lines = quote_from_proto(request.quote)
        quote = quotes.preview_quote(self.db, self.quoting, draft, lines)
        return quotes_pb2.PreviewQuoteResponse(quote=quote_to_proto(quote))

    def GetQuote(
        self, request: quotes_pb2.GetQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.GetQuoteResponse:
        return quotes_pb2.GetQuoteResponse(quote=quote_to_proto(quotes.get_quote(self.db, self.quoting, request.id)))

    def ListQuotes(
        self, request: quotes_pb2.ListQuotesRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ListQuotesResponse:
        filters = QuoteQuery(
            query=request.query.strip(),
            owner_ids=owner_filter(request.owner_ids),
            deal_id=request.deal_id,
            client_id=request.client_id,
            status=quote_status_from_proto(request.status),
            root_number=request.root_number,
            include_superseded=request.include_superseded,
        )
        page = quotes.list_quotes(self.db, self.quoting, filters, request.page_size, request.page_token)
        return quotes_pb2.ListQuotesResponse(
            quotes=[quote_to_proto(q) for q in page.items], next_page_token=page.next_page_token
        )

    def UpdateQuote(
        self, request: quotes_pb2.UpdateQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.UpdateQuoteResponse:
        draft, lines = quote_from_proto(request.quote)
        quote = quotes.update_quote(
            self.db,
            self.quoting,
            draft,
            lines,
            list(request.update_mask.paths),
            expected_version=request.expected_version,
        )
        return quotes_pb2.UpdateQuoteResponse(quote=quote_to_proto(quote))

    def DeleteQuote(
        self, request: quotes_pb2.DeleteQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.DeleteQuoteResponse:
        quotes.delete_quote(self.db, self.quoting, request.id)
        return quotes_pb2.DeleteQuoteResponse()

    def SendQuote(
        self, request: quotes_pb2.SendQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.SendQuoteResponse:
        quote = quotes.send_quote(self.db, self.quoting, request.quote_id, expected_version=request.expected_version)
        return quotes_pb2.SendQuoteResponse(quote=quote_to_proto(quote))

    def AcceptQuote(
        self, request: quotes_pb2.AcceptQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.AcceptQuoteResponse:
        quote = quotes.accept_quote(self.db, self.quoting, request.quote_id, expected_version=request.expected_version)
        return quotes_pb2.AcceptQuoteResponse(quote=quote_to_proto(quote))

    def RejectQuote(
        self, request: quotes_pb2.RejectQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.RejectQuoteResponse:
        quote = quotes.reject_quote(
            self.db, self.quoting, request.quote_id, request.reason, expected_version=request.expected_version
        )
        return quotes_pb2.RejectQuoteResponse(quote=quote_to_proto(quote))

    def ReviseQuote(
        self, request: quotes_pb2.ReviseQuoteRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ReviseQuoteResponse:
        def revise(uow: UnitOfWork) -> quotes_pb2.ReviseQuoteResponse:
            new, old = quotes.revise_quote(
                uow, self.quoting, request.quote_id, expected_version=request.expected_version
            )
            return quotes_pb2.ReviseQuoteResponse(quote=quote_to_proto(new), superseded_quote=quote_to_proto(old))

        return run_once(self.db, quotes.REVISE_SCOPE, request.request_id, quotes_pb2.ReviseQuoteResponse, revise)

    def RenderQuotePdf(
        self, request: quotes_pb2.RenderQuotePdfRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.RenderQuotePdfResponse:
        pdf, name = documents.render_quote_pdf(self.db, self.quoting, self.docs, request.quote_id, request.locale)
        return quotes_pb2.RenderQuotePdfResponse(pdf=pdf, filename=name)
