"""/api/v1/budgets: sales targets (Presupuesto) of a user or a team for a month, quarter or year.

Who: an admin sets and reads every budget; a manager sets and reads the budgets of the users of
the teams they lead and those teams' own budgets (and reads their own); a rep reads their own and
changes none. One budget per owner, period and currency (409 otherwise); the target is exact and
may not have more decimals than its currency (400 naming the field)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import Response, url_for
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.common.v1 import types_pb2
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_gateway.access import authenticator, principal
from crm_gateway.api import ProblemError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.convert import ProtoJson, ProtoPage, from_json, page, to_json
from crm_gateway.lists import UUID_PATTERN, PageToken
from crm_gateway.money import MoneyIn
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("budgets", "Budgets", "Sales targets (Presupuesto) of a user or a team for a period.")

PeriodKind = Literal["month", "quarter", "year"]
Day = Annotated[date, Field(strict=False)]
OptionalId = Annotated[str, StringConstraints(pattern=UUID_PATTERN.replace("^", "^(").replace("$", ")?$"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BudgetCreate(_Strict):
    """A budget of a user (`user_id`) or of a team (`team_id`): exactly one of them. `period_start`
    is the first day of the period (the 1st of a month; of January, April, July or October for a
    quarter; of January for a year)."""

    user_id: OptionalId = ""
    team_id: OptionalId = ""
    period_kind: PeriodKind
    period_start: Day
    target: MoneyIn


class BudgetPatch(_Strict):
    """The new target (amount, and currency if it changes)."""

    target: MoneyIn


class BudgetListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: OptionalId = ""
    team_id: OptionalId = Field("", description="The team's own budgets and its members'.")
    period_kind: PeriodKind | None = None
    period_start_from: date | None = Field(None, description="Periods starting on or after (YYYY-MM-DD).")
    period_start_to: date | None = Field(None, description="Periods starting on or before (YYYY-MM-DD).")
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: PageToken = ""


def _stub() -> Any:
    return stub(reporting_pb2_grpc.ReportingServiceStub, "reporting")


def led_teams(user_id: str) -> set[str]:
    """The teams a manager leads (from identity's events, as the gateway follows them)."""
    directory = authenticator().directory
    with directory.lock:
        return {team for team, (manager, _v) in directory.teams.items() if manager == user_id}


def _may_read(user_id: str, team_id: str) -> bool:
    p = principal()
    if p.role == "admin":
        return True
    if p.role == "manager":
        if user_id:
            return user_id in authenticator().directory.managed_user_ids(p.id)
        return team_id in led_teams(p.id)
    return bool(user_id) and user_id == p.id


def _may_set(user_id: str, team_id: str) -> bool:
    p = principal()
    if p.role == "admin":
        return True
    if p.role == "manager":
        if user_id:  # the users of the teams they lead, not themselves
            return user_id != p.id and user_id in authenticator().directory.managed_user_ids(p.id)
        return team_id in led_teams(p.id)
    return False


def _fetch(budget_id: str) -> reporting_pb2.Budget:
    budget = call("reporting", _stub().GetBudget, reporting_pb2.GetBudgetRequest(id=budget_id)).budget
    if not _may_read(budget.user_id, budget.team_id):
        raise ProblemError(404, "budget_not_found", f"budget '{budget_id}' not found")
    return budget


def _check_settable(budget: reporting_pb2.Budget | BudgetCreate) -> None:
    if not _may_set(budget.user_id, budget.team_id):
        if principal().role == "rep":
            raise ProblemError(403, "forbidden", "only managers and admins set budgets")
        raise ProblemError(403, "forbidden_owner", "you may set budgets only for the users and teams you lead")


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(400, "validation_failed", f"{field}: {message}", errors=[{"field": field, "message": message}])


ONE = ProtoJson(reporting_pb2.Budget)


@res.route("GET", "/api/v1/budgets", query=BudgetListQuery, response=ProtoPage(reporting_pb2.Budget))
def list_budgets(query: BudgetListQuery) -> Response:
    """List the budgets the caller may see, in id order.
    A rep sees their own; a manager names a user or a team they lead (by default the one team
    they lead); an admin sees all."""
    p = principal()
    user_id, team_id = query.user_id, query.team_id
    if p.role == "rep":
        if (user_id and user_id != p.id) or team_id:
            return respond(page([], ""))
        user_id = p.id
    elif p.role == "manager":
        teams = led_teams(p.id)
        if not user_id and not team_id:
            if len(teams) != 1:
                raise _invalid("team_id", "name the team (or the user) whose budgets to list")
            team_id = next(iter(teams))
        if (user_id and not _may_read(user_id, "")) or (team_id and team_id not in teams):
            return respond(page([], ""))
    req = reporting_pb2.ListBudgetsRequest(
        user_id=user_id, team_id=team_id, page_size=query.page_size, page_token=query.page_token
    )
    if query.period_kind:
        req.period_kind = reporting_pb2.PeriodKind.Value(f"PERIOD_KIND_{query.period_kind.upper()}")
    for name in ("period_start_from", "period_start_to"):
        day = getattr(query, name)
        if day is not None:
            getattr(req, name).CopyFrom(types_pb2.Date(year=day.year, month=day.month, day=day.day))
    res_ = call("reporting", _stub().ListBudgets, req)
    return respond(page(list(res_.budgets), res_.next_page_token))


@res.route(
    "POST",
    "/api/v1/budgets",
    body=BudgetCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_budget(body: BudgetCreate) -> Response:
    """Set a budget (managers for the users and teams they lead, admins for anyone).
    409 when the owner already has a budget for that period and currency."""
    if bool(body.user_id) == bool(body.team_id):
        raise _invalid("user_id", "set exactly one of user_id and team_id")
    _check_settable(body)
    directory = authenticator().directory
    if body.user_id and body.user_id not in directory.users:
        raise _invalid("user_id", f"'{body.user_id}' is not a user")
    if body.team_id and body.team_id not in directory.teams:
        raise _invalid("team_id", f"'{body.team_id}' is not a team")
    msg = from_json(reporting_pb2.Budget(), body.model_dump())
    req = reporting_pb2.CreateBudgetRequest(budget=msg, request_id=idempotency_key(principal().id))
    budget = call("reporting", _stub().CreateBudget, req).budget
    headers = {"Location": url_for("budgets.get_budget", budget_id=budget.id), **etag(budget.version)}
    return respond(to_json(budget), 201, headers)


@res.route("GET", "/api/v1/budgets/<id:budget_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_budget(budget_id: str) -> Response:
    """Get a budget."""
    budget = _fetch(budget_id)
    return respond(to_json(budget), headers=etag(budget.version))


@res.route(
    "PATCH",
    "/api/v1/budgets/<id:budget_id>",
    body=BudgetPatch,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_budget(budget_id: str, body: BudgetPatch) -> Response:
    """Change a budget's target."""
    current = _fetch(budget_id)
    _check_settable(current)
    msg = from_json(reporting_pb2.Budget(id=budget_id), body.model_dump())
    req = reporting_pb2.UpdateBudgetRequest(
        budget=msg,
        update_mask=FieldMask(paths=["target"]),
        expected_version=check_version(if_match(), current.version, "budget"),
    )
    budget = call("reporting", _stub().UpdateBudget, req).budget
    return respond(to_json(budget), headers=etag(budget.version))


@res.route("DELETE", "/api/v1/budgets/<id:budget_id>", status=204, errors=(404,))
def delete_budget(budget_id: str) -> Response:
    """Delete a budget."""
    _check_settable(_fetch(budget_id))
    call("reporting", _stub().DeleteBudget, reporting_pb2.DeleteBudgetRequest(id=budget_id))
    return Response(status=204)
