"""The deal page in a real browser: a refused click on the path, a manager's override, logging a call."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal, StageHistory
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_manager_overrides_from_the_path_and_the_timeline_records_it(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="Hooli migration", amount=3000)
    sign_in(page, "bob", world.password)
    page.goto(f"/deals/{deal.pk}/")
    page.get_by_role("navigation", name="Stage path").get_by_role("button", name="Propose").click()
    panel = page.locator("#panel")
    panel.get_by_text("Can't move to Propose yet").wait_for()
    panel.locator("details.override summary").click()
    panel.locator("textarea[name=override_reason]").fill("Budget confirmed by the CFO on a call")
    panel.get_by_role("button", name="Override and move to Propose").click()
    page.locator(".path .step.current").get_by_text("Propose").wait_for()
    assert "Override: Budget confirmed by the CFO on a call" in page.locator(".timeline").inner_text()
    shot(page, "deal-after-override")
    assert StageHistory.objects.filter(deal=deal, override=True).count() == 1


def test_a_rep_logs_a_call_in_two_clicks(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="Soylent pilot", amount=3000)
    sign_in(page, "alice", world.password)
    page.goto(f"/deals/{deal.pk}/")
    page.locator(".quick-log").get_by_role("button", name="Call").click()
    page.get_by_text("Logged call.").wait_for()
    assert "Call: Call" in page.locator(".timeline").inner_text()
    assert Deal.objects.get(pk=deal.pk).activities.filter(kind="call").count() == 1
