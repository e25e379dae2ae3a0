"""One page of a keyset-paginated list in id order, with a token bound to the list's filters
(crm_platform.pagination), and optionally the count of every match: the way every service's
id-ordered lists read a page."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from crm_platform import pagination
from crm_platform.db import Database
from crm_platform.errors import FieldViolation, InvalidArgument

# The most owners one list may be narrowed to (a manager's team, an admin's pick).
MAX_OWNER_IDS = 1000
# Values per IN (...) list: well under the bound-parameter limits of SQLite and PostgreSQL.
IN_CHUNK = 5000


def owner_filter(owner_ids: Sequence[str]) -> tuple[str, ...]:
    """The owners a list is narrowed to, sorted and without repeats (so that a page token does not
    depend on their order); empty = any owner. A blank id is an error, never "any owner"."""
    if len(owner_ids) > MAX_OWNER_IDS:
        raise InvalidArgument.field("owner_ids", f"at most {MAX_OWNER_IDS} owners")
    problems = [FieldViolation(f"owner_ids[{i}]", "must not be empty") for i, o in enumerate(owner_ids) if not o]
    if problems:
        raise InvalidArgument(problems)
    return tuple(sorted(set(owner_ids)))


def chunked(values: Collection[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """The values sorted, in lists of at most `size` (for IN (...) lists of any length)."""
    items = sorted(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_HasId)


@dataclass(frozen=True)
class Page(Generic[R]):
    items: list[R]
    # Empty at the end.
    next_page_token: str
    # How many records match the filters, when it was asked for (0 otherwise).
    total_size: int = 0


def page_by_id(
    filters: Mapping[str, Any], page_size: int, page_token: str, fetch: Callable[[int, str | None], list[R]]
) -> tuple[list[R], str]:
    """`fetch(limit, after_id)` reads rows in id order after `after_id`; returns the page and the
    token of the next one (empty at the end)."""
    size = pagination.page_size(page_size)
    key = pagination.decode_token(page_token, dict(filters))
    rows = fetch(size + 1, str(key[0]) if key else None)
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, pagination.encode_token([rows[-1].id], dict(filters))


def read_page(
    db: Database,
    filters: Mapping[str, Any],
    page_size: int,
    page_token: str,
    fetch: Callable[[Session, int, str | None], list[R]],
    count: Callable[[Session], int] | None = None,
) -> Page[R]:
    """The page `fetch(session, limit, after_id)` reads (see page_by_id) and, when `count` is
    given, `count(session)`: how many records match the filters. The page token is bound to the
    filters, not to whether the total was asked for."""
    with db.read() as session:
        items, token = page_by_id(filters, page_size, page_token, lambda limit, after: fetch(session, limit, after))
        total = count(session) if count is not None else 0
    return Page(items, token, total)
