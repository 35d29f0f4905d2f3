"""The board's query count does not grow with its cards (no query per card)."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealgate.deals import services


def _fill(world, make_deal, n, start=0):
    """n deals across the open stages, each with a contact, an activity and a ticked item."""
    for i in range(start, start + n):
        owner = world.alice if i % 2 else world.bob
        deal = make_deal(owner=owner, title=f"Deal {i}", amount=1000 + i, currency="EUR" if i % 3 else "USD",
                         next_step="Call", next_step_due="2030-01-01")
        services.record_checklist_answer(deal, "budget", by=owner, evidence="yes")
        services.log_activity(by=owner, kind="meeting", subject="Met", deal=deal, outcome="held")
        contact = services.create_contact(by=owner, name=f"Person {i}", account=deal.account)
        services.link_contact(deal, contact, "decision_maker", by=owner)
        target = ("qualify", "propose", "negotiate")[i % 3]
        if target != "qualify":
            services.move_deal(deal, target, by=world.bob, override_reason="seed")


def _count(client, url, params=None):
    cache.clear()  # every measurement starts with a cold stuck-threshold cache
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


def test_the_board_page_issues_the_same_queries_for_3_or_30_cards(client, world, make_deal, django_assert_num_queries):
    client.force_login(world.bob)
    url = reverse("web:board", args=["test"])
    _fill(world, make_deal, 3)
    few = _count(client, url)
    _fill(world, make_deal, 27, start=3)
    cache.clear()
    with django_assert_num_queries(few):
        response = client.get(url)
    assert response.content.decode().count('<li class="card') == 30


def test_filters_do_not_add_queries_per_card(client, world, make_deal, django_assert_num_queries):
    client.force_login(world.bob)
    url = reverse("web:board", args=["test"])
    params = {"flagged": "on", "q": "Deal", "owner": world.alice.pk}
    _fill(world, make_deal, 2)
    few = _count(client, url, params)
    _fill(world, make_deal, 20, start=2)
    cache.clear()
    with django_assert_num_queries(few):
        client.get(url, params)


def test_load_more_issues_the_same_queries_for_any_page_size(client, world, make_deal, django_assert_num_queries, pipeline):
    client.force_login(world.bob)
    stage = pipeline.stages.get(key="qualify")
    url = reverse("web:column", args=["test", stage.pk])
    _fill(world, make_deal, 3)
    few = _count(client, url, {"offset": 0})
    _fill(world, make_deal, 30, start=3)
    cache.clear()
    with django_assert_num_queries(few):
        client.get(url, {"offset": 0})
