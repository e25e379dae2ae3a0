"""Names a page shows in place of ids (users, pipeline stages), read from the API and kept for a
short while per process: one list call serves every page for TIME_TO_LIVE seconds instead of one
call per row. Both lists are the same for every signed-in user (the API does not narrow them by
role), so sharing them between users reveals nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from crm_web.api import Api

TIME_TO_LIVE = 60.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, Any]] = {}
T = TypeVar("T")


def _cached(key: str, load: Callable[[], T]) -> T:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit and now - hit[0] < TIME_TO_LIVE:
        return hit[1]
    value = load()
    with _lock:
        _cache[key] = (now, value)
    return value


def forget() -> None:
    """Drop what is kept (after a change the page itself made, e.g. a renamed user)."""
    with _lock:
        _cache.clear()


def _all(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    for _ in range(20):  # at most 10,000 rows: enough for a sales team's users and pipelines
        page = api.list(path, page_size=500, page_token=token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    return items


def users(api: Api) -> dict[str, dict[str, Any]]:
    """Every active user by id."""
    return _cached("users", lambda: {u["id"]: u for u in _all(api, "/api/v1/users")})


def user_names(api: Api) -> dict[str, str]:
    """Every active user's name (display name, else e-mail) by id: what a table's owner column
    shows, one dictionary read per row (kept as users() is)."""
    return _cached(
        "user_names", lambda: {i: u.get("display_name") or u.get("email") or "" for i, u in users(api).items()}
    )


def user_name(api: Api, user_id: str) -> str:
    return user_names(api).get(user_id, "")


def user_options(api: Api) -> list[tuple[str, str]]:
    """(id, name) of every active user, by name, for a select (kept, not sorted on every page)."""
    return _cached(
        "user_options",
        lambda: sorted(
            ((i, u.get("display_name") or u.get("email") or i) for i, u in users(api).items()), key=lambda x: x[1]
        ),
    )


def stages(api: Api) -> dict[str, dict[str, Any]]:
    """Every pipeline stage by id (with its pipeline's name)."""

    def load() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for p in _all(api, "/api/v1/pipelines"):
            for s in p.get("stages") or []:
                out[s["id"]] = {**s, "pipeline": p.get("name", "")}
        return out

    return _cached("stages", load)
