"""What the deals service asks the quotes service's catalogue over gRPC (with the platform's
deadline): which of a deal's products exist and are active, in one call. An unreachable or slow
quotes service is UNAVAILABLE, raised before the caller writes anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_platform.errors import Unavailable
from crm_platform.grpc_client import decode_error, stub


@dataclass(frozen=True)
class ProductRef:
    id: str
    name: str
    active: bool


class Catalogue(Protocol):
    def products(self, ids: Sequence[str]) -> tuple[dict[str, ProductRef], list[str]]:
        """The products found among `ids` by id, and the ids not found."""
        ...


class GrpcCatalogue:
    """The quotes service over gRPC (CRM_QUOTES_ADDR)."""

    def __init__(self, make_stub: Callable[[], Any] | None = None):
        self._make_stub = make_stub or (lambda: stub(quotes_pb2_grpc.QuotesServiceStub, "quotes"))

    def products(self, ids: Sequence[str]) -> tuple[dict[str, ProductRef], list[str]]:
        if not ids:
            return {}, []
        try:
            res = self._make_stub().BatchGetProducts(quotes_pb2.BatchGetProductsRequest(ids=list(ids)))
        except grpc.RpcError as exc:
            info = decode_error(exc)
            raise Unavailable(
                f"the quotes service could not answer ({info.code.name}: {info.message}); nothing was changed, "
                "try again",
                reason="quotes_unavailable",
                metadata={"dependency": "quotes", "upstream_status": info.code.name},
            ) from None
        return {p.id: ProductRef(p.id, p.name, p.active) for p in res.products}, list(res.missing_ids)
