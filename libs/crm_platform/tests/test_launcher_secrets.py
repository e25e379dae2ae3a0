"""`crm up` keeps the web application's session key in its data folder: made once, owner-only,
read back by the next start (so a restarted web process keeps its users signed in)."""

from __future__ import annotations

import stat
from pathlib import Path

from crm_platform.launcher import _kept_secret


def test_the_web_session_key_is_made_once_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "web-secret-key"
    first = _kept_secret(path)
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _kept_secret(path) == first
    assert _kept_secret(tmp_path / "another") != first
