"""What the campaigns service asks the deals service over gRPC: log a telemarketing call as a done
call activity of the campaign, and open a deal whose source is the campaign. Every call carries a
request id derived from the caller's, so a retried call outcome creates nothing twice there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import grpc

from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_platform.errors import FailedPrecondition, Unavailable
from crm_platform.grpc_client import decode_error, stub
from crm_platform.protoconv import timestamp


@dataclass(frozen=True)
class CallActivity:
    campaign_id: str
    owner_id: str
    subject: str
    outcome: str
    notes: str
    done_time: datetime
    client_id: str = ""
    contact_id: str = ""
    prospect_id: str = ""
    deal_id: str = ""


@dataclass(frozen=True)
class NewDeal:
    title: str
    client_id: str
    contact_ids: tuple[str, ...]
    owner_id: str
    campaign_id: str
    amount: Decimal | None
    currency_code: str


class DealsClient(Protocol):
    def log_call(self, call: CallActivity, request_id: str) -> str: ...

    def open_deal(self, deal: NewDeal, request_id: str) -> str: ...


class GrpcDealsClient:
    """The deals service over gRPC (CRM_DEALS_ADDR)."""

    def __init__(self, make_stub: Callable[[], Any] | None = None):
        self._make_stub = make_stub or (lambda: stub(deals_pb2_grpc.DealsServiceStub, "deals"))

    def _call(self, rpc: str, request: Any) -> Any:
        try:
            return getattr(self._make_stub(), rpc)(request)
        except grpc.RpcError as exc:
            info = decode_error(exc)
            if info.code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT):
                raise FailedPrecondition(
                    f"the deals service refused: {info.message}", reason=info.reason or "deals_refused"
                ) from None
            raise Unavailable(
                f"the deals service could not answer ({info.code.name}: {info.message}); nothing was changed, "
                "try again",
                reason="deals_unavailable",
                metadata={"dependency": "deals", "upstream_status": info.code.name},
            ) from None

    def log_call(self, call: CallActivity, request_id: str) -> str:
        activity = deals_pb2.Activity(
            kind=deals_pb2.ACTIVITY_KIND_CALL,
            status=deals_pb2.ACTIVITY_STATUS_DONE,
            subject=call.subject,
            notes=call.notes,
            outcome=call.outcome,
            done_time=timestamp(call.done_time),
            owner_id=call.owner_id,
            campaign_id=call.campaign_id,
            client_id=call.client_id,
            contact_id=call.contact_id,
            prospect_id=call.prospect_id,
            deal_id=call.deal_id,
        )
        res = self._call("CreateActivity", deals_pb2.CreateActivityRequest(activity=activity, request_id=request_id))
        return str(res.activity.id)

    def open_deal(self, deal: NewDeal, request_id: str) -> str:
        msg = deals_pb2.Deal(
            title=deal.title,
            client_id=deal.client_id,
            contact_ids=list(deal.contact_ids),
            owner_id=deal.owner_id,
            source_campaign_id=deal.campaign_id,
        )
        if deal.amount is not None:
            msg.amount.CopyFrom(types_pb2.Money(amount=format(deal.amount, "f"), currency_code=deal.currency_code))
        res = self._call("CreateDeal", deals_pb2.CreateDealRequest(deal=msg, request_id=request_id))
        return str(res.deal.id)
