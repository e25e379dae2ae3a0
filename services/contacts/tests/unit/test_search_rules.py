"""Text search, without I/O: what a record's search text holds, what a query looks for in it, and
what the trigram indexes are asked for (adapters/search.py's pure helpers)."""

from __future__ import annotations

import pytest

from crm_contacts.adapters.search import PG_PATTERN_MAX, fts_phrases, pg_contains, pg_pattern
from crm_contacts.adapters.tables import clients
from crm_contacts.domain.clients import Client, ClientKind, validated
from crm_contacts.domain.search import QUERY_MAX, needles, search_text
from crm_platform.errors import InvalidArgument


def test_a_clients_search_text_holds_its_names_email_and_tax_id_case_folded() -> None:
    client = validated(
        Client(
            id="c-1",
            kind=ClientKind.COMPANY,
            name="Distribuidora PEÑA",
            legal_name="Distribuidora Peña S.A.S.",
            owner_id="u1",
            email="Compras@Pena.example",
            tax_country="CO",
            tax_id="900.123.456-8",
        )
    )
    assert client.search_text == "distribuidora peña distribuidora peña s.a.s. compras@pena.example 900123456-8"
    assert search_text("Straße", "", "X") == "strasse x"


def test_a_query_is_case_folded_and_a_tax_id_also_looked_for_as_stored() -> None:
    assert needles("  PEÑA ") == ("peña",)
    assert needles("") == needles("   ") == ()
    assert needles("900.123.456") == ("900.123.456", "900123456")
    assert needles("12 345 678-k") == ("12 345 678-k", "12345678-k")
    assert needles("cliente 5") == ("cliente 5",)  # a name with a number is no tax id
    with pytest.raises(InvalidArgument) as err:
        needles("x" * (QUERY_MAX + 1))
    assert [v.field for v in err.value.violations] == ["query"]


def test_a_long_needle_is_looked_up_in_sqlite_as_pieces_of_six_characters() -> None:
    assert fts_phrases("peña") == ["peña"]
    assert fts_phrases("ferret") == ["ferret"]
    assert fts_phrases("distribuidora") == ["distri", "buidor", "uidora"]
    assert fts_phrases("9001234") == ["900123", "001234"]


def test_the_postgres_pattern_spans_spaces_and_punctuation_and_needs_three_ascii_alphanumerics() -> None:
    assert pg_pattern("0@vargas") == "0qvargas"
    assert pg_pattern("s moreno c") == "sqmorenoqc"
    assert pg_pattern("distribuidora río montaña") == "buidoraqríoq"  # its middle
    assert len(pg_pattern("x" * 40)) == PG_PATTERN_MAX
    # pg_trgm might make no trigram of these (in a C locale, ñ is no letter): not looked up.
    assert pg_pattern("ñañ") == pg_pattern("a.") == pg_pattern("12") == pg_pattern("ñ-ñ") == ""
    assert pg_pattern("s.a.s.") == "sqaqsq"


def test_the_postgres_index_condition_is_checked_against_the_text_unless_it_is_exact() -> None:
    def checked(needle: str) -> bool:
        return "strpos" in str(pg_contains(clients, needle))

    assert not checked("9008") and not checked("gomez")  # the pattern is the needle
    assert checked("peña s.a") and checked("n_l")  # separators are turned into q
    assert checked("aquí")  # a real q may stand for a separator in search_key
    assert checked("x" * (PG_PATTERN_MAX + 1))  # only a part of it is looked up
