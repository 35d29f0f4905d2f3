"""The time-aware forecast's 10/50/90 range (dealgate.analytics.simulation): properties that fail
if the range ignores how uncertain the probabilities are, or is not honest on data whose true
probabilities are known."""

from decimal import Decimal

import numpy as np
import pytest
from analytics_builders import History, at

from dealgate.analytics import forecast, simulation
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_period
from dealgate.analytics.simulation import Belief, percentiles, period_spread_of, simulate
from tests.conftest import build_test_pipeline

OCTOBER = parse_period("2026-10")
OCT_1 = at("2026-10-01")


def book(deals: int = 300, seed: int = 0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).lognormal(np.log(10_000), 0.6, deals), 2)


def width(beliefs, cell, amounts, **options) -> float:
    r = percentiles(simulate(beliefs, cell, amounts, **options))
    return r.p90 - r.p10


def test_it_widens_the_range_when_the_probabilities_rest_on_fewer_deals():
    amounts = book()
    cell = np.zeros(len(amounts), dtype=np.int64)
    thin = [Belief.smoothed(6, 20, 0.3, 10.0)]  # q = 0.3 from 20 stays
    thick = [Belief.smoothed(600, 2000, 0.3, 10.0)]  # q = 0.3 from 2,000 stays
    known = [Belief.certain(0.3)]
    assert thin[0].q == pytest.approx(thick[0].q) == pytest.approx(0.3)
    assert width(thin, cell, amounts) > 1.5 * width(thick, cell, amounts)
    assert width(thick, cell, amounts) > width(known, cell, amounts)


def test_an_uncertain_stage_widens_the_range_of_all_its_age_buckets():
    amounts = book()
    cell = np.arange(len(amounts)) % 3

    def buckets(stage: Belief) -> list[Belief]:
        return [Belief.smoothed(3, 10, stage, 10.0) for _ in range(3)]

    sure_stage = Belief.smoothed(3000, 10_000, 0.3, 10.0)
    vague_stage = Belief.smoothed(3, 10, 0.3, 10.0)
    assert width(buckets(vague_stage), cell, amounts) > 1.2 * width(buckets(sure_stage), cell, amounts)


def test_the_range_collapses_when_every_probability_is_certain_0_or_1():
    for deals in (50, 5000):  # a small book (every deal drawn) and a large one (the rest summed by moments)
        amounts = book(deals)
        cell = np.arange(deals) % 2
        totals = simulate([Belief.certain(0.0), Belief.certain(1.0)], cell, amounts, simulations=500)
        assert np.allclose(totals, amounts[cell == 1].sum())


def test_certain_probabilities_still_vary_by_chance_alone():
    amounts = book()
    cell = np.zeros(len(amounts), dtype=np.int64)
    r = percentiles(simulate([Belief.certain(0.5)], cell, amounts))
    assert r.p10 < r.p50 < r.p90
    assert r.p50 == pytest.approx(amounts.sum() / 2, rel=0.05)


def test_the_percentiles_are_ordered_and_the_mean_is_the_expectation():
    amounts = book(3000)
    rng = np.random.default_rng(3)
    stage = Belief.smoothed(40, 200, 0.2, 10.0)
    beliefs = [Belief.smoothed(int(h), 50, stage, 10.0) for h in rng.integers(0, 30, 8)]
    cell = rng.integers(0, len(beliefs), len(amounts))
    totals = simulate(beliefs, cell, amounts, simulations=4000)
    r = percentiles(totals)
    assert r.p10 <= r.p50 <= r.p90
    expected = np.array([b.q for b in beliefs])[cell] @ amounts
    assert totals.mean() == pytest.approx(expected, rel=0.02)


def test_it_is_deterministic_for_a_seed_whatever_order_the_rows_came_in():
    amounts = book(3000)  # more deals than are drawn one by one at 2,000 simulations
    rng = np.random.default_rng(5)
    beliefs = [Belief.smoothed(int(h), 40, 0.3, 10.0) for h in rng.integers(0, 20, 5)]
    cell = rng.integers(0, 5, len(amounts))
    shuffled = rng.permutation(len(amounts))
    first = simulate(beliefs, cell, amounts, seed=11, period_spread=0.2)
    again = simulate(beliefs, cell[shuffled], amounts[shuffled], seed=11, period_spread=0.2)
    other = simulate(beliefs, cell, amounts, seed=12, period_spread=0.2)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def synthetic_coverage(periods: int, *, shock: float = 0.0, assumed_shock: float = 0.0, uncertain: bool = True,
                       seed: int = 1) -> float:
    """Share of synthetic periods whose actual total falls inside the simulated P10-P90. Each period
    has its own true probabilities (stage rates around the configured ones, bucket rates around their
    stage, as the smoothing assumes), a history of stays drawn from them, open deals drawn from them,
    and, with `shock`, one factor of that relative spread on every probability."""
    rng = np.random.default_rng(seed)
    k, configured = 10.0, np.array([0.1, 0.3, 0.6])
    inside = 0
    for _ in range(periods):
        beliefs, truth = [], []
        for p0 in configured:
            theta_stage = rng.beta(k * p0, k * (1 - p0))
            n0 = int(rng.integers(5, 80))
            stage = Belief.smoothed(rng.binomial(n0, theta_stage), n0, p0, k)
            for _bucket in range(3):
                theta = rng.beta(k * theta_stage, k * (1 - theta_stage))
                n = int(rng.integers(2, 40))
                beliefs.append(Belief.smoothed(rng.binomial(n, theta), n, stage, k))
                truth.append(theta)
        if not uncertain:
            beliefs = [Belief.certain(b.q) for b in beliefs]
        deals = int(rng.integers(100, 600))
        cell = rng.integers(0, len(beliefs), deals)
        amounts = np.round(rng.lognormal(np.log(10_000), 0.6, deals), 2)
        factor = np.exp(rng.normal(0, np.sqrt(np.log1p(shock ** 2)))) if shock else 1.0
        won = rng.random(deals) < np.minimum(np.array(truth)[cell] * factor, 1.0)
        actual = amounts[won].sum()
        r = percentiles(simulate(beliefs, cell, amounts, simulations=400, seed=int(rng.integers(1 << 31)),
                                 period_spread=assumed_shock))
        inside += r.p10 <= actual <= r.p90
    return inside / periods


def test_on_data_from_known_probabilities_about_80_percent_of_outcomes_fall_inside_p10_p90():
    assert 0.74 <= synthetic_coverage(400) <= 0.86


def test_drawing_deals_independently_with_fixed_probabilities_covers_far_less():
    assert synthetic_coverage(400, uncertain=False) < 0.70


def test_a_shared_period_shock_is_covered_when_its_spread_is_known():
    assert synthetic_coverage(300, shock=0.4, seed=2) < 0.72
    assert 0.72 <= synthetic_coverage(300, shock=0.4, assumed_shock=0.4, seed=2) <= 0.88


def test_the_period_spread_is_how_much_win_rates_jump_beyond_chance_not_their_trend():
    rng = np.random.default_rng(4)
    closed = rng.integers(200, 400, 24)
    steady = rng.binomial(closed, 0.25)
    assert period_spread_of(steady, closed) < 0.12
    rates = 0.25 * np.exp(rng.normal(0, 0.3, 24))
    shaken = rng.binomial(closed, rates)
    assert 0.18 < period_spread_of(shaken, closed) < 0.45
    rising = rng.binomial(closed, np.linspace(0.05, 0.3, 24))  # a young history warming up: a trend
    assert period_spread_of(rising, closed) < 0.12
    assert period_spread_of([1, 0], [3, 2]) == 0.0  # too few periods to tell
    assert period_spread_of([0, 0, 0], [5, 5, 5]) == 0.0  # nothing won: no rate to scale


# --- through the forecast, on stage histories ----------------------------------------------------

def test_the_timing_table_keeps_the_counts_behind_each_probability(world, pipeline):
    h = History(world, pipeline)
    for i in range(10):  # ten stays in propose, won 10 days after entering it
        deal = h.deal("2026-06-01", 1000)
        h.move(deal, "propose", "2026-06-05")
        h.move(deal, "won", "2026-06-15")
    table = forecast.timing_table(Scope(), OCTOBER, OCT_1)
    propose = pipeline.stages.get(key="propose").pk
    young, older = table[(propose, 0)], table[(propose, 7)]
    assert (young.n, young.hits, older.n, older.hits) == (10, 10, 10, 10)
    # buckets are smoothed toward (and drawn around) their stage
    assert older.prior is young.prior and young.prior.n == 10
    assert older.q == pytest.approx(0.9)


def test_the_forecast_range_is_wider_when_the_history_is_thin(world, pipeline):
    def forecast_with(history_deals: int):
        h = History(world, pipeline)
        for i in range(history_deals):  # stays in propose: 3 in 5 won 10 days after entering it
            deal = h.deal("2026-06-01", 1000)
            h.move(deal, "propose", "2026-06-05")
            h.move(deal, "won" if i % 5 < 3 else "lost", "2026-06-15")
        for _ in range(40):
            h.deal("2026-09-01", 1000, stage="propose")
        return forecast.time_aware_forecast(Scope(), OCTOBER, OCT_1)

    thin = forecast_with(10)
    thick = forecast_with(140)  # adds to the same book: 150 stays behind the same 3-in-5 rate
    assert thin["p10"] <= thin["p50"] <= thin["p90"]
    assert thin["open_deals"] == 40 and thick["open_deals"] == 80
    # per open deal, the thin history's range is wider
    assert (thin["p90"] - thin["p10"]) / 40 > (thick["p90"] - thick["p10"]) / 80


def test_a_look_back_whose_monthly_win_rates_jump_widens_the_range(world, pipeline):
    other = build_test_pipeline("other")
    for book, jumpy in ((pipeline, False), (other, True)):
        h = History(world, book)
        for month in range(1, 9):  # 48 closes, half won: 3 of 6 every month, or all-or-nothing months
            for i in range(6):
                won = month % 2 == 1 if jumpy else i % 2 == 0
                deal = h.deal(f"2026-{month:02d}-01", 1000)
                h.move(deal, "won" if won else "lost", f"2026-{month:02d}-{10 + i}")
        for _ in range(40):
            h.deal("2026-09-01", 1000, stage="propose")
    steady_scope, jumpy_scope = Scope(pipeline_id=pipeline.pk), Scope(pipeline_id=other.pk)
    assert simulation.period_spread(steady_scope, OCT_1, 365) == 0.0
    assert simulation.period_spread(jumpy_scope, OCT_1, 365) > 0.8
    steady = forecast.time_aware_forecast(steady_scope, OCTOBER, OCT_1)
    jumpy = forecast.time_aware_forecast(jumpy_scope, OCTOBER, OCT_1)
    assert steady["expected"] == jumpy["expected"]  # the same probabilities: only the range differs
    assert jumpy["p90"] - jumpy["p10"] > Decimal("1.3") * (steady["p90"] - steady["p10"])
