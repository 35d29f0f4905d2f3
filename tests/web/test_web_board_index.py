"""On SQLite, the board's column queries read the board index (deal_board_idx), not every deal.

At 20,000 open deals the difference is the page's speed (bench/README.md, Board). A filter that
steers SQLite off this index shows up here as a plan without it: with a `closed_at IS NULL` test
back in the board query, SQLite plans "my deals" on the `closed_at` index. SQLite plans from the
schema alone here (the test database has no statistics), so the check means the same as at
scale. PostgreSQL plans a dozen-row table by its statistics and may pick any index, so there the
plans are checked at scale instead (EXPLAIN ANALYZE in bench/README.md).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.deals.board import BoardFilters, build_board, build_column


pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="plans of toy tables mean nothing on PostgreSQL")


def _assert_board_index(read) -> None:
    """The header sums (GROUP BY) and the first cards (per-column LIMITs) of one read use the index alone."""
    with CaptureQueriesContext(connection) as ctx:
        read()
    column_queries = [q["sql"] for q in ctx.captured_queries  # the reads of one pipeline's deals
                      if '"deals_deal"."pipeline_id" =' in q["sql"] and ("GROUP BY" in q["sql"] or "LIMIT" in q["sql"])]
    assert len(column_queries) == 2, column_queries
    for sql in column_queries:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = "\n".join(row[-1] for row in cursor.fetchall())
        # Covering: the row itself is never read, also for "flagged only" (its flag columns are in the index).
        assert "USING COVERING INDEX deal_board_idx" in plan, f"{sql}\n{plan}"


@pytest.mark.parametrize("filters", [BoardFilters(), BoardFilters(flagged=True), BoardFilters(mine=True)],
                         ids=["all", "flagged", "mine"])
@pytest.mark.parametrize("viewer", ["alice", "dave"])
def test_the_board_reads_its_columns_from_the_board_index(world, make_deal, pipeline, filters, viewer):
    for n in range(12):
        make_deal(title=f"Deal {n}", amount=1000 + n, owner=world.bob if n % 2 else world.alice)
    _assert_board_index(lambda: build_board(pipeline, getattr(world, viewer), filters))


def test_a_column_page_reads_the_board_index_too(world, make_deal, pipeline):
    for n in range(12):
        make_deal(title=f"Deal {n}")
    qualify = pipeline.stages.get(key="qualify")
    _assert_board_index(lambda: build_column(pipeline, qualify, world.alice, BoardFilters(), offset=5, limit=5))
