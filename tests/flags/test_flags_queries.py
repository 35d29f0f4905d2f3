"""compute_flags costs the same number of queries for 3 deals as for 30 (a board, not a loop)."""

import datetime as dt

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.deals import services
from dealgate.deals.flags import compute_flags
from tests.conftest import build_test_pipeline

TODAY = dt.date(2026, 11, 20)
# Rules (stages joined to criteria) per distinct pipeline, four queries of criteria facts (the deal rows are in
# hand), one percentile query.
RULES_QUERIES_PER_PIPELINE = 1
QUERIES_FOR_ONE_PIPELINE = RULES_QUERIES_PER_PIPELINE + 4 + 1


def busy_deals(make_deal, world, count, **fields):
    """Deals with contacts, activities, checklist answers and a move, so every fact table has rows."""
    deals = []
    for i in range(count):
        deal = make_deal(amount=str(1000 + i), **fields)
        contact = services.create_contact(by=world.alice, name=f"Buyer {i}", account=deal.account)
        services.link_contact(deal, contact, "decision_maker", by=world.alice)
        services.log_activity(by=world.alice, kind="call", subject="Intro", deal=deal, outcome="held")
        services.record_checklist_answer(deal, "budget", by=world.alice, evidence="confirmed")
        if i % 3 == 0:
            services.move_deal(deal, "propose", by=world.alice)
        deals.append(deal)
    return deals


def test_it_uses_the_same_number_of_queries_for_3_deals_and_for_30(
    clock, make_deal, world, board, django_assert_num_queries
):
    small = board(*busy_deals(make_deal, world, 3))
    large = board(*busy_deals(make_deal, world, 30))
    assert len(small) == 3 and len(large) == 30
    cache.clear()  # measure with a cold stuck-threshold cache both times
    with django_assert_num_queries(QUERIES_FOR_ONE_PIPELINE):
        compute_flags(small, today=TODAY)
    cache.clear()
    with django_assert_num_queries(QUERIES_FOR_ONE_PIPELINE):
        flags = compute_flags(large, today=TODAY)
    with django_assert_num_queries(QUERIES_FOR_ONE_PIPELINE - 1):  # warm: the percentile query is cached
        compute_flags(large, today=TODAY)
    assert all(any(f.code == "stale" for f in flags[d.pk]) for d in large)


def test_a_second_pipeline_adds_only_its_rules_queries(clock, make_deal, world, board):
    other = build_test_pipeline("other")
    deals = board(*busy_deals(make_deal, world, 4), *busy_deals(make_deal, world, 4, pipeline=other))
    with CaptureQueriesContext(connection) as queries:
        compute_flags(deals, today=TODAY)
    assert len(queries) == QUERIES_FOR_ONE_PIPELINE + RULES_QUERIES_PER_PIPELINE


def test_it_makes_no_query_when_every_deal_is_closed(clock, make_deal, world, board, django_assert_num_queries):
    deal = make_deal()
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    closed = board(deal)
    with django_assert_num_queries(0):
        assert compute_flags(closed, today=TODAY) == {deal.pk: []}
