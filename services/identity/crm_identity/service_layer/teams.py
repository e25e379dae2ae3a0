"""Use cases on teams. Each runs in one unit of work: the change and its event commit together."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session as DbSession

from crm_identity.adapters import repository
from crm_identity.contract import convert
from crm_identity.domain.teams import Team, update_paths, validated
from crm_identity.service_layer.common import check_version, once_more_after_integrity_error, utcnow
from crm_identity.service_layer.deps import Deps
from crm_platform import pagination
from crm_platform.db import UnitOfWork
from crm_platform.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id

CREATE_SCOPE = "CreateTeam"


@dataclass(frozen=True)
class TeamFilters:
    query: str = ""
    manager_id: str = ""


def _not_found(team_id: str) -> NotFound:
    return NotFound(f"team '{team_id}' not found", reason="team_not_found")


def _check_manager(session: DbSession, manager_id: str) -> None:
    if not manager_id:
        return
    manager = repository.get_user(session, manager_id) if is_valid_id(manager_id) else None
    if manager is None or not manager.active:
        raise InvalidArgument.field("team.manager_id", f"'{manager_id}' is not an existing active user")


def _check_name_free(session: DbSession, team: Team) -> None:
    existing = repository.team_name_taken_by(session, team.name_key, exclude_id=team.id)
    if existing:
        raise AlreadyExists(
            f"a team named '{team.name}' already exists",
            reason="duplicate_team_name",
            metadata={"existing_id": existing},
        )


def prepare_team(draft: Team) -> Team:
    """The draft validated, before any transaction."""
    return validated(draft)


def create_team(uow: UnitOfWork, team: Team) -> Team:
    """Stores a new team (validated by prepare_team) in the caller's unit of work and stages
    TeamCreated; the caller commits (the servicer through run_once, scope CREATE_SCOPE)."""
    now = utcnow()
    created = replace(team, id=new_id(), created_at=now, updated_at=now, version=1)
    _check_manager(uow.session, created.manager_id)
    _check_name_free(uow.session, created)
    repository.add_team(uow.session, created)
    uow.add_event(convert.team_created(created))
    return created


def get_team(deps: Deps, team_id: str) -> Team:
    if not is_valid_id(team_id):
        raise _not_found(team_id)
    with deps.db.read() as session:
        team = repository.get_team(session, team_id)
    if team is None:
        raise _not_found(team_id)
    return team


def list_teams(deps: Deps, filters: TeamFilters, page_size: int, page_token: str) -> tuple[list[Team], str]:
    size = pagination.page_size(page_size)
    key = pagination.decode_token(page_token, filters.__dict__)
    with deps.db.read() as session:
        rows = repository.list_teams(session, limit=size + 1, after_id=str(key[0]) if key else None, **filters.__dict__)
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        next_token = pagination.encode_token([rows[-1].id], filters.__dict__)
    return rows, next_token


def update_team(deps: Deps, patch: Team, mask: list[str], expected_version: int = 0) -> Team:
    if not is_valid_id(patch.id):
        raise _not_found(patch.id)
    paths = update_paths(mask, patch)

    def body() -> Team:
        with deps.db.uow() as uow:
            current = repository.get_team(uow.session, patch.id, for_update=True)
            if current is None:
                raise _not_found(patch.id)
            check_version("team", current.id, current.version, expected_version)
            candidate = validated(replace(current, **{p: getattr(patch, p) for p in paths}))
            changed = [p for p in paths if getattr(candidate, p) != getattr(current, p)]
            if not changed:
                return current
            if "manager_id" in changed:
                _check_manager(uow.session, candidate.manager_id)
            if candidate.name_key != current.name_key:
                _check_name_free(uow.session, candidate)
            updated = replace(candidate, updated_at=utcnow(), version=current.version + 1)
            repository.save_team(uow.session, updated, current.version)
            uow.add_event(convert.team_updated(updated, changed))
            uow.commit()
            return updated

    return once_more_after_integrity_error(body)


def delete_team(deps: Deps, team_id: str) -> None:
    """Deletes a team without members (FAILED_PRECONDITION team_has_members otherwise) and stages
    TeamDeleted with the team as it was."""
    if not is_valid_id(team_id):
        raise _not_found(team_id)

    def body() -> None:
        with deps.db.uow() as uow:
            team = repository.get_team(uow.session, team_id, for_update=True)
            if team is None:
                raise _not_found(team_id)
            members = repository.team_member_count(uow.session, team_id)
            if members:
                raise FailedPrecondition(
                    f"team '{team.name}' still has {members} member(s); move them to another team first",
                    reason="team_has_members",
                    metadata={"member_count": str(members)},
                )
            repository.delete_team(uow.session, team_id)
            uow.add_event(convert.team_deleted(team))
            uow.commit()

    once_more_after_integrity_error(body)
