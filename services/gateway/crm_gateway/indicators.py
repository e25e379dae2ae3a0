"""/api/v1/indicators: management indicators (Indicadores gerenciales) of a user, a team or the
company over a month, quarter or year, from the reporting service's read models.

Who: a rep asks for themselves; a manager for the teams they lead and those teams' users (and
themselves); an admin for anything, the company included. A user or team the caller may not see
reads as missing, exactly as an unknown one does (404 user_not_found / team_not_found), as records
do; the company scope without the admin role is a 403 (it is a role's right, not a record).

/api/v1/indicators/attainments: budget attainment alone, of the same scopes by the same rules, over
one or more consecutive periods and, with `breakdown`, of each part of the scope (a team's
members; the company's users or teams) in one call: whoever may read a team may read each of its
members (a manager, the users of the teams they lead), and only an admin the company's parts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from flask import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.common.v1 import types_pb2
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_gateway.access import authenticator, principal
from crm_gateway.api import ProblemError, call, respond
from crm_gateway.budgets import led_teams
from crm_gateway.convert import ProtoJson, to_json
from crm_gateway.lists import UUID_PATTERN
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("indicators", "Indicators", "Management indicators (Indicadores gerenciales).")

OptionalId = Annotated[str, StringConstraints(pattern=UUID_PATTERN.replace("^", "^(").replace("$", ")?$"))]


class IndicatorQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["user", "team", "company"] = Field("user", description="Whose figures.")
    id: OptionalId = Field("", description="The user (default: the caller) or the team; none for the company.")
    period: Literal["month", "quarter", "year"] = "month"
    start: date = Field(description="The first day of the period (YYYY-MM-DD), in the company's time zone.")


def _missing(kind: str, scope_id: str) -> ProblemError:
    """What an unknown user or team answers (the reporting service's words for a team), so that
    one the caller may not see cannot be told from one that does not exist."""
    return ProblemError(404, f"{kind}_not_found", f"{kind} '{scope_id}' not found")


def _scope_id(scope: str, scope_id: str) -> str:
    """The scope's id once the caller may read it (the caller's own id for a user scope without
    one); raises what an unknown one answers otherwise."""
    p = principal()
    if scope == "user":
        scope_id = scope_id or p.id
        allowed = (
            p.role == "admin"
            or scope_id == p.id
            or (p.role == "manager" and scope_id in authenticator().directory.managed_user_ids(p.id))
        )
        if not allowed:
            raise _missing("user", scope_id)
    elif scope == "team":
        if not scope_id:
            message = "name the team"
            raise ProblemError(400, "validation_failed", f"id: {message}", errors=[{"field": "id", "message": message}])
        if p.role != "admin" and not (p.role == "manager" and scope_id in led_teams(p.id)):
            raise _missing("team", scope_id)
    else:
        if scope_id:
            message = "the company scope takes no id"
            raise ProblemError(400, "validation_failed", f"id: {message}", errors=[{"field": "id", "message": message}])
        if p.role != "admin":
            raise ProblemError(403, "forbidden", "only an admin may see the indicators of the company")
    return scope_id


def _date(day: date) -> types_pb2.Date:
    return types_pb2.Date(year=day.year, month=day.month, day=day.day)


@res.route(
    "GET", "/api/v1/indicators", query=IndicatorQuery, response=ProtoJson(reporting_pb2.Indicators), errors=(403, 404)
)
def get_indicators(query: IndicatorQuery) -> Response:
    """Indicators of a user, a team or the company for one period.
    Budget attainment, pipeline by stage and weighted forecast, win rate, average deal size and
    sales cycle, activities done per rep, prospect conversion, quote acceptance, campaign cost per
    lead and ROI. Rates are decimal fractions with 4 decimals ("0.2500"), empty when nothing to
    divide by; money is per currency."""
    req = reporting_pb2.GetIndicatorsRequest(
        scope=reporting_pb2.IndicatorScope.Value(f"INDICATOR_SCOPE_{query.scope.upper()}"),
        scope_id=_scope_id(query.scope, query.id),
        period_kind=reporting_pb2.PeriodKind.Value(f"PERIOD_KIND_{query.period.upper()}"),
        period_start=_date(query.start),
    )
    res_ = call("reporting", stub(reporting_pb2_grpc.ReportingServiceStub, "reporting").GetIndicators, req)
    return respond(to_json(res_.indicators))


class AttainmentQuery(IndicatorQuery):
    count: int = Field(1, ge=1, le=24, description="Consecutive periods from `start` (1 to 24).")
    breakdown: Literal["none", "users", "teams"] = Field(
        "none",
        description="Also each part of the scope: `users` a team's members or the company's users; "
        "`teams` the company's teams. None for a user.",
    )


@res.route(
    "GET",
    "/api/v1/indicators/attainments",
    query=AttainmentQuery,
    response=ProtoJson(reporting_pb2.GetAttainmentsResponse),
    errors=(403, 404),
)
def get_attainments(query: AttainmentQuery) -> Response:
    """Budget attainment of a scope and of each of its parts, over consecutive periods.
    The figures `budget_attainments` of GET /api/v1/indicators gives for each of them (target,
    achieved, attainment, per currency), read in one pass: period by period, the scope first, then
    its parts by kind and id. The parts follow the scope's reach: a manager's team lists its
    members; only an admin reads the company's users or teams."""
    breakdown = "UNSPECIFIED" if query.breakdown == "none" else query.breakdown.upper()
    req = reporting_pb2.GetAttainmentsRequest(
        scope=reporting_pb2.IndicatorScope.Value(f"INDICATOR_SCOPE_{query.scope.upper()}"),
        scope_id=_scope_id(query.scope, query.id),
        period_kind=reporting_pb2.PeriodKind.Value(f"PERIOD_KIND_{query.period.upper()}"),
        period_start=_date(query.start),
        period_count=query.count,
        breakdown=reporting_pb2.AttainmentBreakdown.Value(f"ATTAINMENT_BREAKDOWN_{breakdown}"),
    )
    res_ = call("reporting", stub(reporting_pb2_grpc.ReportingServiceStub, "reporting").GetAttainments, req)
    return respond(to_json(res_))
