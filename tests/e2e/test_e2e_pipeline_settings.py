"""Pipeline settings in a real browser: an admin edits a criterion through its kind's form (a refused value
shows next to its input), adds a stage after Qualify and moves it one place later; screenshots at 1440 and
390 px of the pipeline page and of a stage page."""

from __future__ import annotations

import pytest

from dealgate.pipelines.models import Criterion, Stage
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


WIDER_THAN_PHONE = """() => [...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right > 391
  && !(el.parentElement && el.parentElement.closest('.table-wrap'))).slice(0, 5).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""


def _no_sideways_scroll(page):
    page.reload()  # as a phone opens it
    width = page.evaluate("document.documentElement.scrollWidth")
    wider = [] if width <= 390 else page.evaluate(WIDER_THAN_PHONE)
    assert width <= 390, f"{width} px wide: {wider}"


def _order(pipeline):
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("key", flat=True))


def test_an_admin_edits_a_criterion_with_its_form_then_adds_and_reorders_a_stage(page, world, pipeline):
    """Qualify's "amount > 0" becomes "amount at least 5000" (stored as the number 5000); the new stage
    "Technical review" lands second (after Qualify) and one click on its "later" arrow swaps it with Propose."""
    sign_in(page, "dave", world.password)
    page.goto("/settings/")
    page.get_by_role("link", name="Test pipeline").click()
    page.get_by_role("link", name="Qualify").click()
    page.wait_for_url("**?stage=*")

    criterion = page.locator("details.criterion-edit", has_text="Amount estimated")
    criterion.locator("summary").click()
    criterion.locator("select[name=op]").select_option(label="is at least")
    criterion.locator("input[name=value]").fill("")
    criterion.get_by_role("button", name="Save").click()
    refused = page.locator("details.criterion-edit[open]", has_text="Amount estimated")
    refused.locator(".field-error").wait_for()
    assert "needs a value" in refused.locator(".field-error").inner_text()
    assert refused.locator("select[name=op]").input_value() == "gte"  # what was chosen is kept
    refused.locator("input[name=value]").fill("5000")
    refused.get_by_role("button", name="Save").click()
    page.get_by_text("Saved “Amount estimated”.").wait_for()
    assert Criterion.objects.get(stage__pipeline=pipeline, key="amount").config == {
        "field": "amount", "op": "gte", "value": 5000}
    shot(page, "settings-stage-1440", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "settings-stage-390", full_page=True)
    _no_sideways_scroll(page)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.get_by_role("link", name="Test pipeline").click()
    add = page.locator("#stage-add")
    add.locator("input[name=name]").fill("Technical review")
    add.locator("input[name=probability]").fill("30")
    add.locator("select[name=after]").select_option(label="Qualify")
    add.get_by_role("button", name="Add stage").click()
    page.get_by_text("Added the stage Technical review.").wait_for()
    assert _order(pipeline) == ["qualify", "technical-review", "propose", "negotiate", "won", "lost"]

    page.get_by_role("link", name="Test pipeline").click()
    page.get_by_role("button", name="Move Technical review later").click()
    page.get_by_text("Moved Technical review later.").wait_for()
    assert _order(pipeline) == ["qualify", "propose", "technical-review", "negotiate", "won", "lost"]
    shot(page, "settings-pipeline-1440", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "settings-pipeline-390", full_page=True)
    _no_sideways_scroll(page)


def test_an_admin_retires_a_stage_with_deals_at_1440_px_and_the_board_drops_its_column(page, world, pipeline,
                                                                                     make_deal):
    """Two deals sit in Qualify, whose exit criteria they miss: the first try is refused naming them, the
    second gives a reason and the deals move to Propose as overrides; the board has no Qualify column."""
    from dealgate.deals.models import StageHistory

    make_deal(title="Acme rollout"), make_deal(title="Globex pilot")
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, "dave", world.password)
    page.goto(f"/settings/pipelines/{pipeline.key}/")
    row = page.locator("tr", has_text="Qualify")
    row.locator("summary", has_text="Retire…").click()
    form = row.locator("form.retire-form")
    assert "Move its 2 open deals to" in form.inner_text()
    form.locator("select[name=move_deals_to]").select_option(label="Propose")
    form.get_by_role("button", name="Retire Qualify").click()
    refusal = page.locator("#stages .field-error")
    refusal.wait_for()
    assert "The stage Qualify was not retired and no deal moved" in refusal.inner_text()
    assert "Acme rollout" in refusal.inner_text() and "Globex pilot" in refusal.inner_text()
    shot(page, "settings-retire-refused-1440", full_page=True)
    form = page.locator("tr", has_text="Qualify").locator("form.retire-form")
    assert form.is_visible()  # the refused form stays open with the choice kept
    assert form.locator("select[name=move_deals_to] option:checked").inner_text() == "Propose"
    form.locator("input[name=override_reason]").fill("Qualify is folded into Propose")
    form.get_by_role("button", name="Retire Qualify").click()
    page.get_by_text("Retired the stage Qualify").wait_for()
    assert page.locator("tr", has_text="Qualify").locator(".badge", has_text="Retired").is_visible()
    assert page.get_by_role("button", name="Restore Qualify").is_visible()
    shot(page, "settings-retired-1440", full_page=True)
    assert StageHistory.objects.filter(to_stage__key="propose", override=True).count() == 2
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("tr", has_text="Propose").locator("summary", has_text="Retire…").click()
    shot(page, "settings-retire-390", full_page=True)
    _no_sideways_scroll(page)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto(f"/board/{pipeline.key}/")
    headings = page.locator("section.column").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert headings == ["Propose", "Negotiate"]
    assert page.locator(".card", has_text="Acme rollout").count() == 1
    shot(page, "board-after-retire-1440")
