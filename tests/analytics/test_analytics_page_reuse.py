"""A second look at an insights page in the same minute reuses the figures of the first; a write in
between shows at once (issue 16: insights and forecast warm; dealgate.analytics.periods.page_now)."""

import datetime as dt

import pytest
from analytics_builders import History
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.analytics.periods import UTC, page_now
from dealgate.deals import services
from dealgate.deals.models import Account


def test_page_now_is_the_next_whole_minute():
    assert page_now(dt.datetime(2026, 12, 4, 16, 40, 23, 500, tzinfo=UTC)) == dt.datetime(2026, 12, 4, 16, 41, tzinfo=UTC)
    assert page_now(dt.datetime(2026, 12, 4, 16, 41, tzinfo=UTC)) == dt.datetime(2026, 12, 4, 16, 41, tzinfo=UTC)
    assert page_now(dt.datetime(2026, 12, 31, 23, 59, 0, 1, tzinfo=UTC)) == dt.datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def book(world, pipeline):
    h = History(world, pipeline)
    won = h.deal("2026-07-01", 12_500, close_date="2026-08-01")
    h.move(won, "won", "2026-08-01")
    h.deal("2026-08-01", 40_000, owner=world.carol, close_date="2026-09-30")
    return h


def figure_queries(queries) -> list[str]:
    """Queries that read the history itself, not the marks that tell whether a kept figure is still valid."""
    return [q["sql"] for q in queries if "deals_statespan" in q["sql"] and "MAX(" not in q["sql"]]


def two_views_in_one_minute(client, path):
    for _ in range(3):  # a minute may turn between the two views: then both compute, try again
        minute = page_now()
        first = client.get(path)
        with CaptureQueriesContext(connection) as queries:
            second = client.get(path)
        if page_now() == minute:
            return first, second, queries
    pytest.fail("three minutes turned during two page views")


@pytest.mark.parametrize("path", ["/insights/", "/insights/forecast/"])
def test_a_second_view_in_the_same_minute_reads_no_history(client, book, world, path):
    client.force_login(world.alice)
    first, second, queries = two_views_in_one_minute(client, path)
    assert first.status_code == second.status_code == 200
    assert figure_queries(queries) == []
    assert b"as of now" in second.content


def test_a_write_between_two_views_shows_in_the_second(client, book, world, pipeline):
    client.force_login(world.dave)
    for _ in range(3):
        minute = page_now()
        before = client.get("/insights/").context["m"]
        services.create_deal(title="Walk-in", pipeline=pipeline, owner=world.alice, amount="777",
                             account=Account.objects.create(name=f"Walk-in {minute}"), by=world.alice)
        with CaptureQueriesContext(connection) as queries:
            after = client.get("/insights/").context["m"]
        if page_now() == minute:
            break
    assert figure_queries(queries)  # the figures were computed again
    assert after["open_deals"] == before["open_deals"] + 1 and after["pipeline"] == before["pipeline"] + 777


def test_filter_choices_follow_a_new_deal_at_once(client, book, world, pipeline):
    client.force_login(world.dave)
    assert "Retail" not in client.get("/insights/").context["form"]["segments"]
    retail = Account.objects.create(name="Corner shop", segment="Retail")
    services.create_deal(title="Shop fit-out", pipeline=pipeline, owner=world.alice, amount="900", account=retail,
                         by=world.alice)
    assert "Retail" in client.get("/insights/").context["form"]["segments"]
