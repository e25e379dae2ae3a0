"""The import rules of the code base, as contracts in pyproject.toml ([tool.importlinter]) checked by
import-linter: no service imports another, the shared library knows no service, and inside a
service the layers point one way (entrypoints -> service layer -> contract/adapters -> domain)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Contracts: 3 kept, 0 broken." in res.stdout, res.stdout + res.stderr
    assert res.returncode == 0
