"""Text search of clients, contacts and prospects: what a record's search text holds and what a
list's query looks for in it. Matching is by substring, case-insensitively (case-folded on both
sides), accents kept ("peña" finds "Peña", "pena" does not). Pure Python: no I/O."""

from __future__ import annotations

import re

from crm_platform.errors import InvalidArgument

QUERY_MAX = 200
# Needles this long or longer can be answered by a trigram index; shorter ones are scanned for.
TRIGRAM = 3
# Digits split by dots or spaces, as people write tax ids (900.123.456-7, 12 345 678-K).
_TAX_ID_LIKE = re.compile(r"\d[.\s]+\d")
_TAX_ID_NOISE = re.compile(r"[\s.]")


def search_text(*values: str) -> str:
    """The text a query is matched against: the non-empty values, case-folded, space-separated."""
    return " ".join(v for v in values if v).casefold()


def needles(query: str) -> tuple[str, ...]:
    """What a record's search text must contain (any one of them) to match `query`: the query
    case-folded, and, when it looks like a tax id ("900.123.456"), also as tax ids are stored
    (without dots and spaces: "900123456"). Empty: no text filter."""
    if len(query) > QUERY_MAX:
        raise InvalidArgument.field("query", f"must be at most {QUERY_MAX} characters")
    needle = query.strip().casefold()
    if not needle:
        return ()
    found = [needle]
    if _TAX_ID_LIKE.search(needle):
        compact = _TAX_ID_NOISE.sub("", needle)
        if compact and compact != needle:
            found.append(compact)
    return tuple(found)
