"""The board as a rep and a manager open it: "My deals" by default for reps (remembered), owner avatars,
the badges and their legend, the manager's per-rep summary, one criteria count refreshed after a fix."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from dealgate.deals import services
from dealgate.deals.board import rep_summary
from dealgate.people.services import create_user
from dealgate.web.templatetags.dealgate_web import initials

HX = {"HX-Request": "true"}


def _board(client, **query):
    response = client.get(reverse("web:board", args=["test"]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_rep_opens_on_her_own_deals_and_the_board_remembers_her_choice(client, world, make_deal):
    """alice (rep) and bob (her manager) each own one deal of team East: alice's board opens on hers
    only; once she picks the team's deals the board keeps them until she picks "My deals" again."""
    make_deal(owner=world.alice, title="Alice's own")
    make_deal(owner=world.bob, title="Bob's own")
    client.force_login(world.alice)
    html = _board(client)
    assert "Alice&#x27;s own" in html and "Bob&#x27;s own" not in html
    assert '<option value="mine" selected>My deals</option>' in html
    html = _board(client, scope="team")
    assert "Alice&#x27;s own" in html and "Bob&#x27;s own" in html
    html = _board(client)  # remembered
    assert "Bob&#x27;s own" in html and '<option value="team" selected>' in html
    assert "Bob&#x27;s own" not in _board(client, scope="mine")
    assert "Bob&#x27;s own" not in _board(client)
    assert "Bob&#x27;s own" not in _board(client, mine="on")  # an older link still works


def test_a_manager_opens_on_the_team_board(client, world, make_deal):
    make_deal(owner=world.alice, title="Alice's own")
    client.force_login(world.bob)
    html = _board(client)
    assert "Alice&#x27;s own" in html and '<option value="team" selected>' in html


def test_owner_initials_are_two_letters_that_tell_people_apart(world):
    """Alice and Admin both began with "A" (one letter); now "AL" and "AD"; a full name gives first and last."""
    admin = create_user(username="admin", password="x" * 12, role="admin")
    full = create_user(username="asmith", password="x" * 12, role="rep", first_name="Anna", last_name="van Smith")
    assert (initials(world.alice), initials(admin), initials(full)) == ("AL", "AD", "AS")


def test_the_card_names_its_owner_and_shows_the_count_once_with_a_legend(client, world, make_deal):
    """A fresh deal has no next step and 1 of 3 criteria for Propose met (amount): the next-step line says
    so, the count is one chip, and neither is repeated as a badge."""
    deal = make_deal(title="Acme rollout", amount=5000)
    client.force_login(world.alice)
    html = _board(client)
    card = html[html.index(f'id="deal-{deal.pk}"'):]
    card = card[:card.index("</li>")]
    assert 'aria-label="Owner: Alice"' in card and ">AL</span>" in card
    assert card.count("1 of 3 for Propose") == 1 and card.count("No next step") == 1
    start = html.index("What the card badges mean")
    legend = html[start:html.index("</details>", start)]
    assert "Quiet 12d" in legend and "Slow, usual 9 days" in legend and "Waiting 12d" in legend
    assert "Stale" not in legend and "Stuck" not in legend  # one time flag, decision 034


def test_fixing_a_criterion_in_the_panel_refreshes_the_card_behind_it(client, world, make_deal, pipeline):
    """Ticking "budget" from the board's panel: the panel says 2 of 3 for Propose and the same response
    carries the card (out of band) with 2 of 3 instead of 1 of 3."""
    deal = make_deal(title="Acme rollout", amount=5000)
    propose = pipeline.stages.get(key="propose")
    client.force_login(world.alice)
    response = client.post(reverse("web:deal_action", args=[deal.pk, "checklist"]),
                           {"item": "budget", "evidence": "CFO said yes", "panel_to": propose.pk,
                            "origin": "board", "form_id": "qualify-exit-budget"}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    card = html[html.index(f'<li hx-swap-oob="true" class="card" id="deal-{deal.pk}"'):]
    assert "2 of 3 for Propose" in card[:card.index("</li>")]
    # from the deal page (no board behind the panel) no card is sent
    response = client.post(reverse("web:deal_action", args=[deal.pk, "next_step"]),
                           {"next_step": "Call", "next_step_due": "2031-01-05", "panel_to": propose.pk,
                            "origin": "deal"}, headers=HX)
    assert "hx-swap-oob" not in response.content.decode()


def _wednesday_ten_days_on() -> dt.date:
    day = timezone.localdate() + dt.timedelta(days=10)
    return day + dt.timedelta(days=(2 - day.weekday()) % 7)


def test_the_manager_summary_counts_open_weighted_stale_and_due_this_week_per_rep(world, make_deal, pipeline):
    """On a Wednesday T at least 10 days on (Qualify's idle limit is 7 days, so every deal made today is idle):
    alice: 1,000 EUR, no next step -> stale; 3,000 EUR, next step due T+1 (this week) -> waiting, not stale.
    bob:   2,000 USD, next step due T-5 (last week, overdue) -> stale.
    carol (team West) is not in bob's summary. Weighted at Qualify's 20%: alice EUR 800, bob USD 400."""
    today = _wednesday_ten_days_on()
    make_deal(owner=world.alice, amount="1000", currency="EUR")
    waiting = make_deal(owner=world.alice, amount="3000", currency="EUR")
    services.set_next_step(waiting, by=world.alice, text="Send terms", due=today + dt.timedelta(days=1))
    late = make_deal(owner=world.bob, amount="2000", currency="USD")
    services.set_next_step(late, by=world.bob, text="Chase", due=today - dt.timedelta(days=5))
    make_deal(owner=world.carol, amount="9000", currency="EUR")

    lines = rep_summary(pipeline, world.bob, today=today)
    assert [(line.owner.username, line.open, [(m.currency, m.weighted) for m in line.weighted], line.stale,
             line.due_this_week) for line in lines] == [
        ("alice", 2, [("EUR", Decimal("800"))], 1, 1),
        ("bob", 1, [("USD", Decimal("400"))], 1, 0),
    ]
    assert [line.owner.username for line in rep_summary(pipeline, world.dave, today=today)] == ["alice", "bob", "carol"]


def test_the_summary_shows_for_managers_not_for_reps(client, world, make_deal):
    make_deal(owner=world.alice, amount="1000", currency="EUR")
    client.force_login(world.bob)
    html = _board(client)
    assert "Your team’s open deals, by rep" in html and "EUR 200" in html
    client.force_login(world.alice)
    assert "by rep" not in _board(client)
