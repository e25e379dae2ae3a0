"""Text search over a table's `search_text` column (case-folded names, e-mail, tax id: see
domain/search.py) through the trigram index the migrations made for it (0003): an FTS5 table with
the trigram tokenizer on SQLite, a GIN index with pg_trgm's operator class on PostgreSQL.

A list wants the first rows, in id order, that pass its filters and contain the needle, and a
trigram index finds the rows containing it in no useful order. So, on both backends:

1. the first PREFIX_ROWS rows in list order (after the page token, with the filters) are tested
   for the needle. When fewer rows than that pass the filters (one client's contacts) they are
   the answer; a common needle fills the page there.
2. Otherwise the index is used:
   - SQLite: FTS5 returns matches in rowid order, which is insertion order, which is id order for
     every row but those inserted after a row with a greater id (ids are made just before the
     insert, so this is rare: an import's ids made before a concurrent create's). Triggers keep
     the ids of those rows in `<table>_search_late`. The page is then the first matches in rowid
     order that are not late (read lazily: a common needle stops after a page), merged with the
     late rows that match. Exact, and fast whether the needle is rare, common, or common only
     late in the table (a run of tax ids).
   - PostgreSQL: GIN returns no order. When the first rows held almost no match (SPREAD_MIN),
     the needle is rare, or its matches are bunched later in the table (a run of tax ids), where a
     scan would read long before finding them: every match is read through the index and the
     first ids taken. Otherwise matches are spread: the index is asked for at most CANDIDATES_MAX
     + 1 of them (the probe); when there are no more, the page is read from those ids, else the
     rows are scanned in list order for the needle (a page comes soon).
3. Needles the index cannot look up (shorter than a trigram; on PostgreSQL, without a run of
   three ASCII letters or digits) are scanned for in list order.

Scans test rows with instr/strpos, which no index answers, so that the planner reads in list order
(id, or an owner's index) instead of fetching every match to sort them.

pg_trgm makes trigrams of words only (runs of letters and digits): "0@vargas" would be looked up
as "vargas", with thousands of candidates to read and reject. So its index is built on
`search_key`, a column the server generates from the search text with spaces and punctuation
turned into a letter (PG_WORD_JOINERS, as in the migration), and a needle is turned the same way;
the candidates are then checked against the real text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    Table,
    TextClause,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from crm_contacts.adapters.rows import contains
from crm_contacts.adapters.tables import SEARCH_KEY, fts_table, late_table
from crm_contacts.domain.search import TRIGRAM

# Rows tested in list order before asking the index.
PREFIX_ROWS = 2000
# PostgreSQL: when the first rows held fewer matches than this, every match is read through the
# index (see above) ...
SPREAD_MIN = 5
# ... otherwise a needle found in more rows than this is common enough for a scan in list order
# (with matches spread evenly, a page of 50 comes within 50 * rows / CANDIDATES_MAX rows).
CANDIDATES_MAX = 2000
# The longest part of a needle the PostgreSQL probe looks up (every trigram of the pattern is read
# from the index; the candidates are then checked for all of the needle).
PG_PATTERN_MAX = 12
# Characters the PostgreSQL trigram index sees as the letter q, so that its trigrams span them:
# `search_key` is `translate(search_text, '<these>', 'qq...')` (migration 0003).
PG_WORD_JOINERS = " .,;:@-_/&+#!?()'"
_PG_JOIN = str.maketrans(PG_WORD_JOINERS, "q" * len(PG_WORD_JOINERS))
# SQLite: a needle is looked up as FTS5 phrases of at most this many characters, ANDed (each
# phrase's trigrams must be adjacent; fewer, shorter phrases read less of the index).
FTS_PHRASE_MAX = 6
# PostgreSQL planner settings for reading through the trigram index only (a LIMIT would otherwise
# tempt the planner into a sequential scan that, for a rare needle, reads the whole table).
_PG_INDEX_ONLY = {"enable_seqscan": "off", "enable_indexscan": "off", "max_parallel_workers_per_gather": "0"}


def page_rows(
    session: Session,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    needles: Sequence[str],
    *,
    after_id: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Rows of `table` passing `conditions` and containing any of `needles` (none: no text
    condition), in id order after `after_id`, at most `limit` of them."""
    base = [*conditions, *([table.c.id > after_id] if after_id else [])]
    ordered = select(table).where(*base).order_by(table.c.id)
    if not needles:
        return list(session.execute(ordered.limit(limit)))
    _custom_plans(session)
    prefix = ordered.limit(PREFIX_ROWS).subquery()
    found = list(
        session.execute(
            select(prefix).where(_scanned(session, prefix.c.search_text, needles)).order_by(prefix.c.id).limit(limit)
        )
    )
    if len(found) == limit:
        return found
    if (session.scalar(select(func.count()).select_from(ordered.limit(PREFIX_ROWS).subquery())) or 0) < PREFIX_ROWS:
        return found  # the prefix held every row passing the filters
    scan = ordered.where(_scanned(session, table.c.search_text, needles)).limit(limit)
    if not _indexable(session, needles):
        return list(session.execute(scan))
    if not _postgres(session):
        return _walk_sqlite(session, table, base, needles, limit)
    ids: list[str] | None
    if len(found) < SPREAD_MIN:
        # Rare, or bunched later in the table: every match through the index, the first ones by id.
        with _pg_settings(session, _PG_INDEX_ONLY):
            first = select(table.c.id).where(*base, _indexed(session, table, needles)).order_by(table.c.id)
            ids = list(session.scalars(first.limit(limit)))
    else:
        ids = _candidates(session, table, needles)
    if ids is None:
        return list(session.execute(scan))
    return list(session.execute(ordered.where(table.c.id.in_(ids)).limit(limit)))


def count_rows(
    session: Session, table: Table, conditions: Sequence[ColumnElement[bool]], needles: Sequence[str]
) -> int:
    """How many rows of `table` pass `conditions` and contain any of `needles`."""
    wanted = list(conditions)
    if needles:
        _custom_plans(session)
        ids = _candidates(session, table, needles) if _postgres(session) and _indexable(session, needles) else None
        wanted.append(table.c.id.in_(ids) if ids is not None else _indexed(session, table, needles))
    return int(session.scalar(select(func.count()).select_from(table).where(*wanted)) or 0)


def fts_phrases(needle: str) -> list[str]:
    """The FTS5 phrases a needle is looked up as (all of them must match): the needle itself, or
    FTS_PHRASE_MAX-character pieces of it, the last one ending with it."""
    if len(needle) <= FTS_PHRASE_MAX:
        return [needle]
    pieces = [needle[i : i + FTS_PHRASE_MAX] for i in range(0, len(needle) - FTS_PHRASE_MAX + 1, FTS_PHRASE_MAX)]
    return list(dict.fromkeys([*pieces, needle[-FTS_PHRASE_MAX:]]))


def pg_pattern(needle: str) -> str:
    """What the PostgreSQL probe looks up in the index's text (see PG_WORD_JOINERS): the needle
    so turned, all of it or its middle PG_PATTERN_MAX characters; empty when it has no run of
    three ASCII letters or digits (pg_trgm might make no trigram of it, in any locale, and then
    read the whole index)."""
    pattern = needle.translate(_PG_JOIN)
    if len(pattern) > PG_PATTERN_MAX:
        start = (len(pattern) - PG_PATTERN_MAX) // 2
        pattern = pattern[start : start + PG_PATTERN_MAX]
    run = 0
    for char in pattern:
        run = run + 1 if char.isascii() and char.isalnum() else 0
        if run >= TRIGRAM:
            return pattern
    return ""


def pg_contains(table: Table, needle: str) -> ColumnElement[bool]:
    """On PostgreSQL, the row's search text contains `needle`, through the trigram index: a LIKE
    on search_key, checked against the search text unless the LIKE says it exactly (the needle
    is whole in the pattern and has no character that search_key turns or turns into)."""
    pattern = pg_pattern(needle)
    matched = contains(pg_indexed(table), pattern)
    if pattern == needle and "q" not in needle:
        return matched
    return and_(matched, func.strpos(table.c.search_text, needle) > 0)


def pg_indexed(table: Table) -> ColumnElement[str]:
    """The column the PostgreSQL trigram index of `table` is built on (see SEARCH_KEY)."""
    return literal_column(f"{table.name}.{SEARCH_KEY}", String)


def pg_probe(table: Table, needles: Sequence[str]) -> Select[str]:
    """The PostgreSQL probe: ids of rows containing a needle, looked up through the trigram index
    (every needle must have a pg_pattern)."""
    return select(table.c.id).where(or_(*(pg_contains(table, n) for n in needles))).limit(CANDIDATES_MAX + 1)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _custom_plans(session: Session) -> None:
    """On PostgreSQL, plans made for this search's values: psycopg prepares a statement run often on
    one connection, and the server may then reuse a generic plan, made without knowing the needle
    or the limits (for the rest of the transaction)."""
    if _postgres(session) and not session.info.get("crm_custom_plans"):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        session.info["crm_custom_plans"] = True


def _indexable(session: Session, needles: Sequence[str]) -> bool:
    if _postgres(session):
        return all(pg_pattern(n) for n in needles)
    return all(len(n) >= TRIGRAM for n in needles)


def _scanned(session: Session, column: Any, needles: Sequence[str]) -> ColumnElement[bool]:
    """Contains a needle, as a test no index answers."""
    position = func.strpos if _postgres(session) else func.instr
    return or_(*(position(column, n) > 0 for n in needles))


def _indexed(session: Session, table: Table, needles: Sequence[str]) -> ColumnElement[bool]:
    """Contains a needle, as a condition the trigram index answers (for counting every match)."""
    column = table.c.search_text
    if not _indexable(session, needles):
        return or_(*(contains(column, n) for n in needles))
    if _postgres(session):
        return or_(*(pg_contains(table, n) for n in needles))
    hits = (
        select(literal_column("rowid", sa.Integer))
        .select_from(text(fts_table(table.name)))
        .where(_fts_match(table, needles))
    )
    return and_(literal_column(f"{table.name}.rowid").in_(hits), _scanned(session, column, needles))


def _fts_match(table: Table, needles: Sequence[str]) -> TextClause:
    """The FTS5 MATCH of rows holding a needle's phrases (each in double quotes, a quote doubled)."""
    query = " OR ".join(
        "(" + " AND ".join('"' + p.replace('"', '""') + '"' for p in fts_phrases(n)) + ")" for n in needles
    )
    return text(f"{fts_table(table.name)} MATCH :fts_query").bindparams(fts_query=query)


def _walk_sqlite(
    session: Session, table: Table, base: Sequence[ColumnElement[bool]], needles: Sequence[str], limit: int
) -> list[Row[Any]]:
    """The first `limit` rows in id order passing `base` and holding a needle: the first ones in
    FTS5 (rowid) order among the rows inserted in id order, merged with the late ones."""
    fts = sa.table(fts_table(table.name), sa.column("rowid"))
    late = select(literal_column("id", String)).select_from(text(late_table(table.name)))
    wanted = [*base, _scanned(session, table.c.search_text, needles)]
    in_order = (
        select(table)
        .select_from(fts.join(table, literal_column(f"{table.name}.rowid") == fts.c.rowid))
        .where(_fts_match(table, needles), *wanted, table.c.id.not_in(late))
        .order_by(fts.c.rowid)
        .limit(limit)
    )
    out_of_order = select(table).where(*wanted, table.c.id.in_(late)).order_by(table.c.id).limit(limit)
    rows = [*session.execute(in_order), *session.execute(out_of_order)]
    return sorted(rows, key=lambda r: r.id)[:limit]


def _candidates(session: Session, table: Table, needles: Sequence[str]) -> list[str] | None:
    """PostgreSQL: the ids of every row containing a needle when there are at most CANDIDATES_MAX
    of them, else None (remembered on the session: a page and its count probe once)."""
    memo: dict[tuple[str, tuple[str, ...]], list[str] | None] = session.info.setdefault("crm_search_probes", {})
    key = (table.name, tuple(needles))
    if key not in memo:
        with _pg_settings(session, _PG_INDEX_ONLY):
            ids = list(session.scalars(pg_probe(table, needles)))
        memo[key] = ids if len(ids) <= CANDIDATES_MAX else None
    return memo[key]


@contextmanager
def _pg_settings(session: Session, settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL planner settings for the statements run inside (SET LOCAL, then back)."""
    for name, value in settings.items():
        session.execute(text(f"SET LOCAL {name} = {value}"))
    try:
        yield
    finally:
        for name in settings:
            session.execute(text(f"SET LOCAL {name} TO DEFAULT"))
