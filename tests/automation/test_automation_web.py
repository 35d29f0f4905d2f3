"""Tasks on the deal page, in My day and on the board card; the inbox; the admins' rules page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from dealgate.automation import services
from dealgate.automation.models import Notification, Task


@pytest.fixture
def today():
    return timezone.localdate()


def test_it_adds_a_task_on_the_deal_page_and_ticks_it_off(client, world, make_deal, today):
    deal = make_deal(title="Acme")
    client.force_login(world.alice)
    due = today + dt.timedelta(days=2)
    response = client.post(reverse("automation:task_add", args=[deal.pk]), {"title": "Send the contract",
                                                                            "due": due.isoformat()})
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.assignee, task.due, task.done) == ("Send the contract", world.alice, due, False)
    html = client.get(reverse("web:deal", args=[deal.pk])).content.decode()
    assert "Send the contract" in html and 'aria-label="Done: Send the contract"' in html
    client.post(reverse("automation:task_done", args=[task.pk]), {"done": "1"})
    task.refresh_from_db()
    assert task.done and task.done_at is not None
    client.post(reverse("automation:task_done", args=[task.pk]), {"done": "0"})
    task.refresh_from_db()
    assert not task.done and task.done_at is None


def test_a_task_without_a_due_date_is_refused_with_a_message(client, world, make_deal):
    deal = make_deal()
    client.force_login(world.alice)
    response = client.post(reverse("automation:task_add", args=[deal.pk]), {"title": "Call", "due": ""})
    assert response.status_code == 422
    assert "a task needs a due date" in response.content.decode()
    assert not Task.objects.exists()


def test_a_rep_cannot_add_or_tick_tasks_on_another_teams_deal(client, world, make_deal, today):
    deal = make_deal(owner=world.carol)
    task = services.create_task(by=world.carol, deal=deal, title="Call", due=today)
    client.force_login(world.alice)
    assert client.post(reverse("automation:task_add", args=[deal.pk]), {"title": "x", "due": today}).status_code == 404
    assert client.post(reverse("automation:task_done", args=[task.pk]), {"done": "1"}).status_code == 404
    task.refresh_from_db()
    assert not task.done


def test_a_teammate_may_see_but_not_tick_anothers_task(client, world, make_deal, today):
    bobs = make_deal(owner=world.bob)
    task = services.create_task(by=world.bob, deal=bobs, title="Bob's call", due=today)
    client.force_login(world.alice)
    assert "Bob&#x27;s call" in client.get(reverse("web:deal", args=[bobs.pk])).content.decode()
    assert client.post(reverse("automation:task_done", args=[task.pk]), {"done": "1"}).status_code == 403


def test_my_day_lists_my_open_tasks_overdue_first(client, world, make_deal, today):
    deal = make_deal()
    services.create_task(by=world.alice, deal=deal, title="Due tomorrow", due=today + dt.timedelta(days=1))
    services.create_task(by=world.alice, deal=deal, title="Late by three", due=today - dt.timedelta(days=3))
    services.create_task(by=world.alice, deal=deal, title="Next week", due=today + dt.timedelta(days=7))
    done = services.create_task(by=world.alice, deal=deal, title="Already done", due=today)
    services.complete_task(done, by=world.alice)
    client.force_login(world.alice)
    html = client.get(reverse("web:my_day")).content.decode()
    assert html.index("Late by three") < html.index("Due tomorrow")
    assert "Next week" not in html and "Already done" not in html
    assert "overdue since" in html


def test_the_board_card_shows_open_and_overdue_tasks(client, world, make_deal, today):
    deal = make_deal(title="Acme")
    services.create_task(by=world.alice, deal=deal, title="a", due=today - dt.timedelta(days=1))
    services.create_task(by=world.alice, deal=deal, title="b", due=today + dt.timedelta(days=1))
    client.force_login(world.alice)
    html = client.get(reverse("web:board", args=["test"])).content.decode()
    assert 'title="2 open tasks, 1 overdue"' in html


def test_the_header_counts_unread_notifications_and_opening_one_marks_it_read(client, world, make_deal):
    deal = make_deal(title="Acme")
    note = services.notify(world.alice, kind="alert", title="Acme needs you", deal=deal)
    services.notify(world.alice, kind="alert", title="Second")
    services.notify(world.bob, kind="alert", title="Not alice's")
    client.force_login(world.alice)
    html = client.get(reverse("automation:inbox")).content.decode()
    assert 'title="Unread notifications">2</span>' in html
    assert "Acme needs you" in html and "Not alice" not in html
    response = client.post(reverse("automation:notification_open", args=[note.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("web:deal", args=[deal.pk])
    note.refresh_from_db()
    assert note.read_at is not None
    assert 'title="Unread notifications">1</span>' in client.get(reverse("automation:inbox")).content.decode()
    client.post(reverse("automation:inbox_read_all"))
    assert not Notification.objects.filter(user=world.alice, read_at__isnull=True).exists()


def test_nobody_opens_anothers_notification(client, world):
    note = services.notify(world.bob, kind="alert", title="Bob's")
    client.force_login(world.alice)
    assert client.post(reverse("automation:notification_open", args=[note.pk])).status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_a_user_chooses_which_kinds_arrive_by_email(client, world):
    client.force_login(world.alice)
    assert client.get(reverse("automation:notification_email")).status_code == 200
    client.post(reverse("automation:notification_email"), {"kinds": ["assigned", "alert"]})
    assert services.email_kinds_of(world.alice) == ["assigned", "alert"]
    response = client.post(reverse("automation:notification_email"), {"kinds": ["spam"]})
    assert response.status_code == 422
    assert services.email_kinds_of(world.alice) == ["assigned", "alert"]


@pytest.mark.parametrize("who,status", [("alice", 403), ("bob", 403), ("dave", 200)])
def test_only_admins_see_the_rules_page(client, world, who, status):
    client.force_login(getattr(world, who))
    assert client.get(reverse("automation:rules")).status_code == status


def test_an_admin_switches_a_rule_off(client, world, pipeline):
    rule = services.create_rule(by=world.dave, name="Follow up", trigger="stage_entered", trigger_stage="propose",
                                pipeline=pipeline, actions=[{"type": "create_task", "title": "Follow up"}])
    client.force_login(world.alice)
    assert client.post(reverse("automation:rule_enabled", args=[rule.pk]), {"enabled": "0"}).status_code == 403
    client.force_login(world.dave)
    html = client.get(reverse("automation:rules")).content.decode()
    assert "Deal entered propose: task &#x27;Follow up&#x27; for the owner due in 0 days" in html
    client.post(reverse("automation:rule_enabled", args=[rule.pk]), {"enabled": "0"})
    rule.refresh_from_db()
    assert not rule.enabled


def test_an_admin_tests_a_rule_and_sees_the_deals_it_would_act_on(client, world, pipeline, make_deal):
    from dealgate.deals import services as deal_services

    rule = services.create_rule(by=None, name="Big in propose", trigger="stage_entered", trigger_stage="propose",
                                pipeline=pipeline, conditions={"amount_min": 5000},
                                actions=[{"type": "notify", "title": "Big one"}])
    big, small = make_deal(title="Big deal", amount=9000), make_deal(title="Small deal", amount=10)
    for deal in (big, small):
        deal_services.move_deal(deal, "propose", by=world.bob, override_reason="test")
    client.force_login(world.bob)
    assert client.get(reverse("automation:rule_test", args=[rule.pk])).status_code == 403
    client.force_login(world.dave)
    html = client.get(reverse("automation:rule_test", args=[rule.pk])).content.decode()
    assert "It would act on 1 open deal now" in html and "Big deal" in html and "Small deal" not in html
    assert not Notification.objects.exists()


@pytest.mark.parametrize("next_value, lands_on", [
    ("/my-day/", "/my-day/"),                 # a page of this site: back to it
    ("Infinity", None),                       # a bare word, not a path
    ("https://evil.example/", None),          # another site
    ("/x\nSet-Cookie: a=b", None),            # a header injection
])
def test_ticking_a_task_off_goes_back_only_to_a_page_of_this_site(client, world, make_deal, today, next_value,
                                                                   lands_on):
    deal = make_deal()
    task = services.create_task(by=world.alice, deal=deal, title="Call back", due=today)
    client.force_login(world.alice)
    response = client.post(reverse("automation:task_done", args=[task.pk]), {"done": "1", "next": next_value})
    assert response.status_code == 302
    assert response["Location"] == (lands_on or reverse("web:deal", args=[deal.pk]))
