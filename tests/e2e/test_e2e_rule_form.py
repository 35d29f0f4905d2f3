"""An admin builds a rule with the settings form in a real browser; a rep's move sets it off in the worker."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dealgate.automation.models import Rule
from dealgate.deals import services
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_a_rule_in_settings_and_a_reps_move_gets_its_task_and_notification(page, world, make_deal,
                                                                                             pipeline):
    deal = make_deal(owner=world.alice, title="Initech rollout", amount=3000)
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO email")
    contact = services.create_contact(by=world.alice, name="Pat", account=deal.account)
    services.link_contact(deal, contact, "decision_maker", by=world.alice)

    sign_in(page, "dave", world.password)
    page.goto("/settings/rules/")
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Rule name").fill("Follow up on proposals")
    page.get_by_label("In pipeline").select_option(label="Test pipeline")
    page.get_by_label("When this happens").select_option(label="Deal entered a stage")
    assert page.get_by_label("Days without a move or activity").is_hidden()  # only for "deal idle"
    page.get_by_label("Stage the deal enters").select_option(label="Propose")
    assert page.get_by_label("Action 1: task", exact=True).is_hidden()  # until the action's type is chosen
    page.get_by_label("Action 1: what to do").select_option(label="Create a task")
    page.get_by_label("Action 1: task", exact=True).fill("Send the proposal")
    page.get_by_label("Action 1: due in days").fill("3")
    assert page.get_by_label("Action 1: notification title").is_hidden()
    page.get_by_label("Action 2: what to do").select_option(label="Send a notification")
    page.get_by_label("Action 2: notify").select_option(label="The owner")
    page.get_by_label("Action 2: notification title").fill("{deal} is in Propose: send the proposal")
    shot(page, "rule-form-1440", full_page=True)
    page.get_by_role("button", name="Create rule").click()
    page.get_by_text("Rule 'Follow up on proposals' created.").wait_for()
    assert "task 'Send the proposal' for the owner due in 3 days" in page.locator("main").inner_text()
    rule = Rule.objects.get()
    assert (rule.trigger, rule.trigger_stage, [a["type"] for a in rule.actions]) == (
        "stage_entered", "propose", ["create_task", "notify"])

    page.context.clear_cookies()
    sign_in(page, "alice", world.password)
    page.goto(f"/deals/{deal.pk}/")
    page.get_by_role("navigation", name="Stage path").get_by_role("button", name="Propose").click()
    page.locator(".path .step.current").get_by_text("Propose").wait_for()

    call_command("worker", batch=True, interval=0)
    page.reload()
    assert "Send the proposal" in page.locator(".tasks-box").inner_text()
    page.goto("/inbox/")
    page.get_by_role("button", name="Initech rollout is in Propose: send the proposal").wait_for()


def test_the_form_keeps_what_was_typed_and_names_the_problem_on_a_phone(page, world, pipeline):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "dave", world.password)
    page.goto("/settings/rules/new/")
    page.get_by_label("Rule name").fill("Push stalled deals")
    page.get_by_label("In pipeline").select_option(label="Test pipeline")
    page.get_by_label("When this happens").select_option(label="Deal idle (no move or activity)")
    page.get_by_label("Days without a move or activity").fill("0")
    page.get_by_label("Action 1: what to do").select_option(label="Move the deal to a stage")
    page.get_by_role("button", name="Add another action").click()
    page.get_by_label("Action 3: what to do").wait_for()
    assert page.get_by_label("Rule name").input_value() == "Push stalled deals"
    page.get_by_role("button", name="Create rule").click()
    page.get_by_text("must be a whole number from 1 to 3650").wait_for()
    page.get_by_text("choose the stage").wait_for()
    assert page.get_by_label("Days without a move or activity").input_value() == "0"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    shot(page, "rule-form-390-refused", full_page=True)
    assert not Rule.objects.exists()


@pytest.mark.parametrize("width", [1440, 390])
def test_a_signal_rule_form_shows_only_what_a_signal_rule_reads(page, world, pipeline, width):
    """Choosing "Signal raised" hides the pipeline and the deal conditions, shows the signal ones; the
    rule saved gives the account owner a task once the scan raises a signal and the worker runs."""
    from dealgate.automation.models import Task
    from dealgate.deals.models import Account
    from dealgate.signals.services import scan_signals
    from tests.signals.history import d, every, orders

    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "dave", world.password)
    page.goto("/settings/rules/new/")
    assert page.get_by_label("Kind of signal").is_hidden()
    page.get_by_label("Rule name").fill("Call about missed reorders")
    page.get_by_label("When this happens").select_option(label="Signal raised on an account")
    assert page.get_by_label("In pipeline").is_hidden() and page.get_by_label("Amount at least").is_hidden()
    assert page.get_by_role("heading", name="Only for signals that match").is_visible()
    assert page.get_by_role("heading", name="Only for deals that match").is_hidden()
    page.get_by_label("Kind of signal").select_option(label="Missed reorder")
    page.get_by_label("Revenue at risk or on offer, at least").fill("500")
    page.get_by_label("Action 1: what to do").select_option(label="Create a task")
    page.get_by_label("Action 1: task", exact=True).fill("Call {account} about the {kind}")
    page.get_by_label("Action 2: what to do").select_option(label="Convert the signal to a deal (signal rules)")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"signal-rule-form-{width}", full_page=True)
    page.get_by_role("button", name="Create rule").click()
    page.get_by_text("Rule 'Call about missed reorders' created.").wait_for()
    assert ("Signal raised on an account if kind in missed reorder and revenue ≥ 500.00: task 'Call {account} about "
            "the {kind}' for the account owner due in 0 days; convert the signal to a deal"
            in page.locator("main").inner_text())

    acme = Account.objects.create(name="Acme Supply", owner=world.alice)
    orders(acme, every("2026-01-01", 30, 6))
    scan_signals(d("2026-07-20"))
    call_command("worker", batch=True, interval=0)
    assert Task.objects.get().title == "Call Acme Supply about the Missed reorder"
    page.goto("/settings/rules/")
    page.get_by_role("link", name="Acme Supply").wait_for()
    shot(page, f"signal-rule-runs-{width}", full_page=True)
