"""The weekly pipeline review (dealgate.analytics.review) on a small hand-built history.

The week is 2026-W48, Monday 23 to Sunday 29 November, in Berlin (UTC+1 in November): it runs
from 2026-11-22 23:00 UTC to 2026-11-29 23:00 UTC. The week before, W47, from 2026-11-15 23:00 UTC.
The test pipeline's Qualify stage goes stale after 7 idle days, Propose after 10 (calendar days).

Alice (East):
  A1 created Mon 00:30 Berlin (Sun 23:30 UTC), 1,000; close date pushed once, pulled in once,
     amount changed once, in W48
  A2 created 10 Nov, 5,000; advanced 24 Nov; won 26 Nov
  A3 created 12 Nov, 2,000; lost Sun 29 Nov 23:30 Berlin (22:30 UTC), still W48
  A4 created Mon 30 Nov 00:30 Berlin: W49
  A5 created 18 Nov, 800: idle since, stale from 26 Nov (went stale in W48)
  A6 created 18 Nov, 600; a call on 24 Nov: not stale by the end of W48
  A7 created 10 Nov, 300: stale from 18 Nov (went stale in W47)
Carol (West):
  C1 created 1 Nov, 3,000; won 25 Nov
  C2 created 17 Nov, 900; advanced 19 Nov, moved back 20 Nov: stale from 28 Nov (W48)
"""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from analytics_builders import History, at
from django.core.management import CommandError, call_command

from dealgate.analytics.history import Scope
from dealgate.analytics.review import parse_week, pipeline_review, week_containing
from dealgate.deals.models import Activity
from dealgate.errors import ValidationFailed


@pytest.fixture
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


@pytest.fixture
def book(world, pipeline, berlin):
    h = History(world, pipeline)
    a1 = h.deal("2026-11-22 23:30", 1000, close_date="2026-12-01")
    h.change(a1, "expected_close_date", "2026-12-15", "2026-11-25 10:00", old="2026-12-01")
    h.change(a1, "expected_close_date", "2026-12-10", "2026-11-26 10:00", old="2026-12-15")  # pulled in: no slip
    h.change(a1, "amount", 1200, "2026-11-27 10:00")
    a2 = h.deal("2026-11-10", 5000)
    h.move(a2, "propose", "2026-11-24 12:00")
    h.move(a2, "won", "2026-11-26 12:00")
    a3 = h.deal("2026-11-12", 2000)
    h.move(a3, "lost", "2026-11-29 22:30")
    h.deal("2026-11-29 23:30", 400)
    h.deal("2026-11-18 10:00", 800)
    a6 = h.deal("2026-11-18 10:00", 600)
    Activity.objects.create(deal=a6, kind="call", subject="Call", occurred_at=at("2026-11-24 09:00"))
    h.deal("2026-11-10", 300)
    c1 = h.deal("2026-11-01", 3000, owner=world.carol)
    h.move(c1, "won", "2026-11-25")
    c2 = h.deal("2026-11-17 12:00", 900, owner=world.carol)
    h.move(c2, "propose", "2026-11-19")
    h.move(c2, "qualify", "2026-11-20")
    return h


def w48(scope=None):
    week = parse_week("2026-W48")
    return pipeline_review(scope or Scope(), week.start, week.end, previous=(week.shifted(-1).start, week.start),
                           now=at("2026-12-03 12:00"))


def counts(row, keys=("created", "forward", "backward", "reopened", "won", "lost", "close_date_slipped",
                      "amount_changed", "went_stale")):
    return {k: row[k] for k in keys if row[k]}


def amounts(row):
    return {k: row[k] for k in ("created_amount", "won_amount", "lost_amount", "went_stale_amount") if row[k]}


def test_the_week_runs_monday_to_monday_in_the_configured_time_zone(berlin):
    week = parse_week("2026-W48")
    assert (week.start, week.end) == (at("2026-11-22 23:00"), at("2026-11-29 23:00"))
    assert week.title == "Week 48, 23–29 Nov 2026" and week.shifted(-1).label == "2026-W47"
    assert week_containing(at("2026-11-22 23:30")).label == "2026-W48"  # Monday 00:30 in Berlin
    assert parse_week("2026-W53").label == "2026-W53" and parse_week("2027-W01").shifted(-1).label == "2026-W53"


@pytest.mark.parametrize("text", ["2026-48", "2025-W53", "2026-W00", "3000-W01", "W48", ""])
def test_a_bad_week_is_refused_with_the_field(text):
    with pytest.raises(ValidationFailed) as excinfo:
        parse_week(text)
    assert "week" in excinfo.value.details


def test_it_counts_each_owners_week_exactly(book, world):
    owners = {r["name"]: r for r in w48()["owners"]}
    alice, carol = owners["Alice"], owners["Carol"]
    assert counts(alice) == {"created": 1, "forward": 1, "won": 1, "lost": 1, "close_date_slipped": 1,
                             "amount_changed": 1, "went_stale": 1}
    assert amounts(alice) == {"created_amount": Decimal("1000.00"), "won_amount": Decimal("5000.00"),
                              "lost_amount": Decimal("2000.00"), "went_stale_amount": Decimal("800.00")}
    assert counts(carol) == {"won": 1, "went_stale": 1}
    assert amounts(carol) == {"won_amount": Decimal("3000.00"), "went_stale_amount": Decimal("900.00")}
    assert (alice["team"], carol["team"]) == ("East", "West")


def test_it_compares_with_the_week_before(book):
    owners = {r["name"]: r for r in w48()["owners"]}
    alice, carol = owners["Alice"]["previous"], owners["Carol"]["previous"]
    # A1 was created on Sunday 23:30 UTC, which is already Monday of W48 in Berlin: not in W47.
    assert counts(alice) == {"created": 2, "went_stale": 3}
    assert amounts(alice) == {"created_amount": Decimal("1400.00"), "went_stale_amount": Decimal("7300.00")}
    assert counts(carol) == {"created": 1, "forward": 1, "backward": 1}


def test_it_adds_up_per_team_and_in_total(book):
    review = w48()
    teams = {r["name"]: r for r in review["teams"]}
    owners = {r["name"]: r for r in review["owners"]}
    assert counts(teams["East"]) == counts(owners["Alice"]) and counts(teams["West"]) == counts(owners["Carol"])
    total = review["total"]
    assert (total["won"], total["won_amount"], total["went_stale"]) == (2, Decimal("8000.00"), 2)
    assert total["previous"]["created"] == 3


def test_in_utc_the_week_edges_move_by_an_hour(book, settings):
    settings.TIME_ZONE = "UTC"
    alice = {r["name"]: r for r in w48()["owners"]}["Alice"]
    # A1 (Sunday 23:30 UTC) falls back into W47; A4 (the next Sunday 23:30 UTC) into W48.
    assert (alice["previous"]["created"], alice["previous"]["created_amount"]) == (3, Decimal("2400.00"))
    assert (alice["created"], alice["created_amount"]) == (1, Decimal("400.00"))


def test_next_steps_are_counted_only_for_a_week_that_reaches_today(book):
    assert w48()["total"]["no_next_step"] is None
    week = parse_week("2026-W48")
    now = pipeline_review(Scope(), week.start, week.end, now=at("2026-11-27 12:00"))
    assert now["total"]["no_next_step"] == 6  # the book's open deals (A1, A4-A7, C2) have no next step


def test_a_viewer_sees_only_their_scope(book, world):
    alice_only = w48(Scope(owner_id=world.alice.pk))
    assert [r["name"] for r in alice_only["owners"]] == ["Alice"] and alice_only["total"]["won"] == 1


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_report_review_prints_the_same_numbers_per_owner_and_team(book):
    text = run("report", "review", "--week", "2026-W48")
    assert "Went stale" in text and "Window before" in text and "East" in text
    alice = next(line for line in text.splitlines() if line.startswith("Alice"))
    assert "5,000" in alice and "2,000" in alice
    data = json.loads(run("report", "review", "--week", "2026-W48", "--json"))
    owners = {r["name"]: r for r in data["owners"]}
    assert (owners["Alice"]["won"], owners["Alice"]["won_amount"], owners["Carol"]["went_stale"]) == (1, "5000.00", 1)


def test_report_review_refuses_a_bad_week(book):
    with pytest.raises(CommandError, match="no week 53"):
        run("report", "review", "--week", "2025-W53")


# --- the page ---------------------------------------------------------------------------------------

def page(client, user, week="2026-W48"):
    client.force_login(user)
    return client.get(f"/insights/review/?week={week}")


def owner_rows(html):
    body = html.split("Per owner", 1)[1].split("</table>", 1)[0]
    return [cell.split("</td>", 1)[0] for cell in body.split("<tr><td>")[1:]]


def test_an_admin_sees_every_owner_and_team(client, book, world):
    response = page(client, world.dave)
    html = response.content.decode()
    assert response.status_code == 200 and owner_rows(html) == ["Alice", "Carol"]
    assert "Per team" in html and "Week 48, 23–29 Nov 2026" in html
    assert 'href="?week=2026-W47"' in html and 'href="?week=2026-W49"' in html
    assert "5,000" in html and "Europe/Berlin" in html


def test_a_manager_sees_her_team_only(client, book, world):
    html = page(client, world.bob).content.decode()
    assert owner_rows(html) == ["Alice"] and "team East" in html and "Carol" not in html
    assert "Per team" not in html  # one team: the owner table says it all


def test_a_rep_sees_only_her_own_deals(client, book, world):
    html = page(client, world.carol).content.decode()
    assert owner_rows(html) == ["Carol"] and "your deals" in html and "Alice" not in html.split("</header>")[1]


def test_the_summary_compares_counts_and_amounts_with_the_week_before(client, book, world):
    html = page(client, world.dave).content.decode()
    summary = html.split("review-summary", 1)[1].split("</table>", 1)[0]
    won = summary.split("<td>Won</td>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>")[0] for c in won.split('<td class="num">')[1:]]
    assert cells == ['2<br><span class="muted small">8,000</span>', '0<br><span class="muted small">0</span>', "+2"]


def test_a_bad_week_is_refused_with_a_message_not_an_error_page(client, book, world):
    response = page(client, world.bob, week="2026-W99")
    assert response.status_code == 400 and "2026 has no week 99" in response.content.decode()


def test_the_review_needs_a_sign_in(client, book):
    assert client.get("/insights/review/").status_code == 302


def test_the_insights_page_links_to_the_review(client, book, world):
    client.force_login(world.bob)
    assert 'href="/insights/review/"' in client.get("/insights/").content.decode()


# --- other currencies (decision 035) ----------------------------------------------------------------

def test_deals_in_other_currencies_convert_at_the_rate_of_the_day_and_one_without_a_rate_is_named(
        client, book, world):
    """A USD deal created 20 Nov (W47) at 0.5 and won 26 Nov (W48) at 0.8: its amounts join the EUR
    ones at each day's rate; a GBP deal has no rate, so it is left out and the page says so."""
    from dealgate.analytics.history import with_rates
    from dealgate.analytics.rates import set_rate
    from dealgate.analytics.review import currency_words

    before = w48(with_rates(Scope()))["total"]
    usd = book.deal("2026-11-20 12:00", 1000, currency="USD")
    book.move(usd, "won", "2026-11-26 12:00")
    book.deal("2026-11-24 12:00", 700, currency="GBP")
    set_rate(currency="USD", rate="0.5", effective_from="2026-01-01", by=None)
    set_rate(currency="USD", rate="0.8", effective_from="2026-11-25", by=None)
    scope = with_rates(Scope())
    after = w48(scope)["total"]
    assert (after["won"], after["won_amount"]) == (before["won"] + 1, before["won_amount"] + Decimal("800.00"))
    assert after["created"] == before["created"]  # the GBP deal, created in W48, is not counted
    assert after["previous"]["created_amount"] == before["previous"]["created_amount"] + Decimal("500.00")
    words = ("amounts in EUR; USD converted at the exchange rate of the day each change happened (went stale: "
             "of the week's last day); left out: 1 deal in GBP (no exchange rate)")
    assert currency_words(scope) == words
    html = page(client, world.dave).content.decode()
    assert words.replace("'", "&#x27;") in html
    assert "8,800" in html.split("review-summary", 1)[1].split("</table>", 1)[0]


def test_the_current_week_says_it_is_not_over_and_a_past_week_does_not(client, book, world):
    from django.utils import timezone

    client.force_login(world.dave)
    today = timezone.localdate()
    this_week = week_containing(timezone.now())
    current = client.get("/insights/review/").content.decode()
    assert (f"Week {this_week.number} is not over: its figures run to today, {today:%A} {today.day} {today:%b}, "
            f"against the whole of week {this_week.shifted(-1).number}.") in current
    assert "is not over" not in page(client, world.dave, week=this_week.shifted(-1).label).content.decode()
