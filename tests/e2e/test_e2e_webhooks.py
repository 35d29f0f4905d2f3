"""Webhook deliveries in a real browser: an admin sees the given-up one first, at laptop and phone width."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dealgate.automation import services as automation
from tests.automation.conftest import SECRET, receiver, webhook  # noqa: F401 (receiver is a fixture)
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_sees_failing_webhook_deliveries_first(page, world, make_deal, pipeline, receiver, settings):
    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = [0]
    receiver.answers = [200, 500]
    automation.create_rule(by=world.dave, name="Tell the ERP about new deals", trigger="deal_created",
                           pipeline=pipeline, actions=[webhook(receiver.url)])
    make_deal(owner=world.alice, title="Initech rollout")
    call_command("worker", batch=True, interval=0)
    make_deal(owner=world.alice, title="Globex renewal")
    call_command("worker", batch=True, interval=0)

    sign_in(page, "dave", world.password)
    page.goto("/settings/rules/")
    section = page.locator("#webhooks + p + .table-wrap table")
    rows = section.locator("tbody tr")
    assert rows.count() == 2
    first = rows.nth(0).inner_text()
    assert "Globex renewal" in first and "given up" in first and "HTTP 500" in first and "2" in first
    assert "Initech rollout" in rows.nth(1).inner_text() and "delivered" in rows.nth(1).inner_text()
    assert SECRET not in page.content()
    page.locator("#webhooks").scroll_into_view_if_needed()
    shot(page, "rules-webhook-deliveries-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#webhooks").scroll_into_view_if_needed()
    shot(page, "rules-webhook-deliveries-390", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    shot(page, "rules-webhook-deliveries-390")
    page.locator("header.topbar summary").click()  # on a phone the top bar is a menu
    page.locator("header.topbar").get_by_role("link", name="Inbox").first.click()
    assert "Webhook given up" in page.locator("main").inner_text()
