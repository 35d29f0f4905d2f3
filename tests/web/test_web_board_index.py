"""The board's column queries read the board index (deal_board_idx), not a scan of every deal.

At 20,000 open deals the difference is the page's speed (bench/README.md, Board). A filter that
steers a database off this index shows up here as a plan without it: with a `closed_at IS NULL`
test back in the board query, SQLite plans "my deals" on the `closed_at` index.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.deals.board import BoardFilters, build_board, build_column


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: judge the index, not size
            cursor.execute(f"EXPLAIN {sql}")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(row[-1] if connection.vendor == "sqlite" else row[0]) for row in cursor.fetchall())


def _column_queries(read) -> list[str]:
    """The header sums (GROUP BY) and the first cards (UNION ALL of per-column LIMITs) of one read."""
    with CaptureQueriesContext(connection) as ctx:
        read()
    return [q["sql"] for q in ctx.captured_queries
            if '"deals_deal"' in q["sql"] and any(word in q["sql"] for word in ("GROUP BY", "UNION ALL", "LIMIT"))]


@pytest.mark.parametrize("filters", [BoardFilters(), BoardFilters(flagged=True), BoardFilters(mine=True)],
                         ids=["all", "flagged", "mine"])
@pytest.mark.parametrize("viewer", ["alice", "dave"])
def test_the_board_reads_its_columns_from_the_board_index(world, make_deal, pipeline, filters, viewer):
    for n in range(12):
        make_deal(title=f"Deal {n}", amount=1000 + n, owner=world.bob if n % 2 else world.alice)
    queries = _column_queries(lambda: build_board(pipeline, getattr(world, viewer), filters))
    assert len(queries) == 2, queries
    for sql in queries:
        assert "deal_board_idx" in _plan(sql), sql


def test_a_column_page_reads_the_board_index_too(world, make_deal, pipeline):
    for n in range(12):
        make_deal(title=f"Deal {n}")
    qualify = pipeline.stages.get(key="qualify")
    queries = _column_queries(lambda: build_column(pipeline, qualify, world.alice, BoardFilters(), offset=5, limit=5))
    assert len(queries) == 2, queries
    for sql in queries:
        assert "deal_board_idx" in _plan(sql), sql
