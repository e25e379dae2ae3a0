"""/api/v1/indicators: management indicators (Indicadores gerenciales) of a user, a team or the
company over a month, quarter or year, from the reporting service's read models.

Who: a rep asks for themselves; a manager for the teams they lead and those teams' users (and
themselves); an admin for anything, the company included. A user or team the caller may not see
reads as missing, exactly as an unknown one does (404 user_not_found / team_not_found), as records
do; the company scope without the admin role is a 403 (it is a role's right, not a record)."""

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


@res.route(
    "GET", "/api/v1/indicators", query=IndicatorQuery, response=ProtoJson(reporting_pb2.Indicators), errors=(403, 404)
)
def get_indicators(query: IndicatorQuery) -> Response:
    """Indicators of a user, a team or the company for one period.
    Budget attainment, pipeline by stage and weighted forecast, win rate, average deal size and
    sales cycle, activities done per rep, prospect conversion, quote acceptance, campaign cost per
    lead and ROI. Rates are decimal fractions with 4 decimals ("0.2500"), empty when nothing to
    divide by; money is per currency."""
    p = principal()
    scope_id = query.id
    if query.scope == "user":
        scope_id = scope_id or p.id
        allowed = (
            p.role == "admin"
            or scope_id == p.id
            or (p.role == "manager" and scope_id in authenticator().directory.managed_user_ids(p.id))
        )
        if not allowed:
            raise _missing("user", scope_id)
    elif query.scope == "team":
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
    req = reporting_pb2.GetIndicatorsRequest(
        scope=reporting_pb2.IndicatorScope.Value(f"INDICATOR_SCOPE_{query.scope.upper()}"),
        scope_id=scope_id,
        period_kind=reporting_pb2.PeriodKind.Value(f"PERIOD_KIND_{query.period.upper()}"),
        period_start=types_pb2.Date(year=query.start.year, month=query.start.month, day=query.start.day),
    )
    res_ = call("reporting", stub(reporting_pb2_grpc.ReportingServiceStub, "reporting").GetIndicators, req)
    return respond(to_json(res_.indicators))
