"""`metrics.distinct_cut_values`: the rows `report --by owner|team|pipeline|source|segment` prints.

Written for the mutants that survived in it (bench/mutation.sh metrics): only the owner cut was
tested, with every deal visible. A viewer must get only the values of the deals they may see
(their own and their team's), and another currency's deals must not add rows.

Deals (all created 2026-07-01, the amounts do not matter here):
  alice (East)  EUR  outbound  segment ""            Test pipeline
  alice (East)  EUR  referral  segment "SMB"         Test pipeline
  bob   (East)  EUR  outbound  segment "Enterprise"  Test pipeline
  carol (West)  EUR  inbound   segment "SMB"         Test pipeline
  dave  (none)  EUR  outbound  segment ""            Test pipeline
  zed   (none)  EUR  outbound  segment ""            Test pipeline   (zed has no first name)
  carol (West)  USD  signal    segment "Mid"         Renewals
"""

import pytest
from analytics_builders import History

from dealgate.analytics.history import Scope, scope_for
from dealgate.analytics.metrics import distinct_cut_values
from dealgate.people.services import create_user
from dealgate.pipelines.models import Pipeline
from tests.conftest import build_test_pipeline


@pytest.fixture
def cuts(world, pipeline):
    world.zed = create_user(username="zed", password=None, role="rep")
    h = History(world, pipeline)
    h.deal("2026-07-01", 100)
    h.deal("2026-07-01", 100, source="referral", segment="SMB")
    h.deal("2026-07-01", 100, owner=world.bob, segment="Enterprise")
    h.deal("2026-07-01", 100, owner=world.carol, source="inbound", segment="SMB")
    h.deal("2026-07-01", 100, owner=world.dave)
    h.deal("2026-07-01", 100, owner=world.zed)
    renewals = build_test_pipeline("renewals")
    Pipeline.objects.filter(pk=renewals.pk).update(name="Renewals")
    History(world, renewals).deal("2026-07-01", 100, owner=world.carol, currency="USD", source="signal",
                                  segment="Mid")
    world.renewals = renewals
    return world


def test_each_cut_lists_the_values_of_the_deals_in_the_currency(cuts, pipeline):
    w = cuts
    scope = Scope(currency="EUR")
    # Ordered by username; a user without a name is shown by username.
    assert distinct_cut_values(scope, "owner") == [
        (w.alice.pk, "Alice"), (w.bob.pk, "Bob"), (w.carol.pk, "Carol"), (w.dave.pk, "Dave"), (w.zed.pk, "zed")]
    assert sorted(distinct_cut_values(scope, "team")) == sorted([(w.east.pk, "East"), (w.west.pk, "West")])
    assert distinct_cut_values(scope, "pipeline") == [(pipeline.pk, "Test pipeline")]  # Renewals is USD only
    assert distinct_cut_values(scope, "source") == [
        ("inbound", "inbound"), ("outbound", "outbound"), ("referral", "referral")]
    # A deal whose account has no segment is counted under "(none)".
    assert distinct_cut_values(scope, "segment") == [("", "(none)"), ("Enterprise", "Enterprise"), ("SMB", "SMB")]


def test_another_currency_has_its_own_values(cuts):
    w = cuts
    scope = Scope(currency="USD")
    assert distinct_cut_values(scope, "owner") == [(w.carol.pk, "Carol")]
    assert distinct_cut_values(scope, "team") == [(w.west.pk, "West")]
    assert distinct_cut_values(scope, "pipeline") == [(w.renewals.pk, "Renewals")]
    assert distinct_cut_values(scope, "source") == [("signal", "signal")]
    assert distinct_cut_values(scope, "segment") == [("Mid", "Mid")]


def test_a_rep_sees_the_values_of_their_own_and_their_teams_deals_only(cuts):
    w = cuts
    alice = scope_for(w.alice, currency="EUR")
    assert distinct_cut_values(alice, "owner") == [(w.alice.pk, "Alice"), (w.bob.pk, "Bob")]
    assert distinct_cut_values(alice, "team") == [(w.east.pk, "East")]
    assert distinct_cut_values(alice, "source") == [("outbound", "outbound"), ("referral", "referral")]
    assert distinct_cut_values(alice, "segment") == [("", "(none)"), ("Enterprise", "Enterprise"), ("SMB", "SMB")]
    carol = scope_for(w.carol, currency="EUR")
    assert distinct_cut_values(carol, "owner") == [(w.carol.pk, "Carol")]
    assert distinct_cut_values(carol, "segment") == [("SMB", "SMB")]


def test_a_rep_without_a_team_sees_only_their_own_deals_not_other_teamless_ones(cuts, pipeline):
    # zed and dave both have deals with no team: "their team's deals" must not mean "deals with no team".
    w = cuts
    zed = scope_for(w.zed, currency="EUR")
    assert distinct_cut_values(zed, "owner") == [(w.zed.pk, "zed")]
    assert distinct_cut_values(zed, "team") == []
    assert distinct_cut_values(zed, "pipeline") == [(pipeline.pk, "Test pipeline")]


def test_an_unknown_cut_is_refused_by_name(cuts):
    with pytest.raises(ValueError, match="unknown cut 'region'"):
        distinct_cut_values(Scope(), "region")
