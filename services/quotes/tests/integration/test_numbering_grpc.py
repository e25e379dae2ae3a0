"""Quote numbers are gapless and unique per year under concurrent creation: 16 creators in
parallel over gRPC (with failing creates among them) on SQLite and on PostgreSQL end up with
COT-<year>-0001 .. N, no gap, no repeat; a rolled-back transaction gives its number back; a new
year starts again at 0001."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

from crm_quotes.adapters.quote_repository import next_number

from .conftest import QuotesWorld

CREATORS = 16
PER_CREATOR = 4


def test_sixteen_parallel_creators_get_gapless_unique_numbers(world: QuotesWorld) -> None:
    product = world.product("NUM-1")
    deals = [world.deals.add() for _ in range(CREATORS)]
    start = threading.Barrier(CREATORS)

    def creator(i: int) -> tuple[list[str], int]:
        stub = world.stub
        start.wait()
        numbers, refused = [], 0
        for k in range(PER_CREATOR):
            req = world.quote_request(deals[i], [(product.id, "1")])
            if k == 1:
                req.quote.lines[0].quantity = "-1"  # refused: takes no number
            try:
                numbers.append(stub.CreateQuote(req, timeout=30).quote.number)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                refused += 1
        return numbers, refused

    with ThreadPoolExecutor(CREATORS) as pool:
        results = list(pool.map(creator, range(CREATORS)))
    numbers = [n for got, _ in results for n in got]
    assert sum(r for _, r in results) == CREATORS
    year = world.today().year
    expected = CREATORS * (PER_CREATOR - 1)
    assert sorted(numbers) == [f"COT-{year}-{n:04d}" for n in range(1, expected + 1)]
    assert world.counts()["quotes"] == expected


def test_a_rolled_back_transaction_gives_its_number_back_and_years_count_apart(world: QuotesWorld) -> None:
    db = world.runtime.db
    assert db is not None
    with db.uow() as uow:
        assert next_number(uow.session, 2031) == 1
        assert next_number(uow.session, 2031) == 2
        # not committed: rolled back when the unit of work ends
    with db.uow() as uow:
        assert next_number(uow.session, 2031) == 1
        assert next_number(uow.session, 2032) == 1
        uow.commit()
    with db.uow() as uow:
        assert next_number(uow.session, 2031) == 2
