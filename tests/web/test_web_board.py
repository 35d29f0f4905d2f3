"""The board read and page: columns per open stage with count and money per currency, filters, pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from dealgate.deals import services
from dealgate.deals.board import BoardFilters, build_board, build_column


def _column(board, key):
    return next(c for c in board.columns if c.stage.key == key)


def test_it_shows_one_column_per_open_stage_with_count_total_and_weighted_total(world, make_deal, pipeline):
    make_deal(amount=50_000)
    make_deal(amount=25_000)
    deal = make_deal(amount=75_000)
    services.update_deal(deal, by=world.alice, probability_override=80)
    board = build_board(pipeline, world.alice, BoardFilters())
    assert [c.stage.key for c in board.columns] == ["qualify", "propose", "negotiate"]
    qualify = _column(board, "qualify")
    assert qualify.count == 3
    [eur] = qualify.money
    assert eur.currency == "EUR" and eur.total == Decimal("150000")
    # 50,000 x 20% + 25,000 x 20% + 75,000 x 80% (override) = 75,000
    assert eur.weighted == Decimal("75000")
    assert board.won.key == "won" and board.lost.key == "lost"


def test_it_never_adds_different_currencies_together(world, make_deal, pipeline):
    make_deal(amount=1000, currency="EUR")
    make_deal(amount=2000, currency="USD")
    make_deal(amount=500, currency="USD")
    money = {m.currency: m.total for m in _column(build_board(pipeline, world.alice, BoardFilters()), "qualify").money}
    assert money == {"EUR": Decimal("1000"), "USD": Decimal("2500")}


def test_it_shows_the_team_board_but_not_other_teams(world, make_deal, pipeline):
    make_deal(owner=world.alice, title="East one")
    make_deal(owner=world.bob, title="East two")
    make_deal(owner=world.carol, title="West one")
    titles = {card.deal.title for card in _column(build_board(pipeline, world.alice, BoardFilters()), "qualify").cards}
    assert titles == {"East one", "East two"}
    west = {card.deal.title for card in _column(build_board(pipeline, world.carol, BoardFilters()), "qualify").cards}
    assert west == {"West one"}


def test_it_filters_by_owner_mine_search_close_dates_and_flags(world, make_deal, pipeline):
    today = timezone.localdate()
    a = make_deal(owner=world.alice, title="Scanner rollout", expected_close_date=today + dt.timedelta(days=10),
                  next_step="Call", next_step_due=today + dt.timedelta(days=2))
    b = make_deal(owner=world.bob, title="Fleet deal", expected_close_date=today + dt.timedelta(days=60),
                  next_step="Call", next_step_due=today + dt.timedelta(days=2))
    overdue = make_deal(owner=world.bob, title="Late one", next_step="Call", next_step_due=today - dt.timedelta(days=1))

    def ids(**kw):
        return {c.deal.pk for c in _column(build_board(pipeline, world.bob, BoardFilters(**kw)), "qualify").cards}

    assert ids() == {a.pk, b.pk, overdue.pk}
    assert ids(mine=True) == {b.pk, overdue.pk}
    assert ids(owner=world.alice.pk) == {a.pk}
    assert ids(q="scanner") == {a.pk}
    assert ids(q=a.account.name) == {a.pk}
    assert ids(close_from=today, close_to=today + dt.timedelta(days=30)) == {a.pk}
    assert ids(flagged=True) == {overdue.pk}


def test_it_caps_cards_per_column_and_loads_the_rest_page_by_page(world, make_deal, pipeline):
    for n in range(7):
        make_deal(title=f"Deal {n}")
    board = build_board(pipeline, world.alice, BoardFilters(), per_column=3)
    qualify = _column(board, "qualify")
    assert qualify.count == 7 and len(qualify.cards) == 3 and qualify.next_offset == 3
    second = build_column(pipeline, qualify.stage, world.alice, BoardFilters(), offset=3, limit=3)
    third = build_column(pipeline, qualify.stage, world.alice, BoardFilters(), offset=6, limit=3)
    assert third.next_offset is None and len(third.cards) == 1
    seen = [c.deal.pk for c in qualify.cards + second.cards + third.cards]
    assert len(set(seen)) == 7


def test_the_board_page_shows_cards_with_flags_and_criteria_progress(client, world, make_deal):
    deal = make_deal(title="Acme rollout", amount=5000)
    client.force_login(world.alice)
    response = client.get(reverse("web:board", args=["test"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme rollout" in html and "EUR 5,000" in html
    assert "No next step" in html
    assert "1 of 3 for Propose" in html  # amount met, budget not ticked, no decision maker (Propose's entry)
    assert f'id="deal-{deal.pk}"' in html and 'draggable="true"' in html


def test_a_teammates_card_is_not_draggable_for_a_rep(client, world, make_deal):
    make_deal(owner=world.bob, title="Bob's deal")
    client.force_login(world.alice)
    html = client.get(reverse("web:board", args=["test"]), {"scope": "team"}).content.decode()
    assert 'draggable="false"' in html and 'draggable="true"' not in html
    assert "data-move-menu" not in html  # no "Move to…" on a card she may not move


def test_a_card_she_may_move_has_a_move_to_button(client, world, make_deal):
    deal = make_deal(title="Acme rollout")
    client.force_login(world.alice)
    html = client.get(reverse("web:board", args=["test"])).content.decode()
    card = html[html.index(f'id="deal-{deal.pk}"'):]
    card = card[:card.index("</li>")]
    # Seen as "Move to…"; the deal's name is in it for screen readers only.
    assert "data-move-menu" in card and '>Move<span class="sr-only"> Acme rollout</span> to…</button>' in card


def test_the_column_page_returns_the_next_cards(client, world, make_deal, pipeline):
    for n in range(3):
        make_deal(title=f"Deal {n}")
    client.force_login(world.alice)
    stage = pipeline.stages.get(key="qualify")
    response = client.get(reverse("web:column", args=["test", stage.pk]), {"offset": 1})
    assert response.status_code == 200
    assert response.content.decode().count('<li class="card') == 2


def test_a_bad_filter_is_shown_next_to_its_field_and_ignored(client, world, make_deal):
    make_deal(title="Kept")
    client.force_login(world.alice)
    response = client.get(reverse("web:board", args=["test"]), {"close_from": "2026-05-01", "close_to": "2026-01-01"})
    assert response.status_code == 200
    assert "must be on or after the start date" in response.content.decode()


@pytest.mark.parametrize("key", ["nope"])
def test_an_unknown_pipeline_is_404(client, world, key):
    client.force_login(world.alice)
    assert client.get(reverse("web:board", args=[key])).status_code == 404


def test_each_column_shows_the_soonest_close_dates_first_and_pages_in_that_order(world, make_deal, pipeline):
    today = timezone.localdate()
    undated_old = make_deal(title="No date, older")
    later = make_deal(title="Closes later", expected_close_date=today + dt.timedelta(days=40))
    undated_new = make_deal(title="No date, newer")
    soon = make_deal(title="Closes soon", expected_close_date=today + dt.timedelta(days=5))
    same_day_old = make_deal(title="Same day, older", expected_close_date=today + dt.timedelta(days=20))
    same_day_new = make_deal(title="Same day, newer", expected_close_date=today + dt.timedelta(days=20))
    elsewhere = make_deal(title="Negotiating", expected_close_date=today + dt.timedelta(days=1))
    services.move_deal(elsewhere, "negotiate", by=world.bob, override_reason="test")
    expected = [soon, same_day_new, same_day_old, later, undated_new, undated_old]  # dated first, then newest first
    board = build_board(pipeline, world.alice, BoardFilters(), per_column=4)
    qualify = _column(board, "qualify")
    assert [c.deal.pk for c in qualify.cards] == [d.pk for d in expected[:4]]
    assert [c.deal.pk for c in _column(board, "negotiate").cards] == [elsewhere.pk]
    rest = build_column(pipeline, qualify.stage, world.alice, BoardFilters(), offset=4, limit=4)
    assert [c.deal.pk for c in rest.cards] == [d.pk for d in expected[4:]] and rest.next_offset is None


def test_won_and_lost_deals_leave_the_columns_and_their_totals(world, make_deal, pipeline):
    make_deal(amount=1000)
    gone = make_deal(amount=5000)
    services.move_deal(gone, "lost", by=world.alice, lost_reason="price")
    qualify = _column(build_board(pipeline, world.alice, BoardFilters()), "qualify")
    assert qualify.count == 1 and [m.total for m in qualify.money] == [Decimal("1000")]
    assert gone.pk not in {c.deal.pk for c in qualify.cards}


def test_someone_who_may_see_no_deal_gets_empty_columns(world, make_deal, pipeline):
    make_deal(title="Hidden")
    board = build_board(pipeline, AnonymousUser(), BoardFilters(flagged=True))
    assert [(c.count, c.cards) for c in board.columns] == [(0, [])] * 3
