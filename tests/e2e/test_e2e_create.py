"""Creating in a real browser: a rep makes an account, a contact on it and a deal from the board.

Each form is photographed at 1440 px and at 390 px into the artifacts folder, to be looked at.
"""

from __future__ import annotations

import pytest

from dealgate.deals.models import Account, Contact, Deal
from tests.e2e.conftest import shot, sign_in
from tests.web.test_web_create import startable  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _create_account_contact_and_deal(page, *, width: str) -> Deal:
    page.goto("/accounts/")
    page.get_by_role("link", name="New account").click()
    page.get_by_label("Company name").fill("Globex")
    page.get_by_label("Segment").fill("Mid-market")
    shot(page, f"create-account-{width}", full_page=True)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Account “Globex” created.").wait_for()

    page.get_by_role("link", name="New contact").click()
    assert page.get_by_label("Account").input_value() == "Globex"  # the account page fills it in
    page.get_by_label("Name", exact=True).fill("Marie Curie")
    page.get_by_label("Job title").fill("CFO")
    page.get_by_label("E-mail").fill("marie@globex.example")
    shot(page, f"create-contact-{width}", full_page=True)
    page.get_by_role("button", name="Create contact").click()
    page.get_by_text("Contact “Marie Curie” created at Globex.").wait_for()
    assert "Marie Curie" in page.locator("main").inner_text()
    shot(page, f"create-account-page-{width}", full_page=True)

    page.goto("/")
    shot(page, f"create-board-{width}")
    page.get_by_role("link", name="New deal", exact=True).click()
    page.get_by_label("Deal name").fill("Globex pilot")
    page.get_by_label("Account").fill("Globex")
    page.get_by_label("Amount").fill("-5")  # a slip first: the server names the field, nothing typed is lost
    page.get_by_role("button", name="Create deal").click()
    page.locator("#err-amount").wait_for()
    assert page.get_by_label("Deal name").input_value() == "Globex pilot"
    shot(page, f"create-deal-refused-{width}", full_page=True)
    page.get_by_label("Amount").fill("12000")
    page.get_by_label("Expected close date").fill("2027-03-31")
    page.locator("#id_next_step").fill("Book the demo with Marie")
    page.get_by_label("Next step due").fill("2027-01-15")
    shot(page, f"create-deal-{width}", full_page=True)
    page.get_by_role("button", name="Create deal").click()
    page.get_by_text("Deal “Globex pilot” created in Qualify.").wait_for()
    shot(page, f"create-deal-page-{width}")
    deal = Deal.objects.get()
    assert page.url.endswith(f"/deals/{deal.pk}/")
    return deal


def test_a_rep_creates_an_account_a_contact_and_a_deal_from_the_board(page, world, pipeline):
    sign_in(page, "alice", world.password)
    deal = _create_account_contact_and_deal(page, width="1440")
    account = Account.objects.get()
    assert deal.account == account and deal.owner == world.alice and deal.stage.key == "qualify"
    assert Contact.objects.get().account == account and str(deal.amount) == "12000.00"


def test_a_rep_does_the_same_on_a_phone(page, world, pipeline):
    page.set_viewport_size(PHONE)
    sign_in(page, "alice", world.password)
    _create_account_contact_and_deal(page, width="390")
    # Nothing on the forms is wider than the phone.
    for url in ("/deals/new/", "/accounts/new/", "/contacts/new/"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url


def test_a_search_that_finds_nothing_says_so(page, world, make_deal):
    make_deal(title="Initech renewal")
    sign_in(page, "alice", world.password)
    page.goto("/?q=nothing-like-this")
    page.get_by_text("No open deals match “nothing-like-this”").wait_for()
    assert page.get_by_role("searchbox").input_value() == "nothing-like-this"
    shot(page, "board-search-empty-1440")
    page.get_by_role("link", name="Clear the search").click()
    page.get_by_role("link", name="Initech renewal").wait_for()


def test_a_deal_started_in_a_later_stage_shows_what_is_missing_then_starts_there(page, world, startable):
    sign_in(page, "alice", world.password)
    page.goto("/board/startable/")
    page.get_by_role("link", name="New deal in Proposal").click()
    page.get_by_label("Deal name").fill("Umbrella upgrade")
    page.get_by_label("Account").fill("Umbrella")
    page.get_by_role("button", name="Create deal").click()
    refusal = page.locator(".form-refusal")
    refusal.get_by_text("Umbrella upgrade cannot start in Proposal").wait_for()
    assert "Deal value is entered" in refusal.inner_text() and "An expected close date is set" in refusal.inner_text()
    assert page.get_by_label("Deal name").input_value() == "Umbrella upgrade"
    shot(page, "create-deal-gate-refused-1440", full_page=True)
    page.get_by_label("Amount").fill("8000")
    page.get_by_label("Expected close date").fill("2027-04-30")
    page.get_by_role("button", name="Create deal").click()
    page.get_by_text("Deal “Umbrella upgrade” created in Proposal.").wait_for()
    assert Deal.objects.get().stage.key == "proposal"
