"""Every text of the pages has its English translation: the messages extracted from the templates
and the code (as `pybabel extract` with babel.cfg does) are all in the English catalogue, with the
same placeholders, and the catalogues compile."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from crm_web.i18n import SOURCE, compile_catalogues

WEB = Path(__file__).parents[1]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _extracted() -> set[str | tuple[str, ...]]:
    method_map = [("crm_web/**.py", "python"), ("crm_web/templates/**.html", "jinja2")]
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(WEB), method_map, keywords=KEYWORDS, options_map={}
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_page_text_has_an_english_translation_with_the_same_placeholders() -> None:
    # Pages may keep their texts in more than one catalogue (domain) of the same language.
    catalogs = []
    for po in sorted((SOURCE / "en" / "LC_MESSAGES").glob("*.po")):
        with open(po, "rb") as f:
            catalogs.append(read_po(f, locale="en"))
    missing, broken = [], []
    for msgid in _extracted():
        key = msgid if isinstance(msgid, str) else msgid[0]
        entry = next((c.get(key) for c in catalogs if c.get(key) is not None and c.get(key).string), None)
        if entry is None or not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            missing.append(msgid)
            continue
        source = msgid if isinstance(msgid, str) else msgid[0]
        target = entry.string if isinstance(entry.string, str) else entry.string[0]
        if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(target)):
            broken.append(msgid)
    assert not missing, f"untranslated (run pybabel extract/update, see crm_web/i18n.py): {missing}"
    assert not broken, f"placeholders differ: {broken}"


def test_the_catalogues_compile(tmp_path: Path) -> None:
    root = compile_catalogues(str(tmp_path))
    assert (root / "en" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000


def test_a_text_means_one_thing_in_every_catalogue() -> None:
    # Flask-Babel merges the catalogues into one (the last loaded wins): a Spanish text translated
    # two ways would show the other group's word ("Inicio" as "Start" in the navigation). Where
    # the meanings differ, the Spanish texts must differ too.
    seen: dict[str, dict[str, str]] = {}
    for po in sorted((SOURCE / "en" / "LC_MESSAGES").glob("*.po")):
        with open(po, "rb") as f:
            for message in read_po(f, locale="en"):
                if not message.id or not message.string:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                text = message.string if isinstance(message.string, str) else message.string[0]
                seen.setdefault(key, {})[po.name] = text
    clashes = {k: v for k, v in seen.items() if len(set(v.values())) > 1}
    assert not clashes, clashes
