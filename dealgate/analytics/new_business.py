"""Won revenue from deals not yet created at the cutoff ("from new deals"), learned from the
pipeline's own history (issue 15 section 1; docs/analytics.md, "New business inside the period").

Every forecast method counts what is won so far plus what it expects from the deals open at the
cutoff. Deals created after the cutoff can still be won inside the period; on real data that is
often most of a month. From the deals created in the look-back window (as known at the cutoff):

  rate      new deals a day: those created in the last RECENT_DAYS days, or over the whole history
            when it is younger than that, times a factor for the season and the trend
            (`rate_factor`): how the creation rate of the same window a year earlier compared with
            the RECENT_DAYS before it, when the history reaches that far back; else the trend of
            the monthly creation counts, carried from the middle of the recent days to the middle of
            the days left; either shrunk toward 1 by its own noise
  value(t)  for a deal created t days after the cutoff: the amount the look-back's new deals won
            in the same window relative to their creation ([period start - t, period end - t),
            in days), per deal created, over the deals watched for at least that long

  expected = sum over the days t from the cutoff to the period end of rate x value(t)

Its uncertainty, for the range: the number of new deals is Poisson around the rate (a compound
Poisson total, variance rate x second moment of value), and the rate and value themselves are
estimates that move from month to month: one lognormal factor per simulation whose relative spread
combines the month-to-month swing of the creation counts beyond chance, 1 / sqrt(recent deals) and
1 / sqrt(wins behind the value).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dealgate.analytics.cache import figure
from dealgate.analytics.history import Scope, amount_sql, days_between, fetch, fetch_floats, fetch_rows, spans, ts
from dealgate.analytics.periods import Period

RECENT_DAYS = 90
SLICE_DAYS = 30  # creation counts per slice, for the month-to-month swing and the trend
YEAR_DAYS = 364  # "a year earlier": 52 weeks, so the same weekdays
YEAR_EDGES = (YEAR_DAYS + RECENT_DAYS + SLICE_DAYS, YEAR_DAYS + RECENT_DAYS, YEAR_DAYS)  # days before the cutoff


@figure
def new_business(scope: Scope, period: Period, cutoff: dt.datetime, lookback_days: int = 365) -> dict[str, Any]:
    """{"expected", "days" (from the cutoff to the period end), "deals" (new deals expected by then), "per_day", "win_share" (share
    of new deals won inside the period), "variance", "spread" (relative), "learned_from"}: money
    in units (float), all 0 when the period is over or nothing was learned.

    This is the per-cutoff path (three queries); `new_business_of_windows` gives the same numbers for
    several cutoffs from two queries (the calibration's past windows)."""
    horizon = (period.end - cutoff).total_seconds() / 86400
    if horizon <= 0:
        return _learned(period, cutoff, lookback_days, None)
    lookback = cutoff - dt.timedelta(days=lookback_days)
    source, where, params = spans(scope)
    params.update(cutoff=ts(cutoff), lookback=ts(lookback))
    # each deal's first span (its creation), with how long it had been watched and when it was won
    born = fetch(f"""
SELECT s.deal_id, {days_between('s.created_at', '%(cutoff)s')} AS watched,
       CASE WHEN s.next_won_at < %(cutoff)s THEN {days_between('s.created_at', 's.next_won_at')} END AS to_win
FROM {source} WHERE {where} AND {BORN} AND s.created_at >= %(lookback)s AND s.created_at < %(cutoff)s""", params)
    if not born:
        return _learned(period, cutoff, lookback_days, None)
    won_amounts: dict[int, int] = {}
    for row in fetch(f"""
SELECT s.deal_id, {amount_sql(scope, cutoff)} AS amount_cents FROM {source} WHERE {where} AND {WON}
  AND s.created_at >= %(lookback)s AND s.starts_at < %(cutoff)s
ORDER BY s.starts_at""", params):
        won_amounts.setdefault(row["deal_id"], int(row["amount_cents"] or 0))
    older, before = _year_before(scope, cutoff)
    return _learned(period, cutoff, lookback_days, Born(
        watched=np.array([float(r["watched"]) for r in born]),
        to_win=np.array([np.nan if r["to_win"] is None else float(r["to_win"]) for r in born]),
        amount=np.array([won_amounts.get(r["deal_id"], 0) / 100 for r in born]), older=older, before=before))


# The spans that are a deal's creation, and those of a win (dealgate.deals.timeline)
BORN = "s.history_id IS NOT NULL AND s.prev_stage_id IS NULL"
WON = "s.history_id IS NOT NULL AND s.stage_kind = 'won'"


@dataclass(frozen=True)
class Born:
    """The deals created in the look-back window before one cutoff: per deal, days watched (from its
    creation to the cutoff), days from creation to its win if won before the cutoff (else nan) and
    the amount won (units); and the creation counts `rate_factor` compares (`_year_before`)."""

    watched: np.ndarray
    to_win: np.ndarray
    amount: np.ndarray
    older: int
    before: int


def _year_before(scope: Scope, cutoff: dt.datetime) -> tuple[int, int]:
    """Deals created in the SLICE_DAYS, and in the RECENT_DAYS, before the same days a year
    (YEAR_DAYS) before the cutoff."""
    source, where, params = spans(scope)
    params.update({f"edge{i}": ts(cutoff - dt.timedelta(days=back)) for i, back in enumerate(YEAR_EDGES)})
    row = fetch(f"""
SELECT SUM(CASE WHEN s.created_at < %(edge1)s THEN 1 ELSE 0 END) AS older,
       SUM(CASE WHEN s.created_at >= %(edge1)s THEN 1 ELSE 0 END) AS before
FROM {source} WHERE {where} AND {BORN} AND s.created_at >= %(edge0)s AND s.created_at < %(edge2)s""", params)[0]
    return int(row["older"] or 0), int(row["before"] or 0)


def new_business_of_windows(scope: Scope, windows: list[tuple[Period, dt.datetime]],
                            lookback_days: int = 365) -> list[dict[str, Any]]:
    """`new_business` of each (period, cutoff), the same figures, from two queries for all of them:
    the creation spans from the earliest cutoff's year-before edge to the latest cutoff, and the
    wins of the deals created since the earliest look-back, each with its days to one reference
    instant (the latest cutoff); each cutoff's deals, days watched and wins are then cut out of
    those rows. Each result is also stored as that cutoff's `new_business` figure. (A cutoff's days
    watched are then a difference of two days-to-the-reference: on PostgreSQL they can differ from
    the per-cutoff query's in the last binary digit; counts and amounts do not move.)"""
    live = [(period, cutoff) for period, cutoff in windows if period.end > cutoff]
    results = {}
    if live:
        ref = max(cutoff for _, cutoff in live)
        first = min(cutoff for _, cutoff in live)
        source, where, params = spans(scope)
        params.update(ref=ts(ref), since=ts(first - dt.timedelta(days=max(lookback_days, YEAR_EDGES[0]))),
                      born_since=ts(first - dt.timedelta(days=lookback_days)))
        born = fetch_floats(f"""
SELECT s.deal_id, {days_between('s.created_at', '%(ref)s')},
       CASE WHEN s.next_won_at < %(ref)s THEN {days_between('s.next_won_at', '%(ref)s')} END,
       {days_between('s.created_at', 's.next_won_at')}
FROM {source} WHERE {where} AND {BORN} AND s.created_at >= %(since)s AND s.created_at < %(ref)s""", params, 4)
        wins = fetch_floats(f"""
SELECT s.deal_id, {days_between('s.starts_at', '%(ref)s')}, COALESCE({amount_sql(scope, ref)}, 0) FROM {source}
WHERE {where} AND {WON} AND s.created_at >= %(born_since)s AND s.starts_at < %(ref)s""", params, 3)
        deal_ids, created, won_at, to_win = born.T
        # each deal's first win (days before ref, cents: its row the longest before ref): only a
        # deal won before ref can have one
        wins = wins[np.lexsort((-wins[:, 1], wins[:, 0]))]
        won_ids, first = np.unique(wins[:, 0], return_index=True)
        first_win = np.tile([-1.0, 0.0], (len(deal_ids), 1))
        if len(won_ids):
            at = np.minimum(np.searchsorted(won_ids, deal_ids), len(won_ids) - 1)
            has = ~np.isnan(won_at) & (won_ids[at] == deal_ids)
            first_win[has, 0] = wins[first[at[has]], 1]
            first_win[has, 1] = np.trunc(wins[first[at[has]], 2])
        for period, cutoff in live:
            back = days_to(cutoff, ref)  # the cutoff, in days before ref
            watched = created - back
            older = int(((watched > YEAR_EDGES[1]) & (watched <= YEAR_EDGES[0])).sum())
            before = int(((watched > YEAR_EDGES[2]) & (watched <= YEAR_EDGES[1])).sum())
            mine = (watched > 0) & (watched <= lookback_days)
            won_by_then = mine & ~np.isnan(won_at) & (won_at > back)
            amount = np.where(first_win[:, 0] > back, first_win[:, 1], 0.0) / 100
            results[(period, cutoff)] = _learned(period, cutoff, lookback_days, Born(
                watched=watched[mine], to_win=np.where(won_by_then, to_win, np.nan)[mine], amount=amount[mine],
                older=older, before=before) if mine.any() else None)
    made = []
    for period, cutoff in windows:
        value = results.get((period, cutoff)) or _learned(period, cutoff, lookback_days, None)
        new_business.prime(value, scope, period, cutoff, lookback_days)
        made.append(value)
    return made


def days_to(start: dt.datetime, end: dt.datetime) -> float:
    """Days from `start` to `end`, as the database's `days_between` gives them."""
    rows = fetch_rows(f"SELECT {days_between('%(start)s', '%(end)s')}", {"start": ts(start), "end": ts(end)})
    return float(rows[0][0])


def _learned(period: Period, cutoff: dt.datetime, lookback_days: int, born: Born | None) -> dict[str, Any]:
    """The new-business figure of one cutoff from its look-back's deals (None: nothing learned)."""
    horizon = (period.end - cutoff).total_seconds() / 86400
    empty = {"expected": 0.0, "days": max(0.0, horizon), "deals": 0.0, "per_day": 0.0, "win_share": 0.0, "variance": 0.0, "spread": 0.0,
             "learned_from": 0, "rate_factor": 1.0, "rate_basis": "none"}
    if horizon <= 0 or born is None or not len(born.watched):
        return empty
    watched, to_win, amount = born.watched, born.to_win, born.amount
    history_days = min(float(watched.max()), float(lookback_days))
    recent_days = min(RECENT_DAYS, max(history_days, 1.0))
    per_day = float((watched <= recent_days).sum()) / recent_days
    factor, basis = rate_factor(born.older, born.before, horizon, watched, history_days, recent_days)

    start_in = max(0.0, (period.start - cutoff).total_seconds() / 86400)
    expected = second = wins_behind = 0.0
    days = int(math.ceil(horizon))
    # a deal created before day horizon - history has no cohort watched long enough: skip those days
    # (also bounds the loop for a period far ahead)
    for t in range(max(0, int(horizon - history_days) - 1), days):
        width = min(1.0, horizon - t)  # the last day may be partial
        low, high = max(0.0, start_in - t - 0.5), horizon - t - 0.5  # created mid-day t
        observed = watched >= high
        if high <= 0 or not observed.any():
            continue
        inside = observed & (to_win >= low) & (to_win < high)
        cohort = float(observed.sum())
        expected += per_day * factor * width * float(amount[inside].sum()) / cohort
        second += per_day * factor * width * float((amount[inside] ** 2).sum()) / cohort
        wins_behind = max(wins_behind, float(inside.sum()))
    deals = per_day * factor * horizon
    if expected <= 0:
        return {**empty, "per_day": per_day, "deals": deals, "learned_from": len(watched), "rate_factor": factor,
                "rate_basis": basis}
    counts = np.bincount(np.minimum((watched // SLICE_DAYS).astype(int), int(history_days // SLICE_DAYS)))
    spread = math.sqrt(swing(counts[: max(1, int(history_days // SLICE_DAYS))]) ** 2
                       + 1 / max(1.0, per_day * recent_days) + 1 / max(1.0, wins_behind))
    won_share = float(((to_win >= 0) & (to_win < horizon) & (watched >= horizon)).sum()) / max(
        1.0, float((watched >= horizon).sum()))
    return {"expected": expected, "days": horizon, "deals": deals, "per_day": per_day, "win_share": won_share,
            "variance": second, "spread": spread, "learned_from": len(watched), "rate_factor": factor, "rate_basis": basis}


def shrunk(estimate: float, noise: float) -> float:
    """A log-scale estimate pulled toward 0 by its noise variance (positive-part James-Stein): kept
    whole when it stands far above its noise, dropped when it does not stand out of it."""
    if estimate == 0:
        return 0.0
    return estimate * max(0.0, 1 - noise / estimate ** 2)


def rate_factor(older: int, before: int, horizon: float, watched: np.ndarray, history_days: float,
                recent_days: float) -> tuple[float, str]:
    """(factor, basis): how much faster than the recent rate deals will be created until the period
    end. "season": the history reaches a year and RECENT_DAYS before the cutoff, so the rate of the
    same days a year earlier over that of the RECENT_DAYS before them (`before`; `older`: the
    SLICE_DAYS before those, which shows the history reaches that far) (a season and a steady growth
    show alike), shrunk by its Poisson noise (1/a + 1/b in log). "trend": at least four whole
    SLICE_DAYS slices of history; the log-linear trend of their counts (weighted by count), shrunk
    by its standard error, carried from the middle of the recent days to the middle of the days
    left. "none": neither (factor 1). The factor is kept within 0.5-2."""
    days = max(1.0, min(horizon, float(YEAR_DAYS)))
    same = float(((watched <= YEAR_DAYS) & (watched > YEAR_DAYS - days)).sum())
    if older and before and same:
        log_ratio = math.log((same / days) / (before / RECENT_DAYS))
        return _bounded(shrunk(log_ratio, 1 / same + 1 / before)), "season"
    slices = int(min(history_days, float(YEAR_DAYS)) // SLICE_DAYS)
    if slices < 4:
        return 1.0, "none"
    counts = np.bincount((watched[watched < slices * SLICE_DAYS] // SLICE_DAYS).astype(int), minlength=slices)
    if (counts == 0).any():
        return 1.0, "none"
    age = (np.arange(slices) + 0.5) * SLICE_DAYS  # days before the cutoff, each slice's middle
    weights = counts.astype(float)  # Poisson: the variance of ln(count) is 1 / count
    mean_age = float(np.average(age, weights=weights))
    spread = float(np.sum(weights * (age - mean_age) ** 2))
    slope = -float(np.sum(weights * (age - mean_age) * np.log(counts))) / spread  # growth per day
    growth = shrunk(slope, 1 / spread)
    return _bounded(growth * (recent_days / 2 + horizon / 2)), "trend"


def _bounded(log_factor: float) -> float:
    return float(min(2.0, max(0.5, math.exp(log_factor))))


def swing(counts: np.ndarray) -> float:
    """Relative month-to-month swing of the creation counts beyond Poisson chance (successive
    differences, so a steady trend is not taken for a swing); 0 with fewer than 3 slices."""
    counts = np.asarray(counts, dtype=float)
    if len(counts) < 3 or counts.mean() <= 0:
        return 0.0
    excess = np.mean(np.diff(counts) ** 2) / 2 - counts.mean()
    return math.sqrt(max(0.0, excess)) / counts.mean()


def simulate(result: dict[str, Any], simulations: int, seed: int) -> np.ndarray:
    """Simulated totals from new deals: a shared lognormal factor (rate and value estimates) times a
    compound Poisson total (normal approximation, never below 0). Its own seeded stream, so the open
    deals' draws are unchanged."""
    if result["expected"] <= 0:
        return np.zeros(simulations)
    rng = np.random.default_rng([seed, 15])
    sigma = math.sqrt(math.log1p(result["spread"] ** 2))
    factor = np.exp(sigma * rng.standard_normal(simulations) - sigma ** 2 / 2)
    mean, sd = result["expected"] * factor, np.sqrt(result["variance"] * factor)
    return np.maximum(0.0, mean + sd * rng.standard_normal(simulations))
