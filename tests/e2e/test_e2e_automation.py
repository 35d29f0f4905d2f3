"""Automation in a real browser: a rep's move triggers a rule; the worker adds the task and the notification."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dealgate.automation import services as automation
from dealgate.automation.models import Task
from dealgate.deals import services
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_reps_move_gets_its_follow_up_task_and_notification_from_the_worker(page, world, make_deal, pipeline):
    automation.create_rule(by=world.dave, name="Follow up proposals", trigger="stage_entered",
                           trigger_stage="propose", pipeline=pipeline, actions=[
                               {"type": "create_task", "title": "Follow up on {deal}", "due_in_days": 3},
                               {"type": "notify", "to": "owner", "title": "{deal} entered Propose: follow up"}])
    deal = make_deal(owner=world.alice, title="Initech rollout", amount=3000)
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO email")
    contact = services.create_contact(by=world.alice, name="Pat", account=deal.account)
    services.link_contact(deal, contact, "decision_maker", by=world.alice)

    sign_in(page, "alice", world.password)
    page.goto(f"/deals/{deal.pk}/")
    page.get_by_role("navigation", name="Stage path").get_by_role("button", name="Propose").click()
    page.locator(".path .step.current").get_by_text("Propose").wait_for()
    assert "No tasks." in page.locator(".tasks-box").inner_text()  # rules never run inside the request

    call_command("worker", batch=True, interval=0)
    page.reload()
    tasks = page.locator(".tasks-box")
    assert "Follow up on Initech rollout" in tasks.inner_text()
    # the rule's notification, and the "new task" one every task given by someone else (or a rule) brings
    assert page.locator("header.topbar").get_by_title("Unread notifications").inner_text() == "2"
    shot(page, "deal-with-rule-task")
    tasks.get_by_role("button", name="Done: Follow up on Initech rollout").click()
    page.locator(".tasks-box .task.done").wait_for()
    assert Task.objects.get().done

    page.goto("/inbox/")
    page.get_by_role("button", name="Initech rollout entered Propose: follow up").click()
    page.wait_for_url(f"**/deals/{deal.pk}/")
    assert page.locator("header.topbar").get_by_title("Unread notifications").inner_text() == "1"


def test_an_admin_sees_the_rule_and_its_runs_and_switches_it_off(page, world, pipeline):
    automation.create_rule(by=world.dave, name="Follow up proposals", trigger="stage_entered",
                           trigger_stage="propose", pipeline=pipeline,
                           actions=[{"type": "create_task", "title": "Follow up", "due_in_days": 3}])
    sign_in(page, "dave", world.password)
    page.goto("/settings/")
    page.get_by_role("link", name="Rules").click()
    page.get_by_role("button", name="Disable Follow up proposals").click()
    page.get_by_text("Rule 'Follow up proposals' disabled.").wait_for()
    assert page.get_by_role("button", name="Enable Follow up proposals").count() == 1
