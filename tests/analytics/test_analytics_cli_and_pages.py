"""The report, forecast and backtest commands and the insights pages, on one small history."""

import json
from io import StringIO

import pytest
from analytics_builders import History
from django.core.management import CommandError, call_command

from dealgate.analytics.models import ProbabilityAdoption


@pytest.fixture
def book(world, pipeline):
    h = History(world, pipeline)
    won = h.deal("2026-07-01", 12_500, close_date="2026-08-01")
    h.move(won, "propose", "2026-07-10")
    h.move(won, "won", "2026-08-01")
    lost = h.deal("2026-07-02", 3000)
    h.move(lost, "lost", "2026-07-20")
    h.deal("2026-08-01", 40_000, owner=world.carol, close_date="2026-09-30", category="commit")
    return h


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_report_metrics_prints_right_aligned_numbers_with_thousands_separators(book):
    text = run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30")
    header, rule, row = text.splitlines()[1:4]
    assert "Win rate" in header and "50.0%" in row and "12,500" in row
    assert row.index("12,500") + len("12,500") == header.index("Won amount") + len("Won amount")


def test_report_by_owner_gives_one_row_per_owner(book):
    text = run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30", "--by", "owner")
    assert "Alice" in text and "Carol" in text


def test_report_json_is_machine_readable(book):
    data = json.loads(run("report", "waterfall", "--period", "2026-Q3", "--as-of", "2026-11-30", "--json"))
    flow = data["groups"][0]["result"]
    assert (flow["created"], flow["won"], flow["lost"], flow["closing"], flow["adds_up"]) == (
        "55500.00", "12500.00", "3000.00", "40000.00", True)


def test_report_funnel_and_bottlenecks_run(book):
    assert "Qualify" in run("report", "funnel", "--period", "2026-Q3", "--as-of", "2026-11-30")
    assert "Open deals pile up in Qualify" in run("report", "bottlenecks", "--period", "2026-Q3")


def test_report_refuses_a_bad_period(book):
    with pytest.raises(CommandError, match="not a period"):
        run("report", "metrics", "--period", "Q3")


def test_forecast_prints_every_method_and_the_categories(book):
    text = run("forecast", "--period", "2026-Q3", "--as-of", "2026-08-01")
    for word in ("weighted", "historical", "time-aware", "Commit call", "Carol"):
        assert word in text
    data = json.loads(run("forecast", "--period", "2026-Q3", "--as-of", "2026-08-01", "--method", "weighted",
                          "--json"))
    # won 12,500 + 40,000 due Sep 30 at 20% + from new deals 3/32 x 12,500 (tests/api/test_api_analytics.py)
    assert data["methods"]["weighted"]["expected"] == "21671.88"
    assert data["lead"]["why"] == "No recent quarters with wins to compare the methods on yet: showing weighted."
    text = run("forecast", "--period", "2026-Q3", "--as-of", "2026-08-01")
    assert "From new deals (not created yet)" in text and "1,172" in text


def test_backtest_prints_mape_and_bias_per_method(book):
    text = run("backtest", "--from", "2026-07", "--to", "2026-09", "--period", "month")
    assert "MAPE" in text and "2026-08" in text and "12,500" in text


def test_insights_pages_need_a_login(client, book):
    assert client.get("/insights/").status_code == 302
    assert client.get("/insights/forecast/").status_code == 302


def test_insights_page_shows_the_numbers_under_every_chart(client, book, world):
    client.force_login(world.dave)
    page = client.get("/insights/?period=2026-Q3&as_of=2026-11-30")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/analytics/plotly.min.js" in html and "cdn" not in html.lower()
    spec = json.loads(html.split('id="chart-waterfall" type="application/json">')[1].split("</script>")[0])
    assert spec["data"][0]["type"] == "waterfall"  # an object for Plotly, not a JSON string
    for text in ("Sales velocity", "Funnel", "Time in stage", "Pipeline waterfall", "55,500", "3x–4x"):
        assert text in html


def test_a_rep_sees_only_their_teams_numbers(client, book, world):
    client.force_login(world.alice)
    html = client.get("/insights/?period=2026-Q3&as_of=2026-11-30").content.decode()
    assert "40,000" not in html  # carol's (West) deal
    client.force_login(world.carol)
    html = client.get("/insights/?period=2026-Q3&as_of=2026-11-30").content.decode()
    assert "40,000" in html and "12,500" not in html


def test_forecast_page_shows_methods_categories_and_backtest(client, book, world):
    client.force_login(world.bob)
    page = client.get("/insights/forecast/?period=2026-Q3&as_of=2026-08-01")
    assert page.status_code == 200
    html = page.content.decode()
    for text in ("time-aware", "Forecast categories", "Backtest", "Commit accuracy"):
        assert text in html
    assert "Adopt" not in html  # only admins
    assert "inside P10–P90" not in html  # no period of the backtest has anything won yet


def test_forecast_page_says_how_often_the_range_held(client, book, world):
    client.force_login(world.bob)
    html = client.get("/insights/forecast/?period=2026-Q4&as_of=2026-11-30").content.decode()
    footer = html.split("<tfoot>")[-1].split("</tfoot>")[0]
    assert "time-aware: MAPE" in footer and "of periods" in footer and "inside P10–P90" in footer


def test_plotly_is_served_locally(client):
    response = client.get("/insights/plotly.min.js")
    assert response.status_code == 200 and response["Content-Type"] == "text/javascript"


def test_only_an_admin_can_adopt_a_learned_probability_and_it_is_audited(client, book, world, pipeline):
    qualify = pipeline.stages.get(key="qualify")
    client.force_login(world.bob)
    client.post(f"/insights/forecast/adopt/{qualify.pk}/")
    qualify.refresh_from_db()
    assert qualify.probability == 20 and not ProbabilityAdoption.objects.exists()
    client.force_login(world.dave)
    client.post(f"/insights/forecast/adopt/{qualify.pk}/")
    qualify.refresh_from_db()
    audit = ProbabilityAdoption.objects.get()
    # qualify: 2 entered in the last year and closed, 1 won -> (1 + 10 x 0.2) / (2 + 10) = 25%
    assert (audit.old_probability, audit.new_probability, audit.by) == (20, 25, world.dave)
    assert qualify.probability == 25


def test_an_adoption_can_be_reverted_and_the_revert_is_recorded(book, world, pipeline):
    from dealgate.analytics.services import adopt_probability, revert_adoption

    qualify = pipeline.stages.get(key="qualify")
    first = adopt_probability(qualify, 35, by=world.dave)
    back = revert_adoption(first, by=world.dave)
    qualify.refresh_from_db()
    assert qualify.probability == 20 and back.reverts == first and back.new_probability == 20


def test_the_weekly_review_counts_what_changed_per_owner(book, world):
    from analytics_builders import at

    from dealgate.analytics.history import Scope
    from dealgate.analytics.metrics import weekly_review

    deal = book.deal("2026-07-27", 1000, close_date="2026-08-10")
    book.move(deal, "propose", "2026-07-28")
    book.move(deal, "qualify", "2026-07-29")
    book.change(deal, "expected_close_date", "2026-09-01", "2026-07-30", old="2026-08-10")
    book.change(deal, "amount", 1500, "2026-07-30")
    rows = {r["name"]: r for r in weekly_review(Scope(), at("2026-07-26"), at("2026-08-02"))}
    alice = rows["Alice"]
    assert (alice["created"], alice["forward"], alice["backward"], alice["won"]) == (1, 1, 1, 1)
    assert (alice["close_date_slipped"], alice["amount_changed"]) == (1, 1)
    assert "Close date slipped" in run("report", "review", "--since", "2026-07-26", "--as-of", "2026-08-01")


def test_the_forecast_page_leads_with_one_number_split_into_its_parts(client, book, world):
    """As of 2026-08-01 for Q3, no recent quarter had wins, so the page shows time-aware and says
    why; its parts: won so far 12,500 (Aug 1), from new deals 3/32 x 12,500 = 1,172
    (tests/api/test_api_analytics.py), and the total is their sum with the open deals' part."""
    client.force_login(world.dave)
    html = client.get("/insights/forecast/?period=2026-Q3&as_of=2026-08-01").content.decode()
    lead = html.split('id="forecast-lead"')[1].split("</section>")[0]
    assert "No recent quarters with wins to compare the methods on yet: showing time-aware" in lead
    assert "Won so far</td><td class=\"num\">12,500" in lead
    assert "From new deals (not created yet)</td><td class=\"num\">1,172" in lead


def test_the_forecast_page_says_why_new_deals_add_nothing_when_none_was_won_that_fast(client, book, world):
    """As of 2026-09-01, 29 days remain in Q3: three deals created in the 90 days before at that pace
    make about one more, but the only win took 31 days from creation (1 Jul -> 1 Aug), so new deals
    add 0 and the page says why instead of leaving a bare 0 under a count of new deals."""
    client.force_login(world.dave)
    html = client.get("/insights/forecast/?period=2026-Q3&as_of=2026-09-01").content.decode()
    lead = html.split('id="forecast-lead"')[1].split("</section>")[0]
    assert "From new deals (not created yet)</td><td class=\"num\">0<" in lead
    assert "New deals: about 1 more by the end of the period" in lead
    assert "none of the past year’s new deals was won within 29 days of being created" in lead
