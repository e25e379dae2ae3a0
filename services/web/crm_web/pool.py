"""One thread pool per process for a page's independent API calls (a detail page asks for the
record's contacts, deals, quotes and activities at once, not one after another), and `Later`: an
API answer handed to the template before it has arrived, so that the page's layout, navigation
and filters are rendered while the gateway works instead of after it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="api")


def submit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    return _pool.submit(fn, *args, **kwargs)


class Later:
    """A value still being fetched, given to a template in its place: the first attribute the
    template reads (`page.total_size`, or `page['items']`, which Jinja reads as an attribute when
    the item is missing) waits for the call and raises what it raised (an ApiError becomes its
    error page as when raised in the view). Jinja renders top to bottom, so everything above the
    first read is done while the API answers."""

    __slots__ = ("_future",)

    def __init__(self, future: Future[Any]):
        self._future = future

    def __getattr__(self, name: str) -> Any:
        return getattr(self._future.result(), name)

    def result(self) -> Any:
        return self._future.result()


def later(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Later:
    """`fn(*args, **kwargs)` started now in the pool, as a Later for a template."""
    return Later(_pool.submit(fn, *args, **kwargs))
