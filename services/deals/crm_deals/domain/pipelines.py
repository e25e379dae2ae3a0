"""Sales pipelines and their stages: the default pipeline (Spanish stage names), and the rules for
adding, renaming, reordering and deleting stages. Pure Python: no I/O, no protobuf.

A pipeline's stages are kept in board order: its open stages in the order the team works them,
then exactly one won stage and one lost stage, where winning and losing put a deal."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_platform.update_mask import UpdatableFields

NAME_MAX = 200
MAX_STAGES = 30


class StageKind(enum.Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    default_probability: int
    kind: StageKind = StageKind.OPEN


@dataclass(frozen=True)
class Pipeline:
    id: str
    name: str
    stages: tuple[Stage, ...] = ()
    is_default: bool = False
    win_on_quote_accepted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.kind is StageKind.OPEN)

    @property
    def won_stage(self) -> Stage:
        return next(s for s in self.stages if s.kind is StageKind.WON)

    @property
    def lost_stage(self) -> Stage:
        return next(s for s in self.stages if s.kind is StageKind.LOST)

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def open_stage(self, stage_id: str, field: str = "stage_id") -> Stage:
        """The open stage `stage_id` of this pipeline; FAILED_PRECONDITION naming `field` otherwise."""
        stage = self.stage(stage_id)
        if stage is None:
            raise FailedPrecondition(
                f"{field}: stage '{stage_id}' is not a stage of pipeline '{self.name}'",
                reason="stage_not_in_pipeline",
                metadata={"field": field, "stage_id": stage_id, "pipeline_id": self.id},
            )
        if stage.kind is not StageKind.OPEN:
            raise FailedPrecondition(
                f"{field}: '{stage.name}' is the {stage.kind.value} stage: win or lose the deal instead",
                reason="stage_not_open",
                metadata={"field": field, "stage_id": stage_id},
            )
        return stage


# The default pipeline that exists from the first start: (name, default probability %).
DEFAULT_PIPELINE_NAME = "Ventas"
DEFAULT_OPEN_STAGES: tuple[tuple[str, int], ...] = (
    ("Prospección", 10),
    ("Calificación", 25),
    ("Propuesta", 50),
    ("Negociación", 75),
)
DEFAULT_WON_STAGE = ("Ganado", 100)
DEFAULT_LOST_STAGE = ("Perdido", 0)

UPDATABLE = UpdatableFields(
    fields=("name", "is_default", "win_on_quote_accepted"),
    immutable=frozenset({"id", "stages", "create_time", "update_time", "version"}),
)
STAGE_UPDATABLE = UpdatableFields(
    fields=("name", "default_probability"),
    immutable=frozenset({"id", "kind"}),
)


def _check_stage(stage: Stage, field: str, problems: list[FieldViolation]) -> Stage:
    name = stage.name.strip()
    if not name:
        problems.append(FieldViolation(f"{field}.name", "is required"))
    elif len(name) > NAME_MAX:
        problems.append(FieldViolation(f"{field}.name", f"must be at most {NAME_MAX} characters"))
    if not 0 <= stage.default_probability <= 100:
        problems.append(FieldViolation(f"{field}.default_probability", "must be between 0 and 100"))
    return replace(stage, name=name)


def _check_names(stages: Sequence[Stage], problems: list[FieldViolation], field: str = "stages") -> None:
    seen: set[str] = set()
    for stage in stages:
        key = stage.name.casefold()
        if key in seen:
            problems.append(FieldViolation(field, f"two stages are named '{stage.name}': stage names must differ"))
        seen.add(key)


def new_pipeline(draft: Pipeline, new_id: Callable[[], str], now: datetime) -> Pipeline:
    """A validated new pipeline. Stages given are kept in order (open ones first); a pipeline given
    no stages gets the default open stages; one with no won or lost stage gets the default ones."""
    problems: list[FieldViolation] = []
    name = draft.name.strip()
    if not name:
        problems.append(FieldViolation("pipeline.name", "is required"))
    elif len(name) > NAME_MAX:
        problems.append(FieldViolation("pipeline.name", f"must be at most {NAME_MAX} characters"))
    given = [_check_stage(s, f"pipeline.stages[{i}]", problems) for i, s in enumerate(draft.stages)]
    if len(given) > MAX_STAGES:
        problems.append(FieldViolation("pipeline.stages", f"at most {MAX_STAGES} stages"))
    opens = [s for s in given if s.kind is StageKind.OPEN]
    wons = [s for s in given if s.kind is StageKind.WON]
    losts = [s for s in given if s.kind is StageKind.LOST]
    if len(wons) > 1 or len(losts) > 1:
        problems.append(FieldViolation("pipeline.stages", "a pipeline has one won stage and one lost stage"))
    if given and not opens:
        problems.append(FieldViolation("pipeline.stages", "a pipeline needs at least one open stage"))
    if not given:
        opens = [Stage("", n, p) for n, p in DEFAULT_OPEN_STAGES]
    if not wons:
        wons = [Stage("", DEFAULT_WON_STAGE[0], DEFAULT_WON_STAGE[1], StageKind.WON)]
    if not losts:
        losts = [Stage("", DEFAULT_LOST_STAGE[0], DEFAULT_LOST_STAGE[1], StageKind.LOST)]
    stages = [*opens, wons[0], losts[0]]
    _check_names(stages, problems, "pipeline.stages")
    if problems:
        raise InvalidArgument(problems)
    return replace(
        draft,
        id=new_id(),
        name=name,
        stages=tuple(replace(s, id=new_id()) for s in stages),
        created_at=now,
        updated_at=now,
        version=1,
    )


def _bumped(pipeline: Pipeline, now: datetime, stages: tuple[Stage, ...] | None = None) -> Pipeline:
    """The pipeline one version on, with `stages` when given."""
    return replace(
        pipeline,
        updated_at=now,
        version=pipeline.version + 1,
        stages=pipeline.stages if stages is None else stages,
    )


def updated(current: Pipeline, draft: Pipeline, paths: Sequence[str], now: datetime) -> tuple[Pipeline, list[str]]:
    """The pipeline with the masked fields of `draft`, and the names of those that changed. A
    default pipeline cannot stop being the default (make another one the default instead)."""
    mask = UPDATABLE.check(paths)
    after = UPDATABLE.apply(current, replace(draft, name=draft.name.strip()), mask)
    problems: list[FieldViolation] = []
    if not after.name:
        problems.append(FieldViolation("pipeline.name", "is required"))
    elif len(after.name) > NAME_MAX:
        problems.append(FieldViolation("pipeline.name", f"must be at most {NAME_MAX} characters"))
    if current.is_default and not after.is_default:
        problems.append(
            FieldViolation("pipeline.is_default", "make another pipeline the default instead of unsetting it")
        )
    if problems:
        raise InvalidArgument(problems)
    changed = UPDATABLE.changed(current, after)
    return (_bumped(after, now) if changed else current), changed


def add_stage(pipeline: Pipeline, stage: Stage, before_stage_id: str, stage_id: str, now: datetime) -> Pipeline:
    """The pipeline with a new open stage before `before_stage_id` (an open stage), or after the
    last open stage."""
    problems: list[FieldViolation] = []
    if stage.kind is not StageKind.OPEN:
        problems.append(FieldViolation("stage.kind", "only open stages can be added"))
    stage = replace(_check_stage(stage, "stage", problems), id=stage_id, kind=StageKind.OPEN)
    if len(pipeline.stages) >= MAX_STAGES:
        problems.append(FieldViolation("stage", f"a pipeline has at most {MAX_STAGES} stages"))
    opens = list(pipeline.open_stages)
    at = len(opens)
    if before_stage_id:
        positions = [i for i, s in enumerate(opens) if s.id == before_stage_id]
        if not positions:
            problems.append(FieldViolation("before_stage_id", f"'{before_stage_id}' is not an open stage of it"))
        else:
            at = positions[0]
    opens.insert(at, stage)
    stages = [*opens, pipeline.won_stage, pipeline.lost_stage]
    _check_names(stages, problems, "stage.name")
    if problems:
        raise InvalidArgument(problems)
    return _bumped(pipeline, now, stages=tuple(stages))


def _existing(pipeline: Pipeline, stage_id: str, field: str = "stage.id") -> Stage:
    stage = pipeline.stage(stage_id)
    if stage is None:
        raise NotFound(
            f"stage '{stage_id}' not found in pipeline '{pipeline.id}'",
            reason="stage_not_found",
            metadata={"field": field, "stage_id": stage_id},
        )
    return stage


def updated_stage(pipeline: Pipeline, draft: Stage, paths: Sequence[str], now: datetime) -> tuple[Pipeline, list[str]]:
    """The pipeline with the stage's masked fields (name, default probability) changed, and the
    names of the fields that changed."""
    current = _existing(pipeline, draft.id)
    mask = STAGE_UPDATABLE.check(paths)
    problems: list[FieldViolation] = []
    after = _check_stage(STAGE_UPDATABLE.apply(current, draft, mask), "stage", problems)
    stages = [after if s.id == current.id else s for s in pipeline.stages]
    _check_names(stages, problems, "stage.name")
    if problems:
        raise InvalidArgument(problems)
    changed = STAGE_UPDATABLE.changed(current, after)
    return (_bumped(pipeline, now, stages=tuple(stages)) if changed else pipeline), changed


def reordered(pipeline: Pipeline, stage_ids: Sequence[str], now: datetime) -> Pipeline:
    """The pipeline with its open stages in the order of `stage_ids` (every open stage once)."""
    opens = {s.id: s for s in pipeline.open_stages}
    if len(stage_ids) != len(set(stage_ids)) or set(stage_ids) != set(opens):
        raise InvalidArgument.field(
            "stage_ids", f"name every open stage of the pipeline exactly once ({len(opens)} stages)"
        )
    stages = (*(opens[i] for i in stage_ids), pipeline.won_stage, pipeline.lost_stage)
    if stages == pipeline.stages:
        return pipeline
    return _bumped(pipeline, now, stages=stages)


def without_stage(pipeline: Pipeline, stage_id: str, move_to: str, deal_count: int, now: datetime) -> Pipeline:
    """The pipeline without open stage `stage_id`. Its `deal_count` deals need `move_to`, another
    open stage of the pipeline; the last open stage cannot go."""
    stage = _existing(pipeline, stage_id, "stage_id")
    if stage.kind is not StageKind.OPEN:
        raise FailedPrecondition(
            f"'{stage.name}' is the {stage.kind.value} stage: a pipeline always keeps it", reason="stage_not_open"
        )
    if len(pipeline.open_stages) == 1:
        raise FailedPrecondition(
            f"'{stage.name}' is the pipeline's only open stage: add another one first", reason="last_open_stage"
        )
    if deal_count and not move_to:
        raise FailedPrecondition(
            f"stage '{stage.name}' has {deal_count} deal(s): name the open stage to move them to "
            "(move_deals_to_stage_id)",
            reason="stage_has_deals",
            metadata={"stage_id": stage_id, "deal_count": str(deal_count)},
        )
    if move_to:
        if move_to == stage_id:
            raise InvalidArgument.field("move_deals_to_stage_id", "must be another stage than the one deleted")
        pipeline.open_stage(move_to, "move_deals_to_stage_id")
    return _bumped(pipeline, now, stages=tuple(s for s in pipeline.stages if s.id != stage_id))
