"""Quotas in a real browser: an admin follows Insights' "Set a quota in settings" link, is refused a
negative amount next to the field, sets the quota, and sees coverage drawn on Insights."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dealgate.analytics.models import Quota
from dealgate.analytics.periods import period_containing
from tests.e2e.conftest import ARTIFACTS, shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_sets_a_quota_in_settings_and_sees_coverage_on_insights(page, world, make_deal):
    quarter = period_containing(timezone.localdate(), 3)
    make_deal(owner=world.alice, amount=5000, expected_close_date=quarter.last_day)
    sign_in(page, "dave", world.password)

    page.goto("/insights/")
    assert page.locator("#coverage-plot").count() == 0  # no empty chart without a quota
    page.get_by_role("link", name="Set a quota in settings").click()
    page.wait_for_url("**/settings/quotas/**")

    form = page.locator("#quota-form")
    form.locator("select[name=target]").select_option(label="Alice (alice)")
    assert form.locator("input[name=period]").input_value() == quarter.label  # the quarter Insights showed
    form.locator("input[name=amount]").fill("-2000")
    form.get_by_role("button", name="Set quota").click()
    error = page.locator("#quota-form #error-amount")
    error.wait_for()
    assert "cannot be negative" in error.inner_text()
    assert not Quota.objects.exists()

    page.locator("#quota-form input[name=amount]").fill("2000")
    page.locator("#quota-form").get_by_role("button", name="Set quota").click()
    page.get_by_text(f"Saved the quota of alice for {quarter.label}: 2,000.00 EUR.").wait_for()
    shot(page, "settings-quotas-1440", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "settings-quotas-390", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/insights/")
    page.locator("#coverage-plot .main-svg").first.wait_for()  # plotly drew it
    box = page.locator(".card-box", has=page.get_by_role("heading", name="Pipeline and coverage"))
    text = box.inner_text()
    assert "2.50x — below the 3x-4x band" in text
    assert "Attainment (won ÷ quota)" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=str(ARTIFACTS / "insights-coverage-1440.png"))
