"""Who may see a deal in the figures of a cutoff: its current owner and team, whether the deal's span
holding the cutoff is its current one (read from the span) or one that has ended (joined with its deal);
dealgate.analytics.history.spans_holding, decision 052. Hand-made histories: Qualify deals created on
1 July 2026 (100 alice's, 200 carol's, 400 zed's, who has no team), then carol's reassigned to alice
today, after every cutoff below but "now"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from analytics_builders import History, at
from django.utils import timezone

from dealgate.analytics.history import Scope, pipeline_by_stage, scope_for
from dealgate.deals import services
from dealgate.deals.models import StateSpan
from dealgate.deals.timeline import FOREVER_AT
from dealgate.people.services import create_user


@pytest.fixture
def handed_over(world, pipeline):
    world.zed = create_user(username="zed", password=None, role="rep")
    h = History(world, pipeline)
    h.deal("2026-07-01", 100)
    world.handed = h.deal("2026-07-01", 200, owner=world.carol)
    h.deal("2026-07-01", 400, owner=world.zed)
    services.reassign_deal(world.handed, world.alice, by=world.dave)
    return world


def amount_seen(user, cutoff: dt.datetime) -> Decimal:
    scope = scope_for(user, pipeline_id=None, currency="EUR") if user is not None else Scope(currency="EUR")
    return sum((row["amount"] for row in pipeline_by_stage(scope, cutoff)), Decimal("0.00"))


def test_as_of_now_the_new_owner_and_their_team_see_a_handed_over_deal_and_the_old_owner_does_not(handed_over):
    w, now = handed_over, timezone.now() + dt.timedelta(minutes=1)
    assert amount_seen(w.alice, now) == Decimal("300.00")  # her 100 and carol's former 200
    assert amount_seen(w.bob, now) == Decimal("300.00")  # East's manager: both are East's now
    assert amount_seen(w.carol, now) == Decimal("0.00")
    assert amount_seen(w.zed, now) == Decimal("400.00")  # no team: his own deal only, not other teamless ones
    assert amount_seen(None, now) == Decimal("700.00")


def test_before_the_handover_the_deal_is_seen_by_whoever_may_see_it_now(handed_over):
    """As of 1 August the handed-over deal stood in a span that has since ended (carol's): it is
    joined with its deal, and counted for its current owner, as the deal list shows it."""
    w, august = handed_over, at("2026-08-01")
    holding = StateSpan.objects.get(deal_id=w.handed.pk, starts_at__lt=august, ends_at__gte=august)
    assert holding.ends_at != FOREVER_AT and holding.owner_id == w.carol.pk  # the ended span, as of then
    assert amount_seen(w.alice, august) == Decimal("300.00")
    assert amount_seen(w.carol, august) == Decimal("0.00")
    assert amount_seen(w.zed, august) == Decimal("400.00")
    assert amount_seen(None, august) == Decimal("700.00")


def test_a_cut_by_source_keeps_the_deal_join_and_the_same_answer(handed_over):
    w, august = handed_over, at("2026-08-01")
    scope = scope_for(w.alice, currency="EUR", source="outbound")
    assert sum((row["amount"] for row in pipeline_by_stage(scope, august)), Decimal("0.00")) == Decimal("300.00")
