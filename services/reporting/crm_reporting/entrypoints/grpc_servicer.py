"""The ReportingService gRPC servicer: budgets and indicators come from BudgetIndicatorRpcs,
report definitions, runs and exports from ReportRpcs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm.reporting.v1 import reporting_pb2_grpc
from crm_platform.db import Database
from crm_reporting.entrypoints.budget_indicator_rpcs import BudgetIndicatorRpcs
from crm_reporting.entrypoints.report_rpcs import ReportRpcs
from crm_reporting.entrypoints.segment_figure_rpcs import SegmentFigureRpcs


class ReportingServicer(
    BudgetIndicatorRpcs, ReportRpcs, SegmentFigureRpcs, reporting_pb2_grpc.ReportingServiceServicer
):
    def __init__(self, db: Database, *, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock
