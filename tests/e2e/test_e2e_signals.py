"""The signal inbox in a real browser: a rep converts a signal and lands on the new deal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dealgate.deals.models import Account, Deal
from dealgate.signals.models import Signal
from tests.conftest import build_test_pipeline
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_rep_converts_a_signal_from_the_inbox(page, world):
    build_test_pipeline()
    account = Account.objects.create(name="Harbour Supplies", owner=world.alice)
    for key, revenue, title in (("a", 1200, "Reorder 20 days late (usually every 30 days)"),
                                ("b", 5400, "Stopped buying Adhesives (4 cycles missed)")):
        Signal.objects.create(kind="missed_reorder" if key == "a" else "dropped_line", account=account,
                              cause_key=key, title=title, evidence={"days_late": 20}, revenue=revenue,
                              as_of=dt.date.today(), raised_at=timezone.now())
    sign_in(page, "alice", world.password)
    page.get_by_role("link", name="Signals").click()
    rows = page.locator("table.data tbody tr")
    assert "Stopped buying Adhesives" in rows.first.inner_text()  # highest revenue first
    shot(page, "signals-inbox")
    rows.first.get_by_role("button", name="Convert to deal").click()
    page.wait_for_url("**/deals/*/")
    deal = Deal.objects.get()
    assert deal.source == "signal" and "From signal: Stopped buying Adhesives" in page.content()


@pytest.mark.parametrize("width", [1440, 390])
def test_a_won_account_page_says_whether_it_reorders_on_schedule(page, world, width):
    from tests.signals.history import every, orders
    from tests.signals.test_retention_since_win import win

    pipeline = build_test_pipeline()
    today = dt.date.today()
    account = Account.objects.create(name="Quay Traders", owner=world.alice)
    orders(account, every((today - dt.timedelta(days=30 * 5 + 40)).isoformat(), 30, 6))  # the last order 40 days ago
    win(account, world, pipeline, today - dt.timedelta(days=20))
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "alice", world.password)
    page.goto(f"/accounts/{account.pk}/")
    retention = page.locator(".retention")
    assert "on time (reordering on schedule)" in retention.inner_text()
    shot(page, f"account-retention-{width}", full_page=True)
    box, section = retention.bounding_box(), page.locator("section", has=retention).bounding_box()
    assert box["x"] + box["width"] <= section["x"] + section["width"]  # inside its card (the card's width is the page's)


def seed_every_kind(owner) -> Account:
    """One open signal of each kind on one account of `owner`, with the evidence each detector writes."""
    from tests.signals.test_signal_wording import WRITTEN

    account = Account.objects.create(name="Windmill Optics SA", owner=owner)
    for number, (kind, (evidence, _)) in enumerate(sorted(WRITTEN.items())):
        Signal.objects.create(kind=kind, account=account, cause_key=f"{kind}:{number}", title=kind.replace("_", " "),
                              evidence=evidence, revenue=1000 * (number + 1), as_of=dt.date.today(),
                              raised_at=timezone.now())
    return account

