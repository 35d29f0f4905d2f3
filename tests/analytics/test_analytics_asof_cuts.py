"""Owner and team cuts read who owned a deal at the cutoff, not who owns it today.

Reassigning a deal logs the owner and the team (FieldChange); a figure as of a date attributes the
deal to its owner then, and the waterfall of an owner shows a reassignment as moved out / moved in.
"""

from decimal import Decimal

import pytest
from analytics_builders import History, at

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_period
from dealgate.deals.models import Deal

Q3, Q4 = parse_period("2026-Q3"), parse_period("2026-Q4")


def reassign(h, deal, old_owner, new_owner, when):
    """What reassign_deal logs, at a chosen date: team first, then owner; the deal row is today's."""
    h.change(deal, "team", new_owner.profile.team_id, when, old=old_owner.profile.team_id)
    h.change(deal, "owner", new_owner.pk, when, old=old_owner.pk)
    Deal.objects.filter(pk=deal.pk).update(owner=new_owner, team_id=new_owner.profile.team_id)


@pytest.fixture
def story(world, pipeline):
    """won: Alice's, won Aug 10, handed to Carol on Oct 10 (account care).
    open: Alice's, 2,000 open since Jul 1, handed to Carol on Nov 5 (still open on Dec 31)."""
    h = History(world, pipeline)
    won = h.deal("2026-07-01", 1000, owner=world.alice)
    h.move(won, "won", "2026-08-10")
    reassign(h, won, world.alice, world.carol, "2026-10-10")
    still_open = h.deal("2026-07-01", 2000, owner=world.alice)
    reassign(h, still_open, world.alice, world.carol, "2026-11-05")
    return won, still_open


@pytest.mark.django_db
def test_won_deal_counts_for_its_owner_as_of_the_cutoff(world, pipeline, story):
    """As of Sep 30 the Q3 win is Alice's; as of January, after the hand-over, Carol's (like every
    figure, a cut answers "as things stood at the cutoff")."""
    for cutoff, alice_won, carol_won in ((at("2026-10-01"), 1, 0), (at("2027-01-15"), 0, 1)):
        for who, won in ((world.alice, alice_won), (world.carol, carol_won)):
            assert metrics.outcomes(Scope(pipeline_id=pipeline.pk, owner_id=who.pk), Q3, cutoff)["won"] == won
    east = metrics.outcomes(Scope(pipeline_id=pipeline.pk, team_id=world.east.pk), Q3, at("2026-10-01"))
    assert (east["won"], east["won_amount"]) == (1, Decimal("1000.00"))
    west = metrics.outcomes(Scope(pipeline_id=pipeline.pk, team_id=world.west.pk), Q3, at("2026-10-01"))
    assert west["won"] == 0


@pytest.mark.django_db
def test_open_pipeline_follows_the_owner_of_the_day(world, pipeline, story):
    alice, carol = (Scope(pipeline_id=pipeline.pk, owner_id=u.pk) for u in (world.alice, world.carol))
    before, after = at("2026-11-01"), at("2026-11-10")
    assert metrics._open_pipeline_cents(alice, before) == 200000
    assert metrics._open_pipeline_cents(carol, before) == 0
    assert metrics._open_pipeline_cents(alice, after) == 0
    assert metrics._open_pipeline_cents(carol, after) == 200000


@pytest.mark.django_db
def test_reassignment_moves_pipeline_between_owners_waterfalls(world, pipeline, story):
    end = at("2027-01-15")
    alice = metrics.waterfall(Scope(pipeline_id=pipeline.pk, owner_id=world.alice.pk), Q4, end)
    carol = metrics.waterfall(Scope(pipeline_id=pipeline.pk, owner_id=world.carol.pk), Q4, end)
    assert (alice["opening"], alice["moved_out"], alice["closing"]) == (Decimal("2000.00"), Decimal("2000.00"), 0)
    assert (carol["opening"], carol["moved_in"], carol["closing"]) == (0, Decimal("2000.00"), Decimal("2000.00"))
    assert alice["adds_up"] and carol["adds_up"]
    assert alice["counts"]["moved_out"] == carol["counts"]["moved_in"] == 1
    whole = metrics.waterfall(Scope(pipeline_id=pipeline.pk), Q4, end)
    assert (whole["moved_in"], whole["moved_out"], whole["adds_up"]) == (0, 0, True)
