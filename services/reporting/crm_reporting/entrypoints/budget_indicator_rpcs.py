"""The budget and indicator RPCs of ReportingService (GetBudget, ListBudgets, CreateBudget,
UpdateBudget, DeleteBudget, GetIndicators, GetAttainments). Mixed into ReportingServicer: they translate messages
and call the use cases (service_layer/budgets.py, service_layer/indicators.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TypeAlias
from zoneinfo import ZoneInfo

import grpc

from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.context import current_actor
from crm_platform.db import Database
from crm_platform.errors import InvalidArgument
from crm_platform.protoconv import date_from_proto
from crm_reporting.domain.periods import Period, PeriodStartError
from crm_reporting.entrypoints.budget_convert import (
    BREAKDOWNS,
    PERIOD_KINDS,
    SCOPES,
    attainments_to_proto,
    budget_draft_from_proto,
    budget_to_proto,
    indicators_to_proto,
)
from crm_reporting.service_layer import attainments, budgets, indicators
from crm_reporting.service_layer.indicators import Scope
from crm_reporting.settings import reporting_settings

# grpc has no type information: its context is Any, named here for the signatures.
Ctx: TypeAlias = grpc.ServicerContext


class BudgetIndicatorRpcs:
    db: Database
    clock: Callable[[], datetime]

    @cached_property
    def company_zone(self) -> ZoneInfo:
        """The company's time zone, in which periods begin and end (CRM_REPORTING_TIME_ZONE)."""
        return reporting_settings().zone

    def GetBudget(self, request: pb.GetBudgetRequest, context: Ctx) -> pb.GetBudgetResponse:
        return pb.GetBudgetResponse(budget=budget_to_proto(budgets.get_budget(self.db, request.id)))

    def ListBudgets(self, request: pb.ListBudgetsRequest, context: Ctx) -> pb.ListBudgetsResponse:
        filters = budgets.BudgetFilters(
            user_id=request.user_id,
            team_id=request.team_id,
            period_kind=PERIOD_KINDS.from_proto(request.period_kind, "period_kind"),
            period_start_from=date_from_proto(request, "period_start_from"),
            period_start_to=date_from_proto(request, "period_start_to"),
        )
        page = budgets.list_budgets(self.db, filters, request.page_size, request.page_token)
        return pb.ListBudgetsResponse(
            budgets=[budget_to_proto(b) for b in page.items], next_page_token=page.next_page_token
        )

    def CreateBudget(self, request: pb.CreateBudgetRequest, context: Ctx) -> pb.CreateBudgetResponse:
        return budgets.create_budget(
            self.db,
            budget_draft_from_proto(request.budget),
            actor=current_actor(),
            request_id=request.request_id,
            now=self.clock,
        )

    def UpdateBudget(self, request: pb.UpdateBudgetRequest, context: Ctx) -> pb.UpdateBudgetResponse:
        budget = budgets.update_budget(
            self.db,
            request.budget.id,
            budget_draft_from_proto(request.budget),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
            now=self.clock,
        )
        return pb.UpdateBudgetResponse(budget=budget_to_proto(budget))

    def DeleteBudget(self, request: pb.DeleteBudgetRequest, context: Ctx) -> pb.DeleteBudgetResponse:
        budgets.delete_budget(self.db, request.id)
        return pb.DeleteBudgetResponse()

    def _period(self, request: pb.GetIndicatorsRequest | pb.GetAttainmentsRequest) -> tuple[Scope, Period]:
        scope = SCOPES.from_proto(request.scope, "scope")
        kind = PERIOD_KINDS.from_proto(request.period_kind, "period_kind")
        start = date_from_proto(request, "period_start")
        if scope is None:
            raise InvalidArgument.field("scope", "is required (user, team or company)")
        if kind is None:
            raise InvalidArgument.field("period_kind", "is required (month, quarter or year)")
        if start is None:
            raise InvalidArgument.field("period_start", "is required (the first day of the period)")
        try:
            return scope, Period.of(kind, start)
        except PeriodStartError as exc:
            raise InvalidArgument.field("period_start", str(exc)) from None

    def GetIndicators(self, request: pb.GetIndicatorsRequest, context: Ctx) -> pb.GetIndicatorsResponse:
        scope, period = self._period(request)
        figures = indicators.get_indicators(self.db, scope, request.scope_id, period, self.company_zone)
        return pb.GetIndicatorsResponse(indicators=indicators_to_proto(figures))

    def GetAttainments(self, request: pb.GetAttainmentsRequest, context: Ctx) -> pb.GetAttainmentsResponse:
        scope, period = self._period(request)
        breakdown = BREAKDOWNS.from_proto(request.breakdown, "breakdown") or attainments.Breakdown.NONE
        found = attainments.get_attainments(
            self.db, scope, request.scope_id, period, request.period_count, breakdown, self.company_zone
        )
        return attainments_to_proto(found)
