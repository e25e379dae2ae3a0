"""One page of a keyset-paginated list in id order, with a token bound to the list's filters
(crm_platform.pagination); every list of this service goes through it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from crm_platform import pagination


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_HasId)


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
