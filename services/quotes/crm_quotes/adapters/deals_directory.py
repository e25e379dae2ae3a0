"""What the quotes service asks the deals service over gRPC (with the platform's deadline on every
call): the deal a quote is for, with its client, contacts, owner and currency. An unreachable or
failing deals service is UNAVAILABLE, raised before the caller writes anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_platform.errors import Unavailable
from crm_platform.grpc_client import decode_error, stub


@dataclass(frozen=True)
class DealRef:
    id: str
    title: str
    client_id: str
    contact_ids: tuple[str, ...]
    owner_id: str
    # The deal's amount's currency (empty when the deal has none).
    currency: str


class DealsDirectory(Protocol):
    def deal(self, deal_id: str) -> DealRef | None:
        """The deal, or None when there is none."""
        ...


class GrpcDealsDirectory:
    """The deals service over gRPC (CRM_DEALS_ADDR)."""

    def __init__(self, make_stub: Callable[[], Any] | None = None):
        self._make_stub = make_stub or (lambda: stub(deals_pb2_grpc.DealsServiceStub, "deals"))

    def deal(self, deal_id: str) -> DealRef | None:
        try:
            res = self._make_stub().GetDeal(deals_pb2.GetDealRequest(id=deal_id))
        except grpc.RpcError as exc:
            info = decode_error(exc)
            if info.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise Unavailable(
                f"the deals service could not answer ({info.code.name}: {info.message}); nothing was changed, "
                "try again",
                reason="deals_unavailable",
                metadata={"dependency": "deals", "status": info.code.name},
            ) from None
        d = res.deal
        return DealRef(
            id=d.id,
            title=d.title,
            client_id=d.client_id,
            contact_ids=tuple(d.contact_ids),
            owner_id=d.owner_id,
            currency=d.amount.currency_code,
        )
