"""One thread pool per process for a page's independent API calls (a detail page asks for the
record's contacts, deals, quotes and activities at once, not one after another)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="api")


def submit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    return _pool.submit(fn, *args, **kwargs)
