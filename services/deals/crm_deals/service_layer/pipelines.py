"""Use cases on pipelines and their stages. Each runs in one unit of work, the pipeline's row
locked first, so concurrent stage changes queue; a change and its events commit together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from crm_deals.adapters import deal_repository as repository
from crm_deals.contract import convert
from crm_deals.domain import deals as deal_rules
from crm_deals.domain import pipelines as rules
from crm_deals.domain.deals import DealView
from crm_deals.domain.pipelines import DEFAULT_PIPELINE_NAME, Pipeline, Stage
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import check_version

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def not_found(pipeline_id: str) -> NotFound:
    return NotFound(f"pipeline '{pipeline_id}' not found", reason="pipeline_not_found", metadata={"id": pipeline_id})


def locked(uow: UnitOfWork, pipeline_id: str, field: str = "pipeline_id") -> Pipeline:
    """The pipeline, its row locked until the unit of work ends; NOT_FOUND if there is none."""
    if not pipeline_id:
        raise InvalidArgument.field(field, "is required")
    pipeline = repository.get_pipeline(uow.session, pipeline_id, for_update=True) if is_valid_id(pipeline_id) else None
    if pipeline is None:
        raise not_found(pipeline_id)
    return pipeline


def _announce(uow: UnitOfWork, pipeline: Pipeline, changed: Sequence[str]) -> None:
    uow.add_event(convert.pipeline_updated(pipeline, changed))


def _store(uow: UnitOfWork, before: Pipeline, after: Pipeline) -> None:
    if not repository.save_pipeline(uow.session, after, before.version):
        raise Conflict(f"pipeline '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")


def _take_default(uow: UnitOfWork, pipeline: Pipeline) -> None:
    """Makes `pipeline` the only default: the others lose the flag, and say so."""
    for other_id in repository.clear_default(uow.session, pipeline.id):
        other = repository.get_pipeline(uow.session, other_id)
        if other is not None:
            _announce(uow, other, ["is_default"])


def ensure_default_pipeline(db: Database, now: Clock = utc_now) -> Pipeline:
    """The default pipeline, created ("Ventas", with the Spanish default stages) if there is
    none; replicas starting together create one between them (a unique index decides)."""
    for _attempt in range(3):
        with db.uow() as uow:
            existing = repository.default_pipeline(uow.session)
            if existing is not None:
                return existing
            pipeline = rules.new_pipeline(Pipeline("", DEFAULT_PIPELINE_NAME, is_default=True), new_id, now())
            repository.add_pipeline(uow.session, pipeline)
            uow.add_event(convert.pipeline_created(pipeline))
            try:
                uow.commit()
            except IntegrityError:
                continue  # another replica made it first
            log.info("created the default pipeline '%s' (%s)", pipeline.name, pipeline.id)
            return pipeline
    raise RuntimeError("could not create the default pipeline")


def create_pipeline(uow: UnitOfWork, draft: Pipeline, now: Clock = utc_now) -> Pipeline:
    """Stores a new pipeline (the only default one when it says so) with pipeline_created. The
    servicer runs it once per request_id."""
    pipeline = rules.new_pipeline(draft, new_id, now())
    if pipeline.is_default:
        _take_default(uow, pipeline)
    repository.add_pipeline(uow.session, pipeline)
    uow.add_event(convert.pipeline_created(pipeline))
    return pipeline


def get_pipeline(db: Database, pipeline_id: str) -> Pipeline:
    with db.read() as session:
        pipeline = repository.get_pipeline(session, pipeline_id) if is_valid_id(pipeline_id) else None
    if pipeline is None:
        raise not_found(pipeline_id)
    return pipeline


def list_pipelines(db: Database, page_size: int, page_token: str) -> Page[Pipeline]:
    """A page of the pipelines, oldest first."""
    return read_page(
        db,
        {},
        page_size,
        page_token,
        lambda session, limit, after_id: repository.list_pipelines(session, limit=limit, after_id=after_id),
    )


def update_pipeline(
    db: Database, draft: Pipeline, mask: Sequence[str], *, expected_version: int = 0, now: Clock = utc_now
) -> Pipeline:
    """Renames the pipeline, makes it the default, or sets what an accepted quote does to its
    deals; a stale `expected_version` is ABORTED."""
    with db.uow() as uow:
        current = locked(uow, draft.id, "pipeline.id")
        check_version("pipeline", current.id, current.version, expected_version)
        after, changed = rules.updated(current, draft, mask, now())
        if not changed:
            return current
        if "is_default" in changed and after.is_default:
            _take_default(uow, after)
        _store(uow, current, after)
        _announce(uow, after, changed)
        uow.commit()
        return after


def delete_pipeline(db: Database, pipeline_id: str) -> None:
    """Deletes a pipeline that is not the default and has no deals (FAILED_PRECONDITION otherwise)."""
    with db.uow() as uow:
        current = locked(uow, pipeline_id, "id")
        if current.is_default:
            raise FailedPrecondition(
                f"'{current.name}' is the default pipeline: make another one the default first",
                reason="default_pipeline",
            )
        count = repository.count_deals(uow.session, pipeline_id=current.id)
        if count:
            raise FailedPrecondition(
                f"pipeline '{current.name}' has {count} deal(s): move or delete them first",
                reason="pipeline_has_deals",
                metadata={"deal_count": str(count)},
            )
        repository.delete_pipeline(uow.session, current.id)
        uow.add_event(convert.pipeline_deleted(current))
        uow.commit()


def add_stage(
    uow: UnitOfWork,
    pipeline_id: str,
    stage: Stage,
    before_stage_id: str,
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
) -> tuple[Pipeline, Stage]:
    """Adds an open stage before `before_stage_id` (after the last open stage when empty), with
    pipeline_updated; returns the pipeline and the stage added. The servicer runs it once per
    request_id."""
    current = locked(uow, pipeline_id)
    check_version("pipeline", current.id, current.version, expected_version)
    stage_id = new_id()
    after = rules.add_stage(current, stage, before_stage_id, stage_id, now())
    _store(uow, current, after)
    _announce(uow, after, ["stages"])
    added = after.stage(stage_id)
    assert added is not None
    return after, added


def update_stage(
    db: Database,
    pipeline_id: str,
    draft: Stage,
    mask: Sequence[str],
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
) -> Pipeline:
    """Renames a stage or changes its default probability (deals already in it keep theirs)."""
    with db.uow() as uow:
        current = locked(uow, pipeline_id)
        check_version("pipeline", current.id, current.version, expected_version)
        after, changed = rules.updated_stage(current, draft, mask, now())
        if not changed:
            return current
        _store(uow, current, after)
        _announce(uow, after, ["stages"])
        uow.commit()
        return after


def reorder_stages(
    db: Database, pipeline_id: str, stage_ids: Sequence[str], *, expected_version: int = 0, now: Clock = utc_now
) -> Pipeline:
    with db.uow() as uow:
        current = locked(uow, pipeline_id)
        check_version("pipeline", current.id, current.version, expected_version)
        after = rules.reordered(current, stage_ids, now())
        if after is current:
            return current
        _store(uow, current, after)
        _announce(uow, after, ["stages"])
        uow.commit()
        return after


def delete_stage(
    db: Database,
    pipeline_id: str,
    stage_id: str,
    move_to: str,
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
) -> tuple[Pipeline, int]:
    """Deletes an open stage; its deals first move to `move_to` (each move in its history, with a
    deal_stage_changed event). Returns the pipeline and how many deals moved."""
    with db.uow() as uow:
        current = locked(uow, pipeline_id)
        check_version("pipeline", current.id, current.version, expected_version)
        moving = repository.deal_ids_in_stage(uow.session, stage_id)
        at = now()
        after = rules.without_stage(current, stage_id, move_to, len(moving), at)
        target = after.open_stage(move_to, "move_deals_to_stage_id") if moving else None
        closed = frozenset({after.won_stage.id, after.lost_stage.id})
        actor = current_actor()
        for deal_id in moving:
            deal = repository.get_deal(uow.session, deal_id, for_update=True)
            if deal is None or target is None:
                continue
            moved = deal_rules.moved(deal, current, target.id, False, actor, at)
            moved = replace(moved, updated_at=at, version=deal.version + 1)
            if not repository.save_deal(uow.session, deal, moved):
                raise Conflict(f"deal '{deal.id}' changed meanwhile: try again", reason="version_mismatch")
            uow.add_event(convert.deal_stage_changed(DealView(moved, closed, at), stage_id, deal.probability))
        _store(uow, current, after)
        _announce(uow, after, ["stages"])
        uow.commit()
        return after, len(moving)
