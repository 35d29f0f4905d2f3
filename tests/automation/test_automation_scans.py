"""Periodic scans follow the caller's clock and fire once per occurrence: per stale spell, per
passed close date, per overdue task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from dealgate.automation import services
from dealgate.automation.models import Notification, RuleRun
from dealgate.automation.scans import run_scans
from dealgate.deals import services as deal_services

ALERT = [{"type": "notify", "to": "manager", "title": "{deal} went quiet"}]


def later(days: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def test_an_idle_rule_fires_once_per_stale_spell_by_the_stages_limit(world, pipeline, make_deal):
    rule = services.create_rule(by=None, name="Stale", trigger="deal_idle", pipeline=pipeline, actions=ALERT)
    deal = make_deal(title="Acme")  # in qualify, idle limit 7 days
    assert run_scans(later(6.9)) == 0
    assert run_scans(later(7.1)) == 1
    assert Notification.objects.get().user == world.bob  # alice's manager
    assert run_scans(later(8)) == 0 and run_scans(later(30)) == 0  # the same spell
    deal_services.log_activity(by=world.alice, kind="call", subject="Back in touch", deal=deal,
                               occurred_at=later(30))  # activity ends the spell
    assert run_scans(later(36)) == 0
    assert run_scans(later(37.5)) == 1  # went stale again
    assert RuleRun.objects.filter(rule=rule).count() == 2


def test_an_idle_rule_with_its_own_days_and_a_moved_deal(world, pipeline, make_deal):
    services.create_rule(by=None, name="Quiet 3 days", trigger="deal_idle", idle_days=3, pipeline=pipeline,
                         actions=ALERT)
    deal = make_deal()
    assert run_scans(later(3.5)) == 1
    deal_services.move_deal(deal, "propose", by=world.bob, override_reason="test")
    assert run_scans(later(3.6)) == 0  # moved just now (real clock): a new spell, not idle yet
    deal_services.move_deal(deal, "lost", by=world.bob, lost_reason="price")
    assert run_scans(later(10)) == 0  # closed deals are never idle


def test_a_passed_close_date_fires_once_and_again_after_it_slips_and_passes(world, pipeline, make_deal):
    services.create_rule(by=None, name="Close date", trigger="close_date_passed", pipeline=pipeline,
                         actions=[{"type": "notify", "title": "{deal}: the close date passed"}])
    today = timezone.localdate()
    deal = make_deal(expected_close_date=today + dt.timedelta(days=2))
    make_deal(expected_close_date=today + dt.timedelta(days=20))
    assert run_scans(later(3)) == 1 and run_scans(later(4)) == 0
    deal_services.update_deal(deal, by=world.alice, expected_close_date=today + dt.timedelta(days=10))
    assert run_scans(later(9)) == 0
    assert run_scans(later(11)) == 1
    assert Notification.objects.filter(user=world.alice).count() == 2


def test_an_overdue_task_fires_once_per_task(world, pipeline, make_deal):
    services.create_rule(by=None, name="Overdue", trigger="task_overdue", pipeline=pipeline, actions=ALERT)
    deal = make_deal()
    today = timezone.localdate()
    services.create_task(by=world.alice, deal=deal, title="a", due=today + dt.timedelta(days=1))
    done = services.create_task(by=world.alice, deal=deal, title="b", due=today)
    services.complete_task(done, by=world.alice)
    assert run_scans(later(2)) == 1
    assert run_scans(later(3)) == 0


@pytest.mark.django_db(transaction=True)  # the worker closes a connection held in a test's transaction
def test_worker_batch_runs_the_scans_on_the_given_clock(world, pipeline, make_deal):
    services.create_rule(by=None, name="Stale", trigger="deal_idle", pipeline=pipeline, actions=ALERT)
    make_deal(title="Acme")
    call_command("worker", "--batch", "--interval", "0", "--now", later(8).isoformat())
    call_command("worker", "--batch", "--interval", "0", "--now", later(9).isoformat())
    assert [n.title for n in Notification.objects.exclude(kind="review")] == ["Acme went quiet"]


def _backdate(deal, days: float) -> None:
    """A write that puts the deal's quiet spell behind the scans' mark (as a raw data fix would)."""
    from dealgate.deals.models import Deal

    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=timezone.now() - dt.timedelta(days=days))


def test_a_scan_after_the_first_looks_only_at_what_crossed_its_threshold_since(world, pipeline, make_deal):
    """Idle 3 days. 2.6 d: the first (full) scan, nothing idle yet; mark 2.6 d. Globex is then
    backdated 10 days: idle since long before the mark. 2.8 d: window [2.6 d - 5 min - 3 d, 2.8 d - 3 d)
    = quiet since in [-0.4 d - 5 min, -0.2 d): neither deal (Acme quiet since 0, Globex since -10 d).
    3.2 d: window [-0.2 d - 5 min, 0.2 d): Acme. 3.7 d: more than a day after the last full scan
    (2.6 d), so the daily sweep: Globex, whose crossing no window saw."""
    from dealgate.automation.models import Rule

    services.create_rule(by=None, name="Quiet 3 days", trigger="deal_idle", idle_days=3, pipeline=pipeline,
                         actions=ALERT)
    make_deal(title="Acme")
    globex = make_deal(title="Globex")
    assert run_scans(later(2.6)) == 0
    rule = Rule.objects.get()
    assert rule.scanned_until == rule.swept_at and rule.swept_at > later(2.5)
    _backdate(globex, 10)
    assert run_scans(later(2.8)) == 0  # the full scan before this change would have alerted Globex here
    assert run_scans(later(3.2)) == 1
    assert run_scans(later(3.7)) == 1
    assert sorted(n.title for n in Notification.objects.all()) == ["Acme went quiet", "Globex went quiet"]


def test_an_edited_or_reenabled_rule_scans_every_open_deal_next(world, pipeline, make_deal):
    """After a rule changes, the deals behind its old mark are looked at on the next scan."""
    rule = services.create_rule(by=None, name="Quiet 3 days", trigger="deal_idle", idle_days=3, pipeline=pipeline,
                                actions=ALERT)
    deal = make_deal(title="Acme")
    assert run_scans(later(0.5)) == 0
    _backdate(deal, 10)
    assert run_scans(later(0.6)) == 0  # behind the mark
    services.update_rule(rule, by=None, name="Quiet for 3 days")
    assert run_scans(later(0.7)) == 1
    other = make_deal(title="Globex")
    assert run_scans(later(0.8)) == 0
    services.set_rule_enabled(rule, by=None, enabled=False)
    _backdate(other, 10)
    services.set_rule_enabled(rule, by=None, enabled=True)
    assert run_scans(later(0.9)) == 1


def test_a_scan_on_an_earlier_clock_looks_at_everything_and_keeps_the_later_mark(world, pipeline, make_deal):
    from dealgate.automation.models import Rule

    services.create_rule(by=None, name="Quiet 3 days", trigger="deal_idle", idle_days=3, pipeline=pipeline,
                         actions=ALERT)
    make_deal(title="Acme")
    assert run_scans(later(5)) == 1
    assert run_scans(later(4)) == 0  # the same spell, already handled
    assert Rule.objects.get().scanned_until > later(4.9)
