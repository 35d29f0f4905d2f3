"""A believable team board on the b2b-7 template, walked through in the browser; its screenshots
are the pictures in docs/img/ (board, deal page, refusal panel)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from dealgate.deals import services
from dealgate.deals.models import Deal
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.services import create_pipeline_from_template, ensure_lost_reasons
from dealgate.web.gate import move_items
from tests.e2e.conftest import publish, shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# title, account, owner, amount, currency, stage reached, next step, due in days, idle days
DEALS = [
    ("Warehouse scanners", "Northwind Traders", "alice", 18_000, "EUR", "prospecting", "Intro call with ops lead", 2, 3),
    ("Fleet telematics", "Fabrikam Logistics", "bob", 42_000, "EUR", "prospecting", "", None, 20),
    ("Store analytics", "Globex Retail", "alice", 9_500, "EUR", "lead-qualification", "Send BANT recap", -3, 5),
    ("HR suite renewal", "Initech Software", "alice", 27_000, "USD", "lead-qualification", "Budget call with CFO", 4, 1),
    ("Clinic scheduling", "Umbrella Health", "bob", 64_000, "EUR", "needs-analysis", "Discovery workshop", 6, 2),
    ("Line sensors", "Stark Components", "alice", 120_000, "EUR", "needs-analysis", "Pain interview with plant manager", 1, 14),
    ("Cold-chain tracking", "Wayne Foods", "alice", 35_500, "EUR", "solution-presentation", "Demo for QA team", 3, 4),
    ("Lab data platform", "Tyrell Biotech", "bob", 88_000, "USD", "solution-presentation", "Security review", -6, 25),
    ("Grid forecasting", "Soylent Energy", "alice", 150_000, "EUR", "proposal", "Walk CFO through proposal", 5, 2),
    ("Cloud migration", "Hooli Cloud", "bob", 73_000, "EUR", "negotiation-closing", "Legal redlines", -1, 6),
    ("Import compliance", "Vandelay Imports", "alice", 21_000, "EUR", "negotiation-closing", "Send final quote", 2, 1),
    ("Retail POS rollout", "Contoso Stores", "alice", 56_000, "EUR", "negotiation-closing", "Countersigned order form", 7, 3),
]
PEOPLE = ["Maria Lopez", "Tom Becker", "Aisha Khan", "Jonas Weber"]


def _satisfy(deal: Deal, to_stage, user, manager, today: dt.date) -> None:
    """Do what the criteria ask, then move normally."""
    meet_criteria(deal, to_stage, user, manager, today=today)
    services.move_deal(deal, to_stage, by=user)


@contextmanager
def _clock_at(moment: dt.datetime):
    """Services write at `moment` (history, activities), so the seeded stays last days, as a team's do."""
    with mock.patch.object(timezone, "now", lambda: moment):
        yield


def meet_criteria(deal: Deal, to_stage, user, manager, *, today: dt.date | None = None) -> None:
    """Do what the criteria for `to_stage` ask (tick, log, link, fill), through the services."""
    today = today or timezone.localdate()
    for item in move_items(deal, to_stage, user):
        if item.met:
            continue
        cfg = item.spec.config
        if item.fix == "checklist":
            services.record_checklist_answer(deal, cfg.item, by=user, evidence=f"Confirmed with the buyer ({cfg.item})")
        elif item.fix == "activity":
            services.log_activity(by=user, kind=cfg.activity, subject=f"{cfg.activity.capitalize()} with buyer",
                                  deal=deal, outcome=cfg.outcome or "")
        elif item.fix == "contact":
            for n in range(cfg.min_count):
                person = services.create_contact(by=user, name=PEOPLE[(deal.pk + n) % len(PEOPLE)], account=deal.account,
                                                 title="Head of Operations")
                services.link_contact(deal, person, cfg.role or "influencer", by=user)
        elif item.fix == "field" and cfg.field == "expected_close_date":
            services.update_deal(deal, by=user, expected_close_date=today + dt.timedelta(days=45))
        elif item.fix == "next_step":
            services.set_next_step(deal, by=user, text="Follow up", due=today + dt.timedelta(days=3))
        elif item.fix == "approve":
            services.approve_condition(deal, cfg.condition, by=manager, note="Within discount policy")


def seed_team_board(world):
    pipeline = create_pipeline_from_template("b2b-7")
    ensure_lost_reasons()
    rules = PipelineRules.load(pipeline.pk)
    stages = {s.key: s for s in rules.stages.values()}
    order = [s for s in rules.stages.values() if s.kind == "open"]
    users = {"alice": world.alice, "bob": world.bob}
    today = timezone.localdate()
    deals = {}
    now = timezone.now()
    for n, (title, account_name, owner, amount, currency, target, step, due, idle) in enumerate(DEALS):
        user = users[owner]
        path = [stage for stage in order[1:] if stage.position <= stages[target].position]
        # The seeded world is weeks old: each stay took 4 to 10 days, the last move `idle` days ago, so the
        # "slow" and "quiet" flags read against a believable history.
        gap = dt.timedelta(days=4 + (n * 5) % 7, hours=3 * n)
        moment = now - dt.timedelta(days=idle) - gap * len(path)
        with _clock_at(moment):
            account = services.create_account(by=user, name=account_name, segment="Mid-market")
            deal = services.create_deal(by=user, title=title, account=account, pipeline=pipeline, amount=amount,
                                        currency=currency)
        for stage in path:
            moment += gap
            with _clock_at(moment):
                _satisfy(deal, stage, user, world.bob, today)
        if step:
            services.set_next_step(deal, by=user, text=step, due=today + dt.timedelta(days=due))
        Deal.objects.filter(pk=deal.pk).update(  # a deal still in its first stage: created `idle` days ago
            stage_entered_at=now - dt.timedelta(days=idle), last_activity_at=now - dt.timedelta(days=idle),
        )
        deals[title] = Deal.objects.select_related("stage").get(pk=deal.pk)
    return pipeline, deals


def test_showcase_board_refusal_panel_and_deal_page(page, world):
    pipeline, deals = seed_team_board(world)
    # A deal half-way through Needs Analysis: the deal page shows progress and the timeline.
    sensors = deals["Line sensors"]
    services.log_activity(by=world.alice, kind="meeting", subject="Discovery with plant manager", deal=sensors,
                          outcome="held", notes="Scrap rate 4.2%; target under 2% by Q3")
    services.record_checklist_answer(sensors, "metrics", by=world.alice, evidence="Scrap rate 4.2% -> 2%")
    services.update_deal(sensors, by=world.alice, amount=Decimal("135000"))

    sign_in(page, "bob", world.password)
    page.goto(f"/board/{pipeline.key}/")
    page.locator(".card").first.wait_for()
    assert page.locator(".card").count() == len(DEALS)
    publish(shot(page, "board"), "board.png")

    sensors_card = page.locator(f"#deal-{sensors.pk}")
    sensors_card.drag_to(page.locator("section.column[aria-label='Solution Presentation']"))
    page.locator("#panel").get_by_text("Can't move to Solution Presentation yet").wait_for()
    assert page.locator("#panel details.override summary").is_visible()  # bob manages the team
    publish(shot(page, "refusal-panel"), "refusal-panel.png")

    page.goto(f"/deals/{sensors.pk}/")
    page.get_by_role("navigation", name="Stage path").wait_for()
    assert "Could we explain the buyer's problem" in page.content()
    publish(shot(page, "deal"), "deal.png")


def test_showcase_on_a_phone_one_time_flag_legend_move_menu_and_deal_page(browser, live_server, world):
    """At 390 px on a touch screen: each card carries at most one time flag (Quiet, Slow or Waiting; never the
    old "Stale" and "Stuck" side by side), the legend says what they mean, and the README's phone pictures:
    board, the "Move to…" menu, the deal page (and the move menu at 1440 px beside them)."""
    pipeline, deals = seed_team_board(world)
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  base_url=live_server.url)
    context.set_default_timeout(20_000)
    phone = context.new_page()
    try:
        sign_in(phone, "bob", world.password)
        phone.goto(f"/board/{pipeline.key}/")
        phone.locator(".card").first.wait_for()
        badges = {title: phone.locator(f"#deal-{deal.pk} .card-foot .badge").all_inner_texts()
                  for title, deal in deals.items()}
        time_flags = {title: [b for b in found if b.startswith(("Quiet", "Slow", "Waiting", "Stale", "Stuck"))]
                      for title, found in badges.items()}
        assert all(len(found) <= 1 for found in time_flags.values()), time_flags
        assert not any(b.startswith(("Stale", "Stuck")) for found in time_flags.values() for b in found)
        # No next step, 20 days without a touch, longer in Prospecting than the past stays: one alarm.
        assert time_flags["Fleet telematics"] == ["Quiet 20d"]
        # A next step is planned, but 14 days in Needs Analysis where stays ended within about 10.
        assert time_flags["Line sensors"][0].startswith("Slow, usual ")
        legend = phone.locator("details.legend")
        legend.locator("summary").tap()
        for text in ("Quiet 12d", "Slow, usual 9 days", "Waiting 12d"):
            item = legend.get_by_text(text, exact=True)
            assert item.is_visible(), text
            box = item.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{text} is off screen"
        assert "Stuck" not in legend.inner_text() and "Stale" not in legend.inner_text()
        legend.locator("summary").tap()
        publish(shot(phone, "board-390"), "board-390.png")

        cold_chain = deals["Cold-chain tracking"]
        phone.locator(f"#deal-{cold_chain.pk}").scroll_into_view_if_needed()
        phone.locator(f"#deal-{cold_chain.pk}").get_by_role("button", name="Move Cold-chain tracking to…").tap()
        phone.locator("#panel").get_by_role("button", name="Proposal").wait_for()
        publish(shot(phone, "move-menu-390"), "move-menu-390.png")

        phone.goto(f"/deals/{deals['Line sensors'].pk}/")
        phone.get_by_role("navigation", name="Stage path").wait_for()
        flags = phone.locator(".flags-box").inner_text()
        assert "Slow, usual" in flags and "In Needs Analysis 14 days" in flags
        publish(shot(phone, "deal-390"), "deal-390.png")

        phone.set_viewport_size({"width": 1440, "height": 900})
        phone.goto(f"/board/{pipeline.key}/")
        phone.locator(f"#deal-{cold_chain.pk}").get_by_role("button", name="Move Cold-chain tracking to…").click()
        phone.locator("#panel").get_by_role("button", name="Proposal").wait_for()
        publish(shot(phone, "move-menu"), "move-menu.png")
    finally:
        context.close()
