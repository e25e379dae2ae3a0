"""The pages' languages: Spanish (the default, and the language the templates are written in) and
English (translations/en). The .po catalogues are the source kept in git; they are compiled to
.mo at start into a cache folder (the package may sit on a read-only filesystem), so a fresh
clone needs no build step. Re-extract after changing texts:
`pybabel extract -F services/web/babel.cfg -o /tmp/m.pot services/web/crm_web` then
`pybabel update -i /tmp/m.pot -d services/web/crm_web/translations`."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE = Path(__file__).parent / "translations"


def compile_catalogues(cache_dir: str = "") -> Path:
    """Compile every translations/<lang>/LC_MESSAGES/messages.po; return the folder that holds the
    compiled tree (named by the catalogues' content, so an edited catalogue is compiled again)."""
    digest = hashlib.sha256()
    sources = sorted(SOURCE.glob("*/LC_MESSAGES/*.po"))
    for po in sources:
        digest.update(po.read_bytes())
    root = Path(cache_dir or tempfile.gettempdir()) / f"crm-web-i18n-{digest.hexdigest()[:16]}"
    for po in sources:
        mo = root / po.relative_to(SOURCE).with_suffix(".mo")
        if mo.exists():
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with open(po, "rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)  # atomic: workers compiling at once never read a half-written file
    return root
