"""The account page's "Agreed at the win" box (the Won handoff record) at 1440 px and on a phone at 390 px:
the long item labels and evidence wrap inside the box; the page never scrolls sideways."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Account
from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_e2e_phone import PHONE, _sideways_overflow
from tests.web.test_web_account_handoff import win

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, PHONE], ids=["1440", "390"])
def test_the_account_owner_reads_the_agreed_terms_at_any_width(browser, live_server, world, viewport):
    from dealgate.pipelines.services import create_pipeline_from_template

    account = Account.objects.create(name="Harbour Supplies", owner=world.carol, segment="Distributor")
    win(create_pipeline_from_template("distributor-5"), account, world.alice,
        terms="Net 30, 4% off list on fasteners for 12 months; price held until 2027-06-30",
        handoff="First delivery 14 Dec to the Harbour St depot; pallets only, no deliveries on Fridays.\n"
                "Call Mia Berg (stores) a day ahead.", by=world.bob)
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    tab = context.new_page()
    try:
        sign_in(tab, "carol", world.password)
        tab.goto(f"/accounts/{account.pk}/")
        box = tab.locator("#handoff")
        box.scroll_into_view_if_needed()
        assert box.locator("dd").first.inner_text() == ("Net 30, 4% off list on fasteners for 12 months; price "
                                                         "held until 2027-06-30")
        assert "Call Mia Berg (stores) a day ahead." in box.locator(".handoff-note").inner_text()
        assert _sideways_overflow(tab) <= 0
        assert box.evaluate("el => el.scrollWidth <= el.clientWidth")
        shot(tab, f"account-handoff-{viewport['width']}", full_page=True)
    finally:
        context.close()
