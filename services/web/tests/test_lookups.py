"""The names kept per process: a user invited a moment ago shows by name at once (a miss reloads the
list), an id unknown even after a reload does not reload the list on every page."""

from __future__ import annotations

from typing import Any

import pytest

from crm_web import lookups


class _Api:
    """Answers /api/v1/users from a list the test changes; counts the calls."""

    def __init__(self) -> None:
        self.people = [{"id": "u1", "display_name": "Ana"}]
        self.calls = 0

    def list(self, path: str, **params: Any) -> Any:
        assert path == "/api/v1/users"
        self.calls += 1
        return type("Page", (), {"items": list(self.people), "next_page_token": ""})()


@pytest.fixture(autouse=True)
def _fresh() -> None:
    lookups.forget()


def test_a_new_user_is_named_at_once_and_an_unknown_id_reloads_at_most_every_few_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api: Any = _Api()
    clock = [1000.0]
    monkeypatch.setattr(lookups.time, "monotonic", lambda: clock[0])
    assert lookups.user_name(api, "u1") == "Ana" and api.calls == 1
    assert lookups.user_name(api, "u1") == "Ana" and api.calls == 1  # kept
    api.people.append({"id": "u2", "display_name": "Beto"})
    assert lookups.user_names(api, ["u1", "u2"]) == {"u1": "Ana", "u2": "Beto"} and api.calls == 2
    assert lookups.user_name(api, "gone") == "" and api.calls == 3  # one reload for an unknown id
    assert lookups.user_name(api, "gone") == "" and api.calls == 3  # not again at once
    clock[0] += lookups.MISS_RELOAD_SECONDS + 1
    assert lookups.user_name(api, "gone") == "" and api.calls == 4
    assert [n for _, n in lookups.user_options(api)] == ["Ana", "Beto"]
    clock[0] += lookups.TIME_TO_LIVE + 1
    assert lookups.user_name(api, "u1") == "Ana" and api.calls == 5  # expired: read again
