"""Names a page shows in place of ids (users, pipeline stages), read from the API and kept for a
short while per process: one list call serves every page for TIME_TO_LIVE seconds instead of one
call per row. Both lists are the same for every signed-in user (the API does not narrow them by
role), so sharing them between users reveals nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from crm_web.api import Api

TIME_TO_LIVE = 60.0
# A name asked for that the kept list lacks (a user invited a moment ago) reloads the list at once;
# an id still missing after that reload (a deactivated user) reloads again at most this often, so an
# unknown id costs one reload per few seconds, not one per page.
MISS_RELOAD_SECONDS = 5.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, Any, frozenset[str]]] = {}
_derived_cache: dict[str, tuple[object, Any]] = {}
T = TypeVar("T")


def _cached(key: str, load: Callable[[], T], needs: Iterable[str] = ()) -> T:
    now = time.monotonic()
    wanted = frozenset(n for n in needs if n)
    with _lock:
        hit = _cache.get(key)
    if hit and now - hit[0] < TIME_TO_LIVE:
        loaded, value, missing = hit
        lacking = {n for n in wanted if n not in value}
        if not lacking or (lacking <= missing and now - loaded < MISS_RELOAD_SECONDS):
            return value
    value = load()
    still_missing = frozenset(n for n in wanted if n not in cast(Any, value))  # kept lists are dicts by id
    with _lock:
        _cache[key] = (now, value, still_missing)
    return value


def _derived(key: str, base: object, make: Callable[[], T]) -> T:
    """A value computed from a kept list, kept as long as that very list is."""
    with _lock:
        hit = _derived_cache.get(key)
    if hit and hit[0] is base:
        return hit[1]
    value = make()
    with _lock:
        _derived_cache[key] = (base, value)
    return value


def forget() -> None:
    """Drop what is kept (after a change the page itself made, e.g. a renamed user)."""
    with _lock:
        _cache.clear()
        _derived_cache.clear()


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


def users(api: Api, needs: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Every active user by id (`needs`: ids the caller is about to look up)."""
    return _cached("users", lambda: {u["id"]: u for u in _all(api, "/api/v1/users")}, needs)


def user_names(api: Api, needs: Iterable[str] = ()) -> dict[str, str]:
    """Every active user's name (display name, else e-mail) by id: what a table's owner column
    shows, one dictionary read per row."""
    base = users(api, needs)
    return _derived(
        "user_names", base, lambda: {i: u.get("display_name") or u.get("email") or "" for i, u in base.items()}
    )


def user_name(api: Api, user_id: str) -> str:
    return user_names(api, (user_id,)).get(user_id, "")


def user_options(api: Api) -> list[tuple[str, str]]:
    """(id, name) of every active user, by name, for a select (sorted once per kept list)."""
    base = users(api)
    return _derived(
        "user_options",
        base,
        lambda: sorted(
            ((i, u.get("display_name") or u.get("email") or i) for i, u in base.items()), key=lambda x: x[1]
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
