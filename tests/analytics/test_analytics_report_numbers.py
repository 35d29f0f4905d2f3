"""`report funnel` and `report bottlenecks` print the numbers of a small history worked out by hand.

Every deal is 1,000 EUR. 2026-Q3 as of 2026-11-30; the trailing span is the four quarters before
(2025-Q3 to 2026-Q2).
  Trailing: 5 deals created Apr 1, moved to propose after 10, 12, 14, 16, 18 days (Apr 11..19).
  Q3:       7 deals created Jul 1; 5 moved to propose after 20, 22, 24, 26, 28 days (Jul 21..29),
            2 still in qualify.
Qualify, Q3 cohort: 7 entered, 5 moved on -> 71.4%; trailing: 5 of 5 -> 100.0%. As of Nov 30 every
entrant is more than 30 days old and every move came within 30 days, so the same-age bottleneck
comparison (moved on within 30 days) has the same figures.
Qualify stays ending in Q3: 20 22 24 26 28 -> median 24.0, p75 26.0, p90 26 + 0.6 x 2 = 27.2;
trailing: 10 12 14 16 18 -> median 14.0 (up 10.0 days).
Open on Oct 1: qualify 2 (both 92 days old), propose 10 (ages 173 171 169 167 165 from April,
72 70 68 66 64 from July: median (72 + 165) / 2 = 118.5, "118" in words as Python rounds half to
even), so propose holds 10 of 12 = 83%.
"""

import datetime as dt
import json
from io import StringIO

import pytest
from analytics_builders import History
from django.core.management import call_command

ARGS = ("--period", "2026-Q3", "--as-of", "2026-11-30")


def _day(start: str, days: int) -> str:
    return (dt.date.fromisoformat(start) + dt.timedelta(days=days)).isoformat()


@pytest.fixture
def book(world, pipeline):
    h = History(world, pipeline)
    for stay in (10, 12, 14, 16, 18):
        h.move(h.deal("2026-04-01", 1000), "propose", _day("2026-04-01", stay))
    for stay in (20, 22, 24, 26, 28):
        h.move(h.deal("2026-07-01", 1000), "propose", _day("2026-07-01", stay))
    h.deal("2026-07-01", 1000)
    h.deal("2026-07-01", 1000)
    return h


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _row(text: str, stage: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.startswith(stage))


def test_report_funnel_prints_each_stages_hand_computed_numbers(book):
    text = run("report", "funnel", *ARGS)
    # Stage, entered, advanced, conversion, stage-to-win, median, p75, p90, open, open amount, open age median
    assert _row(text, "Qualify") == ["Qualify", "7", "5", "71.4%", "—", "24.0", "26.0", "27.2", "2", "2,000", "92.0"]
    assert _row(text, "Propose") == ["Propose", "5", "0", "0.0%", "—", "—", "—", "—", "10", "10,000", "118.5"]


def test_report_bottlenecks_names_the_worst_stage_with_its_numbers(book):
    text = run("report", "bottlenecks", *ARGS)
    assert ("* Qualify converts worst against its own history: 71% of the 7 deals that entered it this period at "
            "least 30 days ago moved on within 30 days, against 100% of 5 in the four periods before (deals "
            "compared at the same age).") in text
    assert "* Deals spend longer in Qualify: a median of 24.0 days, up 10.0 days on the four periods before (14.0)." in text
    assert ("* Open deals pile up in Propose: 10 deals (83% of the open pipeline, 10,000), a median of 118 days "
            "there so far.") in text
    # Stage, conversion, trailing conversion, median, trailing median, open, share of open
    assert _row(text, "Qualify") == ["Qualify", "71.4%", "100.0%", "24.0", "14.0", "2", "16.7%"]
    assert _row(text, "Propose") == ["Propose", "0.0%", "0.0%", "—", "—", "10", "83.3%"]


def test_report_bottlenecks_json_carries_the_changes(book):
    stages = {s["stage"]: s for s in json.loads(run("report", "bottlenecks", *ARGS, "--json"))["groups"][0]["result"]["stages"]}
    assert stages["Qualify"]["conversion_change"] == pytest.approx(5 / 7 - 1)
    assert stages["Qualify"]["median_change_days"] == pytest.approx(10.0)
    assert (stages["Qualify"]["trailing_entered"], stages["Propose"]["trailing_entered"]) == (5, 5)


@pytest.fixture
def quarter_of_bets(world, pipeline):
    """X: 10,000 due Jul 20, in propose (60%) since Jun 10, won Jul 15.
    Y: 5,000 due Aug 31, in qualify (20%), lost Aug 20.
    Z: 2,000 due Aug 15, created Jul 5 in qualify, won Aug 10."""
    h = History(world, pipeline)
    x = h.deal("2026-06-01", 10_000, close_date="2026-07-20")
    h.move(x, "propose", "2026-06-10")
    h.move(x, "won", "2026-07-15")
    h.move(h.deal("2026-06-01", 5000, close_date="2026-08-31"), "lost", "2026-08-20")
    h.move(h.deal("2026-07-05", 2000, close_date="2026-08-15"), "won", "2026-08-10")
    return h


def test_backtest_prints_each_months_forecast_actual_and_errors(quarter_of_bets):
    """Weighted, made on the 1st of each month from the deals open and due that month:
      Jul: X 10,000 x 60% = 6,000 (Y is due in August); won 10,000 -> error -40%
      Aug: Y 5,000 x 20% + Z 2,000 x 20% = 1,400; won 2,000      -> error -30%
      Sep: nothing open, nothing won (left out of the errors)
    MAPE (40% + 30%) / 2 = 35.0%, bias -35.0%.
    Historical: on Jul 1 nothing has closed yet, so the configured 60% stands: 6,000. On Aug 1 one
    qualify entry of the look-back year has closed (X, won): (1 + 10 x 0.2) / (1 + 10) = 3/11, so
    7,000 x 3/11 = 1,909.09 -> errors -40% and -4.5%: MAPE 22.3%, bias -22.3%."""
    data = json.loads(run("backtest", "--from", "2026-07", "--to", "2026-09", "--period", "month",
                          "--method", "weighted", "--json"))
    assert [(r["period"], r["actual"], r["weighted"]) for r in data["rows"]] == [
        ("2026-07", "10000.00", "6000.00"), ("2026-08", "2000.00", "1400.00"), ("2026-09", "0.00", "0.00")]
    assert data["summary"]["weighted"]["mape"] == pytest.approx(0.35)
    assert data["summary"]["weighted"]["bias"] == pytest.approx(-0.35)
    data = json.loads(run("backtest", "--from", "2026-07", "--to", "2026-09", "--period", "month",
                          "--method", "historical", "--json"))
    assert [r["historical"] for r in data["rows"]] == ["6000.00", "1909.09", "0.00"]
    assert data["summary"]["historical"]["mape"] == pytest.approx((0.4 + 90.91 / 2000) / 2)
    text = run("backtest", "--from", "2026-07", "--to", "2026-09", "--period", "month", "--method", "weighted")
    assert _row(text, "2026-08") == ["2026-08", "2,000", "1,400"]
    assert _row(text, "weighted") == ["weighted", "35.0%", "-35.0%"]
