"""Budgets and indicators between protobuf and the domain / service layer."""

from __future__ import annotations

from crm.common.v1 import types_pb2
from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.money import minor_unit_exponent
from crm_platform.protoconv import EnumMap, date_from_proto, date_to_proto, timestamp
from crm_reporting.domain.budgets import Budget, BudgetDraft
from crm_reporting.domain.figures import from_minor
from crm_reporting.domain.periods import PeriodKind
from crm_reporting.service_layer.attainments import Attainments, Breakdown
from crm_reporting.service_layer.indicators import Attainment, Indicators, Scope

PERIOD_KINDS = EnumMap(
    "period kind",
    {
        PeriodKind.MONTH: pb.PERIOD_KIND_MONTH,
        PeriodKind.QUARTER: pb.PERIOD_KIND_QUARTER,
        PeriodKind.YEAR: pb.PERIOD_KIND_YEAR,
    },
)
SCOPES = EnumMap(
    "indicator scope",
    {
        Scope.USER: pb.INDICATOR_SCOPE_USER,
        Scope.TEAM: pb.INDICATOR_SCOPE_TEAM,
        Scope.COMPANY: pb.INDICATOR_SCOPE_COMPANY,
    },
)

BREAKDOWNS = EnumMap(
    "attainment breakdown",
    {Breakdown.USERS: pb.ATTAINMENT_BREAKDOWN_USERS, Breakdown.TEAMS: pb.ATTAINMENT_BREAKDOWN_TEAMS},
)


def money(minor: int, currency: str) -> types_pb2.Money:
    return types_pb2.Money(currency_code=currency, amount=str(from_minor(minor, minor_unit_exponent(currency))))


def budget_to_proto(b: Budget) -> pb.Budget:
    return pb.Budget(
        id=b.id,
        user_id=b.user_id,
        team_id="" if b.user_id else b.team_id,
        period_kind=PERIOD_KINDS.to_proto(b.period.kind),
        period_start=date_to_proto(b.period.start),
        target=money(b.target_minor, b.currency_code),
        create_time=timestamp(b.created_at),
        update_time=timestamp(b.updated_at),
        version=b.version,
    )


def budget_draft_from_proto(msg: pb.Budget) -> BudgetDraft:
    return BudgetDraft(
        user_id=msg.user_id.strip(),
        team_id=msg.team_id.strip(),
        period_kind=PERIOD_KINDS.from_proto(msg.period_kind, "budget.period_kind"),
        period_start=date_from_proto(msg, "period_start", "budget.period_start"),
        amount=msg.target.amount,
        currency_code=msg.target.currency_code,
    )


def indicators_to_proto(ind: Indicators) -> pb.Indicators:
    out = pb.Indicators(
        scope=SCOPES.to_proto(ind.scope),
        scope_id=ind.scope_id,
        period_kind=PERIOD_KINDS.to_proto(ind.period.kind),
        period_start=date_to_proto(ind.period.start),
        period_end=date_to_proto(ind.period.end),
        win_rate=ind.win_rate,
        average_sales_cycle_days=ind.average_sales_cycle_days,
        prospect_conversion_rate=ind.prospect_conversion_rate,
        quote_acceptance_rate=ind.quote_acceptance_rate,
        data_time=timestamp(ind.data_time),
    )
    out.budget_attainments.extend(attainment_to_proto(a) for a in ind.budget_attainments)
    for s in ind.pipeline_stage_values:
        out.pipeline_stage_values.add(
            pipeline_id=s.pipeline_id,
            stage_id=s.stage_id,
            stage_name=s.stage_name,
            deal_count=s.deal_count,
            amount=money(s.amount_minor, s.currency),
        )
    out.weighted_forecasts.extend(money(m, c) for c, m in ind.weighted_forecasts)
    out.average_deal_sizes.extend(money(m, c) for c, m in ind.average_deal_sizes)
    for r in ind.activities_done:
        out.activities_done.add(
            user_id=r.user_id, activity_kind=f"ACTIVITY_KIND_{r.kind.upper()}", done_count=r.done_count
        )
    for c in ind.campaigns:
        item = out.campaigns.add(
            campaign_id=c.campaign_id,
            campaign_name=c.name,
            cost=money(c.cost_minor, c.currency),
            lead_count=c.lead_count,
            roi=c.roi,
        )
        if c.cost_per_lead_minor is not None:
            item.cost_per_lead.CopyFrom(money(c.cost_per_lead_minor, c.currency))
    return out


def attainment_to_proto(a: Attainment) -> pb.BudgetAttainment:
    return pb.BudgetAttainment(
        target=money(a.target_minor, a.currency), achieved=money(a.achieved_minor, a.currency), attainment=a.attainment
    )


def attainments_to_proto(found: Attainments) -> pb.GetAttainmentsResponse:
    out = pb.GetAttainmentsResponse(data_time=timestamp(found.data_time))
    for item in found.items:
        out.attainments.add(
            scope=SCOPES.to_proto(item.scope),
            scope_id=item.scope_id,
            period_start=date_to_proto(item.period.start),
            period_end=date_to_proto(item.period.end),
            budget_attainments=[attainment_to_proto(a) for a in item.budget_attainments],
        )
    return out
