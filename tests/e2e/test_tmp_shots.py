import pytest
from dealgate.deals import services
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_shots(browser, live_server, world, make_deal):
    d1 = make_deal(owner=world.alice, title="Acme rollout", amount=5000)
    d2 = make_deal(owner=world.bob, title="Globex pilot", amount=12000, currency="USD")
    services.set_next_step(d2, by=world.bob, text="Send proposal", due="2026-11-20")
    services.update_deal(d1, by=world.alice, amount="13600")
    services.update_deal(d1, by=world.alice, amount="10100", expected_close_date="2027-02-03")
    for user in ("alice", "bob"):
        for width in (1440, 390):
            ctx = browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server.url)
            page = ctx.new_page()
            sign_in(page, user, world.password)
            page.goto("/board/test/")
            page.screenshot(path=f"/tmp/board-{user}-{width}.png", full_page=True)
            if user == "alice":
                page.goto(f"/deals/{d1.pk}/")
                page.screenshot(path=f"/tmp/deal-{width}.png", full_page=True)
                page.goto("/board/test/")
                page.locator(f"#deal-{d1.pk}").focus()
                page.keyboard.press("Shift+ArrowRight")
                page.locator("#panel .panel-inner").wait_for()
                page.wait_for_timeout(300)
                page.screenshot(path=f"/tmp/panel-{width}.png")
            ctx.close()
