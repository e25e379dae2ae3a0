"""What every import of rows from a table (a CSV or XLSX file, read by crm_platform.import_files)
shares: the per-row report (problems by row and column, duplicates skipped, created ids), header
names matched to import fields (case, accents, spaces and punctuation ignored; Spanish and English
aliases given by each service), and the cells of a row by field. Pure Python: no I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from crm_platform.errors import InvalidArgument

# A row as a file reader gives it: its number and its cells.
R = TypeVar("R", bound=tuple[int, Sequence[str]])

# Problems one answer lists (about 1.5 MB of them).
MAX_LISTED_PROBLEMS = 10_000


@dataclass(frozen=True)
class RowProblem:
    """Why a row (or, at row 1, the header) is not imported as it is. `field` is the import field
    at fault (name, email, phones, owner_id ...), or for a header problem the column as written."""

    row: int
    field: str
    message: str


@dataclass(frozen=True)
class DuplicateRow:
    """A row skipped because the record `existing_id` already has its `field` (email, phone,
    tax_id): a stored record, or one an earlier row of the file created."""

    row: int
    existing_id: str
    field: str


@dataclass
class ImportReport:
    """What an import did; total_rows = created + duplicates + failed. At most MAX_LISTED_PROBLEMS
    problems are listed, the last entry then saying how many more there were, so that the answer
    to a file of bad rows stays well within a message's size limit (the counts stay exact)."""

    total_rows: int = 0
    failed: int = 0
    # One per created row ("" in a dry run, which creates nothing but counts what it would).
    created_ids: list[str] = field(default_factory=list)
    # The data rows created (or, in a dry run, that would be).
    created_rows: list[int] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    unlisted_problems: int = 0
    first_unlisted_row: int = 0

    @property
    def created(self) -> int:
        return len(self.created_ids)

    def add_problems(self, problems: Sequence[RowProblem]) -> None:
        room = MAX_LISTED_PROBLEMS - len(self.problems)
        self.problems += problems[: max(room, 0)]
        rest = problems[max(room, 0) :]
        if rest:
            self.first_unlisted_row = self.first_unlisted_row or rest[0].row
            self.unlisted_problems += len(rest)

    def listed_problems(self) -> list[RowProblem]:
        """The problems to answer with: the listed ones and, when some are not, a last one saying so."""
        if not self.unlisted_problems:
            return self.problems
        notice = (
            f"{self.unlisted_problems:,} more problems, on this row and later ones, are not listed: "
            "fix the rows above and import the file again"
        )
        return [*self.problems, RowProblem(self.first_unlisted_row, "", notice)]


def refuse_nul_rows(rows: Iterable[R], columns: Columns, header: Sequence[str], report: ImportReport) -> Iterator[R]:
    """The rows of a file without those holding a NUL character in a cell: each of those counts as
    failed in `report`, with a problem naming the column (PostgreSQL cannot store a NUL, and SQLite
    would store one that then matches every search). Every import passes its rows through here."""
    fields = {i: name for name, indexes in columns.indexes.items() for i in indexes}
    for item in rows:
        row, cells = item
        bad = [i for i, cell in enumerate(cells) if "\x00" in cell]
        if not bad:
            yield item
            continue
        report.failed += 1
        report.add_problems(
            [
                RowProblem(
                    row,
                    fields.get(i) or (header[i].strip() if i < len(header) else f"column {i + 1}"),
                    "must not contain a NUL character (\\u0000): the row is not imported",
                )
                for i in bad
            ]
        )


def normalise_header(text: str) -> str:
    """'Razón social ' → 'razonsocial', 'E-mail' → 'email': lower case, no accents, letters and
    digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


@dataclass(frozen=True)
class Columns:
    """Which columns of a file hold which import field, and what the header row had wrong."""

    indexes: Mapping[str, tuple[int, ...]]
    problems: tuple[RowProblem, ...] = ()

    def has(self, name: str) -> bool:
        return name in self.indexes

    def value(self, cells: Sequence[str], name: str) -> str:
        """The field's cell, stripped ("" when the file has no such column)."""
        idx = self.indexes.get(name)
        if not idx or idx[0] >= len(cells):
            return ""
        return cells[idx[0]].strip()

    def values(self, cells: Sequence[str], name: str, separators: re.Pattern[str]) -> tuple[str, ...]:
        """Every non-blank value of the field's columns, each cell split at `separators`."""
        found: list[str] = []
        for i in self.indexes.get(name, ()):
            if i < len(cells) and cells[i].strip():
                found += [v.strip() for v in separators.split(cells[i]) if v.strip()]
        return tuple(found)


def map_columns(
    fields: Mapping[str, Sequence[str]],
    header: Sequence[str],
    header_row: int = 1,
    *,
    what: str,
    multi: frozenset[str] = frozenset(),
) -> Columns:
    """The import fields (`fields`: field → its header aliases, normalised as by normalise_header)
    that the header's columns hold. An unknown column (or a second column for a field not in
    `multi`) is a problem of the header row and is ignored; a header without any known column is
    InvalidArgument naming `content` (`what` names the records: "clients", "products")."""
    aliases = {alias: name for name, names in fields.items() for alias in names}
    indexes: dict[str, list[int]] = {}
    problems: list[RowProblem] = []
    for i, raw in enumerate(header):
        title = raw.strip()
        key = normalise_header(title)
        if not key:
            continue
        name = aliases.get(key) or aliases.get(key.rstrip("0123456789"))
        if name is None:
            problems.append(RowProblem(header_row, title, f"unknown column '{title}': ignored"))
        elif name in indexes and name not in multi:
            first = header[indexes[name][0]].strip()
            problems.append(
                RowProblem(header_row, title, f"column '{title}' gives {name} again (see '{first}'): ignored")
            )
        else:
            indexes.setdefault(name, []).append(i)
    if not indexes:
        shown = ", ".join(f"'{h.strip()}'" for h in header[:5] if h.strip()) or "nothing"
        expected = ", ".join(list(fields)[:6])
        raise InvalidArgument.field(
            "content",
            f"the header row ({shown}) names no known column of {what}; expected columns such as {expected}",
        )
    return Columns({k: tuple(v) for k, v in indexes.items()}, tuple(problems))
