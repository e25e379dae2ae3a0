"""Use cases on reports (Informe): saved definitions (create with a request id, read, list with the
owner / shared visibility, update with a field mask and version, delete), running a definition
(one page of typed rows), and exporting all its rows as an Excel workbook or an iCalendar file.

A run reads only the read models, over the owners it is given (the gateway passes what the caller
may see). Pages of a run are offsets into the report's order (a token bound to the definition,
zone and owners): a report is a query over a snapshot, not a list of records that is paged by
key."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from google.protobuf.message import Message

from crm_platform import pagination
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork, utc
from crm_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from crm_platform.idempotency import run_once
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, owner_filter, read_page
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version
from crm_reporting.adapters import ics_export, record_names, xlsx_export
from crm_reporting.adapters import report_definition_repository as repository
from crm_reporting.adapters.report_definition_repository import DefinitionFilters
from crm_reporting.adapters.report_query import OutputColumn, build, data_span, table_of, where_clauses
from crm_reporting.domain.report_catalogue import FieldType
from crm_reporting.domain.report_definitions import (
    Bucket,
    CheckedReport,
    ReportSpec,
    SavedReport,
    check_report,
    check_time_zone,
)
from crm_reporting.domain.report_words import REFERENCES, VALUE_WORDS, value_word

Clock = Callable[[], datetime]
# The response message of a create (stored with its request id and answered again for a retry).
M = TypeVar("M", bound=Message)
MAX_NAME = 200
MAX_DESCRIPTION = 2000
# Rows read from the database at a time while exporting (a server-side cursor on PostgreSQL).
EXPORT_BATCH = 2000
# An ICS export stops after this many events (a calendar is not a data dump).
MAX_CALENDAR_EVENTS = 100_000

UPDATABLE = UpdatableFields(
    fields=("name", "description", "module", "filters", "groupings", "aggregates", "columns", "order_by", "shared"),
    immutable=frozenset({"id", "owner_id", "create_time", "update_time", "version"}),
)
SPEC_PATHS = ("module", "filters", "groupings", "aggregates", "columns", "order_by")


def not_found(report_id: str) -> NotFound:
    return NotFound(
        f"report definition '{report_id}' not found", reason="report_definition_not_found", metadata={"id": report_id}
    )


def _check_text(name: str, description: str, prefix: str) -> None:
    problems = []
    if not name.strip():
        problems.append((f"{prefix}name", "must not be empty"))
    elif len(name) > MAX_NAME:
        problems.append((f"{prefix}name", f"at most {MAX_NAME} characters"))
    if len(description) > MAX_DESCRIPTION:
        problems.append((f"{prefix}description", f"at most {MAX_DESCRIPTION} characters"))
    if problems:
        from crm_platform.errors import FieldViolation

        raise InvalidArgument([FieldViolation(f, d) for f, d in problems])


# ---- saved definitions ----


def create_definition(
    db: Database,
    draft: SavedReport,
    *,
    request_id: str,
    now: Clock,
    to_response: Callable[[SavedReport], M],
    response_class: type[M],
) -> M:
    """Stores a new definition (checked against its module) owned by draft.owner_id (the actor
    when empty); the same request_id answers as the first call did."""
    prefix = "report_definition."
    _check_text(draft.name, draft.description, prefix)
    check_report(draft.spec, prefix=prefix)
    owner = draft.owner_id or current_actor()
    if not owner:
        raise InvalidArgument.field(f"{prefix}owner_id", "name the owner")

    def change(uow: UnitOfWork) -> M:
        t = now()
        report = replace(draft, id=new_id(), owner_id=owner, created_at=t, updated_at=t, version=1)
        repository.add(uow.session, report)
        return to_response(report)

    return run_once(db, "reporting.create_report_definition", request_id, response_class, change)


def get_definition(db: Database, report_id: str) -> SavedReport:
    if not is_valid_id(report_id):
        raise not_found(report_id)
    with db.read() as session:
        report = repository.get(session, report_id)
    if report is None:
        raise not_found(report_id)
    return report


def list_definitions(db: Database, filters: DefinitionFilters, page_size: int, page_token: str) -> Page[SavedReport]:
    filters = replace(filters, owner_ids=owner_filter(list(filters.owner_ids)), query=filters.query[:200])
    key = {
        "q": filters.query,
        "m": filters.module,
        "o": list(filters.owner_ids),
        "s": filters.include_shared,
    }
    return read_page(db, key, page_size, page_token, lambda s, limit, after: repository.page(s, filters, limit, after))


def update_definition(
    db: Database, draft: SavedReport, paths: Sequence[str], *, expected_version: int, now: Clock
) -> SavedReport:
    prefix = "report_definition."
    chosen = UPDATABLE.check(list(paths))
    if not is_valid_id(draft.id):
        raise not_found(draft.id)
    with db.uow() as uow:
        current = repository.get(uow.session, draft.id, for_update=True)
        if current is None:
            raise not_found(draft.id)
        check_version("report definition", current.id, current.version, expected_version)
        spec = current.spec
        spec_changes = {p: getattr(draft.spec, p) for p in SPEC_PATHS if p in chosen}
        if spec_changes:
            spec = replace(spec, **spec_changes)
        updated = replace(
            current,
            name=draft.name if "name" in chosen else current.name,
            description=draft.description if "description" in chosen else current.description,
            shared=draft.shared if "shared" in chosen else current.shared,
            spec=spec,
        )
        _check_text(updated.name, updated.description, prefix)
        check_report(updated.spec, prefix=prefix)
        if updated == current:
            return current
        updated = replace(updated, version=current.version + 1, updated_at=now())
        repository.replace(uow.session, updated)
        uow.commit()
    return updated


def delete_definition(db: Database, report_id: str) -> None:
    if not is_valid_id(report_id):
        raise not_found(report_id)
    with db.uow() as uow:
        if not repository.delete(uow.session, report_id):
            raise not_found(report_id)
        uow.commit()


# ---- running ----


@dataclass(frozen=True)
class ReportRun:
    columns: list[OutputColumn]
    rows: list[list[Any]]
    next_page_token: str
    total_row_count: int
    data_time: datetime | None


def resolve_spec(db: Database, spec: ReportSpec | None, report_id: str) -> tuple[ReportSpec, str]:
    """The definition a run names (an unsaved one, or a saved one by id) and its name."""
    if spec is not None:
        return spec, ""
    if not report_id:
        raise InvalidArgument.field("report_definition", "give a definition or the id of a saved one")
    saved = get_definition(db, report_id)
    return saved.spec, saved.name


def _checked(session: Any, spec: ReportSpec, time_zone: str, prefix: str) -> CheckedReport:
    """The definition checked, in the zone asked for, else the caller's (their profile's zone as
    the read model of users has it, when it is a known one), else UTC."""
    zone = time_zone
    if not zone:
        zone = repository.user_time_zone(session, current_actor())
        try:
            check_time_zone(zone)
        except InvalidArgument:
            zone = ""
    return check_report(spec, zone or "UTC", prefix=prefix)


def run_report(
    db: Database,
    spec: ReportSpec,
    *,
    time_zone: str,
    owner_ids: Sequence[str],
    page_size: int,
    page_token: str,
    prefix: str = "report_definition.",
) -> ReportRun:
    owners = owner_filter(list(owner_ids))
    size = pagination.page_size(page_size)
    with db.read() as session:
        report = _checked(session, spec, time_zone, prefix)
        fingerprint = {"d": spec.to_json(), "m": spec.module, "z": report.time_zone.key, "o": list(owners)}
        key = pagination.decode_token(page_token, fingerprint)
        offset = 0
        if key:
            if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
                raise InvalidArgument.field("page_token", "is not a token this report issued")
            offset = key[0]
        dialect = db.engine.dialect.name
        span = data_span(session, report, owners) if dialect == "sqlite" else {}
        built = build(report, owners, dialect, span)
        if built.grouped:
            # One pass: the groups of the page and how many groups there are in all.
            stmt = built.statement.add_columns(sa.func.count().over().label("_total"))
            result = session.execute(stmt.limit(size).offset(offset)).all()
            total = int(result[0][-1]) if result else _count(session, built.statement)
        else:
            result = session.execute(built.statement.limit(size).offset(offset)).all()
            table = table_of(report.module)
            total = int(
                session.scalar(sa.select(sa.func.count()).select_from(table).where(*where_clauses(report, owners))) or 0
            )
        rows = [built.decode(r) for r in result]
        data_time = repository.data_time(session)
    end = offset + len(rows)
    token = pagination.encode_token([end], fingerprint) if rows and end < total else ""
    return ReportRun(built.columns, rows, token, total, data_time)


def _count(session: Any, stmt: sa.Select[Any]) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)


# ---- exporting ----


@dataclass(frozen=True)
class ExportFile:
    """A finished export in a temporary file (the caller streams it, then deletes it)."""

    path: Path
    content_type: str
    filename: str
    rows: int


def _description(
    report: CheckedReport, name: str, generated: datetime, data_time: datetime | None
) -> xlsx_export.Description:
    zone = report.time_zone
    lines = [
        ("Módulo", report.module.label),
        ("Zona horaria", zone.key),
        ("Generado", generated.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
        ("Datos al", data_time.astimezone(zone).strftime("%Y-%m-%d %H:%M") if data_time else "(sin eventos)"),
    ]
    for i, f in enumerate(report.filters, 1):
        values = ", ".join(str(v) for v in f.values)
        lines.append((f"Filtro {i}", f"{f.field.label} {f.operator} {values}"))
    if not report.filters:
        lines.append(("Filtros", "(ninguno)"))
    for i, g in enumerate(report.groupings, 1):
        lines.append((f"Agrupación {i}", g.label if g.bucket != Bucket.NONE else g.field.label))
    if report.by_currency:
        lines.append(("Agrupación por moneda", "sí: los montos de monedas distintas no se suman"))
    for i, a in enumerate(report.aggregates, 1):
        lines.append((f"Cálculo {i}", a.label))
    if report.order:
        lines.append(("Orden", ", ".join(f"{o.key}{' desc' if o.descending else ''}" for o in report.order)))
    return xlsx_export.Description(title=name or f"Informe de {report.module.label.lower()}", lines=lines)


def _stream_rows(session: Any, stmt: sa.Select[Any], decode: Callable[[Any], list[Any]]) -> Iterator[list[Any]]:
    result = session.execute(stmt, execution_options={"yield_per": EXPORT_BATCH, "stream_results": True})
    for partition in result.partitions():
        for row in partition:
            yield decode(row)


def readable_rows(
    session: Any, module: str, columns: Sequence[OutputColumn], rows: Iterator[list[Any]], chunk: int = 1000
) -> Iterator[list[Any]]:
    """The rows as a person reads them: an id of a user, client, contact, stage, pipeline or
    campaign as that record's name (the id itself when the read models do not know it), a coded
    value as its word (won → "Ganado"); other cells (dates, money, numbers) keep their types.
    Names are looked up a chunk of rows at a time, so memory stays flat."""
    refs = [(i, REFERENCES[c.key]) for i, c in enumerate(columns) if c.key in REFERENCES]
    coded = [(i, c.key) for i, c in enumerate(columns) if c.key in VALUE_WORDS.get(module, {})]
    if not refs and not coded:
        yield from rows
        return
    it = iter(rows)
    while batch := list(islice(it, chunk)):
        found: dict[int, dict[str, str]] = {}
        for i, kind in refs:
            found[i] = record_names.names(session, kind, {row[i] for row in batch if isinstance(row[i], str)})
        for row in batch:
            for i, _ in refs:
                if isinstance(row[i], str) and row[i]:
                    row[i] = found[i].get(row[i], row[i])
            for i, key in coded:
                if isinstance(row[i], str):
                    row[i] = value_word(module, key, row[i])
            yield row


def _temp_file(suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="crm-report-", suffix=suffix)
    os.close(fd)
    return Path(name)


def _filename(name: str, module: str, stamp: datetime, ext: str) -> str:
    base = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in (name or f"informe-{module}"))[:60]
    return f"{base.strip('-') or 'informe'}-{stamp.strftime('%Y%m%d-%H%M%S')}.{ext}"


def export_xlsx(
    db: Database, spec: ReportSpec, *, name: str, time_zone: str, owner_ids: Sequence[str], now: Clock
) -> ExportFile:
    owners = owner_filter(list(owner_ids))
    generated = now()
    path = _temp_file(".xlsx")
    try:
        with db.read() as session:
            report = _checked(session, spec, time_zone, "report_definition.")
            dialect = db.engine.dialect.name
            span = data_span(session, report, owners) if dialect == "sqlite" else {}
            built = build(report, owners, dialect, span)
            data_time = repository.data_time(session)
            with path.open("wb") as out:
                n = xlsx_export.write_workbook(
                    out,
                    built.columns,
                    readable_rows(
                        session, spec.module, built.columns, _stream_rows(session, built.statement, built.decode)
                    ),
                    zone=report.time_zone,
                    grouped=built.grouped,
                    description=_description(report, name, generated, data_time),
                    sheet_title=report.module.label,
                )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ExportFile(path, xlsx_export.CONTENT_TYPE, _filename(name, spec.module, generated, "xlsx"), n)


def export_ics(
    db: Database,
    spec: ReportSpec,
    *,
    name: str,
    time_zone: str,
    owner_ids: Sequence[str],
    date_field: str,
    now: Clock,
) -> ExportFile:
    owners = owner_filter(list(owner_ids))
    generated = now()
    with db.read() as session:
        report = _checked(session, spec, time_zone, "report_definition.")
    module = report.module
    if report.grouped:
        raise FailedPrecondition(
            "a calendar lists records: export a report without groupings as .ics", reason="grouped_report_not_dated"
        )
    field_name = date_field or module.calendar.date_field
    if not field_name:
        raise FailedPrecondition(
            f"module {module.name} has no date that places its records on a calendar: name a date_field",
            reason="report_not_dated",
        )
    place = module.field(field_name)
    if place is None:
        raise InvalidArgument.field("date_field", f"unknown field '{field_name}' for module {module.name}")
    if not place.dated:
        raise FailedPrecondition(
            f"'{field_name}' is a {place.type} field, not a date or time", reason="report_not_dated"
        )
    table = table_of(module)
    cal = module.calendar if field_name == module.calendar.date_field else None
    end_field = module.field(cal.end_date_field) if cal and cal.end_date_field else None
    duration_field = module.field(cal.duration_seconds_field) if cal and cal.duration_seconds_field else None
    titles = [module.fields[f] for f in module.title_fields]
    start_col = table.c[place.column]
    cols: list[Any] = [table.c.id, table.c.version, start_col]
    cols.append(table.c[end_field.column] if end_field else sa.null())
    cols.append(table.c[duration_field.column] if duration_field else sa.null())
    cols.extend(table.c[f.column] for f in titles)
    stmt = (
        sa.select(*cols)
        .where(*where_clauses(report, owners), start_col.is_not(None))
        .order_by(start_col, table.c.id)
        .limit(MAX_CALENDAR_EVENTS)
    )
    zone = report.time_zone

    def items(session: Any) -> Iterator[ics_export.CalendarItem]:
        result = session.execute(stmt, execution_options={"yield_per": EXPORT_BATCH, "stream_results": True})
        for partition in result.partitions():
            for row in partition:
                start = row[2]
                if place.type == FieldType.TIMESTAMP:
                    start = utc(start if isinstance(start, datetime) else datetime.fromisoformat(str(start)))
                    seconds = int(row[4] or 0)
                    end: Any = start + timedelta(seconds=seconds) if start is not None and seconds > 0 else None
                else:
                    start = start if isinstance(start, date) else date.fromisoformat(str(start))
                    end = row[3]
                    if end is not None and not isinstance(end, date):
                        end = date.fromisoformat(str(end))
                summary = " ".join(str(v) for v in row[5:] if v).strip()
                yield ics_export.CalendarItem(
                    uid=f"{module.name}-{row[0]}@crm", summary=summary, start=start, end=end, sequence=int(row[1])
                )

    path = _temp_file(".ics")
    try:
        with db.read() as session, path.open("wb") as out:
            n = ics_export.write_calendar(
                out, items(session), zone=zone, name=name or f"Informe de {module.label.lower()}", stamp=generated
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ExportFile(path, ics_export.CONTENT_TYPE, _filename(name, spec.module, generated, "ics"), n)
