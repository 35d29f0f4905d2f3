"""Issue 14's loose ends in a real browser, at 1440 and 390 px: a rule naming a retired stage, and an
account whose open deals are in two currencies (its page and the deals list); the rules list styled."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dealgate.analytics.rates import set_rate
from dealgate.automation import services as rule_services
from dealgate.pipelines.models import Criterion
from dealgate.web.pipeline_settings import retire_stage
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WIDTHS = ((1440, 900), (390, 844))


def test_a_rule_naming_a_retired_stage_shows_it_marked_and_says_it_cannot_fire(page, world, pipeline):
    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    rule = rule_services.create_rule(
        by=world.dave, name="Follow up on proposals", trigger="stage_entered", trigger_stage="propose",
        pipeline=pipeline, actions=[{"type": "create_task", "title": "Send the proposal", "due_in_days": 3}])
    retire_stage(pipeline.stages.get(key="propose"), by=world.dave)
    sign_in(page, "dave", world.password)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/settings/rules/{rule.pk}/edit/")
        chosen = page.get_by_label("Stage the deal enters")
        assert chosen.locator("option:checked").inner_text() == "Propose (retired)"
        shot(page, f"rule-form-retired-{width}", full_page=True)
        page.goto("/settings/rules/")
        assert "Propose is retired: this rule can no longer fire for it." in page.locator("main").inner_text()
        _styled_like_the_other_tables(page, ".rule-list", width)
        shot(page, f"rules-retired-{width}", full_page=True)
    page.goto("/settings/rules/new/")
    assert "Propose" not in page.get_by_label("Stage the deal enters").inner_text()


def _styled_like_the_other_tables(page, box: str, width: int) -> None:
    """Every table on the page is an app table (table.data in a .table-wrap); at 390 px the rules are a
    card per rule and neither the page nor the list scrolls sideways."""
    assert page.locator("main table").count() == page.locator("main .table-wrap > table.data").count() >= 2
    rule = page.locator(f"{box} tbody tr").first
    header = page.locator(f"{box} thead").first
    if width == 390:
        assert rule.evaluate("el => getComputedStyle(el).display") == "block"  # a card
        assert header.bounding_box()["height"] <= 1  # the column names are for screen readers only
    else:
        assert rule.evaluate("el => getComputedStyle(el).display") == "table-row"
        assert header.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    assert page.evaluate(f"(() => {{ const l = document.querySelector('{box}'); return l.scrollWidth - l.clientWidth }})()") <= 0


def test_an_account_in_two_currencies_shows_one_total_in_the_company_currency(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="Initech rollout", amount=12000, currency="EUR")
    make_deal(owner=world.alice, title="Initech US", amount=8000, currency="USD", account=deal.account)
    set_rate(currency="USD", rate="0.92", effective_from=timezone.localdate(), by=None)
    sign_in(page, "alice", world.password)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/accounts/{deal.account_id}/")
        line = page.locator(".company-total")
        assert line.inner_text().startswith("All open deals: EUR 19,360 at today's exchange rates (USD 0.92 from ")
        box = line.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width  # on screen, not cut off at 390 px
        shot(page, f"account-company-total-{width}", full_page=True)
        page.goto("/deals/")  # the deals list adds up the same open deals
        assert " ".join(page.locator(".list-totals").inner_text().split()).startswith(
            "2 open deals: EUR 12,000 (1) · USD 8,000 (1) In the company currency: EUR 19,360 at today's exchange rates")
        box = page.locator(".list-totals .company-total").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        shot(page, f"deals-company-total-{width}", full_page=True)
