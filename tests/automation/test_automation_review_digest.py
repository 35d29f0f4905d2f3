"""The weekly review digest: the real worker (`dealgate worker --batch --now ...`) sends each manager
and admin "Pipeline review for week N" once per ISO week, in the app and by email when chosen."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from dealgate.automation.models import Notification, ReviewDigest
from dealgate.automation.services import set_email_kinds
from dealgate.deals import services as deal_services
from tests.automation.conftest import workers_at_once

pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes a connection held in a test's transaction


def worker(now: str, **options) -> None:
    call_command("worker", "--batch", "--interval", "0", "--now", now, **options)


def reviews():
    return sorted((n.user.username, n.title, n.link) for n in Notification.objects.filter(kind="review"))


def test_the_first_scan_of_a_week_sends_each_manager_and_admin_last_weeks_review_once(world):
    worker("2026-11-30T08:00:00+00:00")  # Monday of week 49: the review of week 48
    link = "/insights/review/?week=2026-W48"
    assert reviews() == [("bob", "Pipeline review for week 48", link), ("dave", "Pipeline review for week 48", link)]
    worker("2026-11-30T08:05:00+00:00")
    worker("2026-12-06T23:00:00+00:00")  # still week 49
    assert len(reviews()) == 2
    worker("2026-12-07T00:30:00+00:00")  # week 50
    assert [title for _, title, _ in reviews()].count("Pipeline review for week 49") == 2
    assert ReviewDigest.objects.count() == 4


def test_the_review_says_what_changed_in_the_managers_team(world, make_deal):
    deal = make_deal(title="Acme", amount=1000)
    deal_services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    from django.utils import timezone

    from dealgate.analytics.review import week_containing

    next_week = week_containing(timezone.now()).shifted(1)
    worker(next_week.start.isoformat())
    note = Notification.objects.get(user=world.bob, kind="review")
    assert "team East: 1 new" in note.body and "1 lost" in note.body
    assert note.body.endswith(" went stale). Amounts in EUR.")  # nothing else to convert or leave out


def test_the_review_converts_other_currencies_that_have_a_rate_and_names_those_without(world, make_deal):
    from django.utils import timezone

    from dealgate.analytics.rates import set_rate
    from dealgate.analytics.review import week_containing

    deal = make_deal(title="Acme", amount=1000, currency="USD")
    deal_services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    make_deal(title="Globex", amount=500, currency="GBP")
    set_rate(currency="USD", rate="0.9", effective_from="2026-01-01", by=None)
    worker(week_containing(timezone.now()).shifted(1).start.isoformat())
    note = Notification.objects.get(user=world.bob, kind="review")
    assert "team East: 1 new" in note.body and "1 lost" in note.body  # the USD deal; the GBP one is left out
    assert ("Amounts in EUR; USD converted at the exchange rate of the day each change happened (went stale: of "
            "the week's last day); left out: 1 deal in GBP (no exchange rate).") in note.body


def test_it_follows_the_configured_time_zone(world, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    worker("2026-11-29T22:30:00+00:00")  # Sunday 23:30 in Berlin: still week 48, the review of week 47
    worker("2026-11-29T23:30:00+00:00")  # Monday 00:30 in Berlin: week 49 began
    assert sorted({title for _, title, _ in reviews()}) == ["Pipeline review for week 47",
                                                             "Pipeline review for week 48"]


def test_it_emails_the_review_once_to_whoever_chose_it(world, mailoutbox):
    world.bob.email = "bob@example.com"
    world.bob.save(update_fields=["email"])
    set_email_kinds(by=world.bob, kinds=["review"])
    worker("2026-11-30T08:00:00+00:00")
    worker("2026-11-30T09:00:00+00:00")
    assert [m.subject for m in mailoutbox] == ["[Dealgate] Pipeline review for week 48"]
    assert mailoutbox[0].to == ["bob@example.com"] and "/insights/review/?week=2026-W48" in mailoutbox[0].body


def test_opening_the_notification_opens_the_review_of_that_week(client, world):
    worker("2026-11-30T08:00:00+00:00")
    note = Notification.objects.get(user=world.bob, kind="review")
    client.force_login(world.bob)
    response = client.post(f"/inbox/{note.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/insights/review/?week=2026-W48"
    assert "Week 48, 23–29 Nov 2026" in client.get(response["Location"]).content.decode()


def test_two_workers_at_once_send_each_review_once(world):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite locks whole tables without waiting; run on PostgreSQL (or DEALGATE_TEST_SQLITE)")
    errors = workers_at_once(now=_monday())
    assert not errors
    assert len(reviews()) == 2 and ReviewDigest.objects.count() == 2


def _monday():
    import datetime as dt

    return dt.datetime(2026, 11, 30, 8, tzinfo=dt.timezone.utc)
