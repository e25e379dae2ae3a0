"""Importing clients, contacts or prospects from a CSV or XLSX file (ImportRecords). Every row goes
through its record's rules; a row duplicating a stored record or an earlier row of the file (same
e-mail, tax id or phone) is skipped and reported; the valid rest is written WRITE_CHUNK rows per
transaction with bulk statements, each record with its created event in the same transaction.
The whole file is read and counted before anything is written, so a file refused as a whole
(unreadable, too long, no known column) writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crm_contacts.adapters import contact_repository, repository
from crm_contacts.adapters import prospect_repository as prospect_repo
from crm_contacts.contract import convert
from crm_contacts.domain import importing
from crm_contacts.domain.clients import Client
from crm_contacts.domain.contacts import Contact
from crm_contacts.domain.importing import ImportKind, ImportOptions
from crm_contacts.domain.prospects import Prospect
from crm_contacts.service_layer.contacts import demote_primary
from crm_platform import import_files
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import InvalidArgument
from crm_platform.ids import is_valid_id, new_id
from crm_platform.import_files import FileFormat, Row
from crm_platform.importing import Columns, DuplicateRow, ImportReport, RowProblem, refuse_nul_rows

# Rows per write transaction: big enough for executemany to pay, short enough that an SQLite
# write lock is held well under a second at a time.
WRITE_CHUNK = 5000
# The record an import makes: a client, contact or prospect (as domain.importing.S).
T = TypeVar("T", bound=Client | Contact | Prospect)
Key = tuple[str, str]
# A row read: its number, and its record or the problems that keep it out.
_Outcome = tuple[int, T | None, list[RowProblem]]


@dataclass(frozen=True)
class _Kind(Generic[T]):
    """How one kind of record is imported: a chunk of rows into records (or their problems),
    stored records by key, bulk insert, and the events of storing them."""

    from_rows: Callable[[Database, Columns, list[Row], ImportOptions, dict[str, Any]], list[_Outcome[T]]]
    existing: Callable[[Session, Mapping[str, set[str]]], dict[Key, str]]
    add: Callable[[Session, Sequence[T]], None]
    event: Callable[[T], Message]
    # Changes to other records that storing these requires (in the same transaction), and their events.
    before_add: Callable[[UnitOfWork, Sequence[T], datetime], list[Message]] | None = None


def _row_by_row(
    from_row: Callable[[Columns, int, Sequence[str], ImportOptions], tuple[T | None, list[RowProblem]]],
) -> Callable[[Database, Columns, list[Row], ImportOptions, dict[str, Any]], list[_Outcome[T]]]:
    """from_rows for a kind whose rows need nothing stored to be checked."""

    def from_rows(
        db: Database, columns: Columns, rows: list[Row], options: ImportOptions, state: dict[str, Any]
    ) -> list[_Outcome[T]]:
        return [(row, *from_row(columns, row, cells, options)) for row, cells in rows]

    return from_rows


def _contacts_from_rows(
    db: Database, columns: Columns, rows: list[Row], options: ImportOptions, state: dict[str, Any]
) -> list[_Outcome[Contact]]:
    """Contact rows, with the clients they name looked up for the whole chunk at once."""
    refs = [importing.client_reference(columns, cells) for _, cells in rows]
    with db.read() as session:
        known = repository.clients_for_contacts(
            session,
            ids={r.client_id for r in refs if is_valid_id(r.client_id)},
            tax_ids={form for r in refs for form in r.tax_forms or (r.tax_id,) if form},
            emails={r.email for r in refs if r.email},
        )
    directory = importing.ClientDirectory(known)
    primaries: dict[str, int] = state.setdefault("primaries", {})
    return [
        (row, *importing.contact_from_row(columns, row, cells, options, directory, primaries)) for row, cells in rows
    ]


def _demote_primaries(uow: UnitOfWork, new: Sequence[Contact], now: datetime) -> list[Message]:
    """A new primary contact takes the place of its client's current one, as on create."""
    events: list[Message] = []
    for contact in new:
        if contact.primary:
            events += demote_primary(uow, contact.client_id, contact.id, now)
    return events


_KINDS: dict[ImportKind, _Kind[Any]] = {
    ImportKind.CLIENTS: _Kind(
        from_rows=_row_by_row(importing.client_from_row),
        existing=lambda s, keys: repository.client_ids_with(
            s, emails=keys.get("email", ()), tax_ids=keys.get("tax_id", ()), phones=keys.get("phone", ())
        ),
        add=repository.add_clients,
        event=convert.client_created,
    ),
    ImportKind.CONTACTS: _Kind(
        from_rows=_contacts_from_rows,
        existing=lambda s, keys: repository.contact_ids_with(
            s, emails=keys.get("email", ()), phones=keys.get("phone", ())
        ),
        add=contact_repository.add_contacts,
        event=convert.contact_created,
        before_add=_demote_primaries,
    ),
    ImportKind.PROSPECTS: _Kind(
        from_rows=_row_by_row(importing.prospect_from_row),
        existing=lambda s, keys: prospect_repo.prospect_ids_with(
            s, emails=keys.get("email", ()), phones=keys.get("phone", ())
        ),
        add=prospect_repo.add_prospects,
        event=convert.prospect_created,
    ),
}


def import_records(
    db: Database,
    kind: ImportKind,
    content: bytes,
    file_format: FileFormat,
    options: ImportOptions,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Imports the file's rows as records of `kind` and reports on every row. A dry run checks
    and reports the same way, counting the rows it would create (with no ids), but writes nothing
    (a row duplicating an earlier row of the file is then reported with an empty existing_id:
    that row got no id)."""
    importing.check_options(kind, options)
    ops = _KINDS[kind]
    table = import_files.read_table(content, file_format, importing.MAX_ROWS)
    columns = importing.map_columns(kind, table.header, table.header_row)
    if not columns.has("owner_id") and not options.default_owner_id:
        raise InvalidArgument.field("default_owner_id", "is required when the file has no owner column")
    report = ImportReport(total_rows=table.data_rows)
    report.add_problems(columns.problems)
    # Keys of the rows imported so far → the id each got ("" in a dry run).
    seen: dict[Key, str] = {}
    state: dict[str, Any] = {}
    rows = refuse_nul_rows(table.rows(), columns, table.header, report)
    for chunk in _batches(rows, WRITE_CHUNK):
        valid = []
        for row, record, problems in ops.from_rows(db, columns, chunk, options, state):
            if record is None:
                report.failed += 1
                report.add_problems(problems)
            else:
                valid.append((row, record))
        if valid:
            _import_chunk(db, ops, valid, seen, report, dry_run)
    return report


def _import_chunk(
    db: Database, ops: _Kind[T], valid: list[tuple[int, T]], seen: dict[Key, str], report: ImportReport, dry_run: bool
) -> None:
    """Skips the rows whose keys a stored record or an earlier row has, and (unless a dry run)
    stores the rest with their events in one transaction."""
    keys = [importing.duplicate_keys(record) for _, record in valid]
    wanted = importing.keys_by_field([k for row_keys in keys for k in row_keys])
    if dry_run:
        with db.read() as session:
            existing = ops.existing(session, wanted)
        new = _new_records(valid, keys, existing, seen, report, stamp=False)
        report.created_ids += [""] * len(new)
        return
    with db.uow() as uow:
        existing = ops.existing(uow.session, wanted)
        new = _new_records(valid, keys, existing, seen, report, stamp=True)
        if new:
            now = datetime.now(UTC)
            events = ops.before_add(uow, new, now) if ops.before_add else []
            ops.add(uow.session, new)
            uow.add_events([*events, *(ops.event(record) for record in new)])
            uow.commit()
    report.created_ids += [record.id for record in new]


def _new_records(
    valid: list[tuple[int, T]],
    keys: list[list[Key]],
    existing: Mapping[Key, str],
    seen: dict[Key, str],
    report: ImportReport,
    *,
    stamp: bool,
) -> list[T]:
    """The records of `valid` that duplicate nothing, given their ids when `stamp`; the others
    go to the report's duplicates."""
    now = datetime.now(UTC)
    new: list[T] = []
    for (row, record), row_keys in zip(valid, keys, strict=True):
        duplicate = importing.first_duplicate(row_keys, existing, seen)
        if duplicate is not None:
            report.duplicates.append(DuplicateRow(row, duplicate[1], duplicate[0]))
            continue
        report.created_rows.append(row)
        record_id = new_id() if stamp else ""
        for key in row_keys:
            seen[key] = record_id
        new.append(importing.stamped(record, record_id, now) if stamp else record)
    return new


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch
