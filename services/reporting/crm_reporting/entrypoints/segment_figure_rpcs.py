"""BatchGetSegmentFigures of ReportingService, mixed into ReportingServicer: for each client segment
tag, the live clients carrying it (read model rm_clients, tags stored as " a b " so a tag matches
LIKE '% tag %') and their deals won in a window (rm_deals: won_at in the window, amounts in integer
minor units summed per currency). Tombstoned (deleted) and archived clients and deleted deals are
left out. The canvas service shows these figures on notes linked to a segment; it names the deal
owners its reader may see (owner_ids), so a rep's canvas never shows the company's won amounts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import grpc
from sqlalchemy import ColumnElement, and_, func, select

from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.db import Database
from crm_platform.errors import InvalidArgument
from crm_platform.listing import owner_filter
from crm_platform.protoconv import time_from_proto, timestamp
from crm_reporting.adapters.tables import rm_clients, rm_deals
from crm_reporting.entrypoints.budget_convert import money

MAX_TAGS = 200
DEFAULT_WINDOW = timedelta(days=365)


def _tag_condition(tag: str) -> ColumnElement[bool]:
    pattern = "% " + tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + " %"
    return rm_clients.c.segment_tags.like(pattern, escape="\\")


class SegmentFigureRpcs:
    db: Database
    clock: Callable[[], datetime]

    def BatchGetSegmentFigures(
        self, request: pb.BatchGetSegmentFiguresRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetSegmentFiguresResponse:
        tags = list(dict.fromkeys(t.strip() for t in request.segment_tags))
        if len(tags) > MAX_TAGS:
            raise InvalidArgument.field("segment_tags", f"at most {MAX_TAGS} tags per call, got {len(tags)}")
        if any(not t or " " in t for t in tags):
            raise InvalidArgument.field("segment_tags", "a tag is one word, not empty")
        owners = owner_filter(request.owner_ids)
        now = self.clock()
        since = time_from_proto(request, "won_after", "won_after") or now - DEFAULT_WINDOW
        live_client = and_(rm_clients.c.deleted.is_(False), rm_clients.c.archived.is_(False))
        out: list[pb.SegmentFigures] = []
        with self.db.read() as session:
            for tag in tags:
                in_segment = and_(live_client, _tag_condition(tag))
                count = session.scalar(select(func.count()).select_from(rm_clients).where(in_segment)) or 0
                # currency, deals won, their amount (minor units; a numeric, Decimal, on PostgreSQL)
                won: Sequence[tuple[str, int, int | Decimal]] = session.execute(
                    select(rm_deals.c.currency_code, func.count(), func.coalesce(func.sum(rm_deals.c.amount_minor), 0))
                    .select_from(rm_deals.join(rm_clients, rm_clients.c.id == rm_deals.c.client_id))
                    .where(
                        in_segment,
                        rm_deals.c.deleted.is_(False),
                        rm_deals.c.status == "won",
                        rm_deals.c.won_at >= since,
                        rm_deals.c.won_at <= now,
                        *([rm_deals.c.owner_id.in_(owners)] if owners else []),
                    )
                    .group_by(rm_deals.c.currency_code)
                    .order_by(rm_deals.c.currency_code)
                ).all()
                out.append(
                    pb.SegmentFigures(
                        segment_tag=tag,
                        client_count=int(count),
                        won_deal_count=sum(int(n) for _, n, _ in won),
                        won_amounts=[money(int(total), currency) for currency, _, total in won if currency],
                    )
                )
            newest = session.scalar(select(func.max(rm_clients.c.event_time)))
        res = pb.BatchGetSegmentFiguresResponse(figures=out)
        if newest is not None:
            res.data_time.CopyFrom(timestamp(newest if newest.tzinfo else newest.replace(tzinfo=now.tzinfo)))
        return res
