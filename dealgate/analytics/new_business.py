"""Won revenue from deals not yet created at the cutoff ("from new deals"), learned from the
pipeline's own history (issue 15 section 1; docs/analytics.md, "New business inside the period").

Every forecast method counts what is won so far plus what it expects from the deals open at the
cutoff. Deals created after the cutoff can still be won inside the period; on real data that is
often most of a month. From the deals created in the look-back window (as known at the cutoff):

  rate      new deals a day: those created in the last RECENT_DAYS days (a trend shows in the
            recent rate), or over the whole history when it is younger than that
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
from typing import Any

import numpy as np

from dealgate.analytics.cache import figure
from dealgate.analytics.history import Scope, amount_sql, days_between, fetch, spans, ts
from dealgate.analytics.periods import Period

RECENT_DAYS = 90
SLICE_DAYS = 30  # creation counts per slice, for the month-to-month swing


@figure
def new_business(scope: Scope, period: Period, cutoff: dt.datetime, lookback_days: int = 365) -> dict[str, Any]:
    """{"expected", "days" (from the cutoff to the period end), "deals" (new deals expected by then), "per_day", "win_share" (share
    of new deals won inside the period), "variance", "spread" (relative), "learned_from"}: money
    in units (float), all 0 when the period is over or nothing was learned."""
    horizon = (period.end - cutoff).total_seconds() / 86400
    empty = {"expected": 0.0, "days": max(0.0, horizon), "deals": 0.0, "per_day": 0.0, "win_share": 0.0, "variance": 0.0, "spread": 0.0,
             "learned_from": 0}
    if horizon <= 0:
        return empty
    lookback = cutoff - dt.timedelta(days=lookback_days)
    source, where, params = spans(scope)
    params.update(cutoff=ts(cutoff), lookback=ts(lookback))
    # each deal's first span (its creation), with how long it had been watched and when it was won
    born = fetch(f"""
SELECT s.deal_id, {days_between('s.created_at', '%(cutoff)s')} AS watched,
       CASE WHEN s.next_won_at < %(cutoff)s THEN {days_between('s.created_at', 's.next_won_at')} END AS to_win
FROM {source} WHERE {where} AND s.history_id IS NOT NULL AND s.prev_stage_id IS NULL
  AND s.created_at >= %(lookback)s AND s.created_at < %(cutoff)s""", params)
    if not born:
        return empty
    won_amounts: dict[int, int] = {}
    for row in fetch(f"""
SELECT s.deal_id, {amount_sql(scope, cutoff)} AS amount_cents FROM {source} WHERE {where} AND s.history_id IS NOT NULL
  AND s.stage_kind = 'won' AND s.created_at >= %(lookback)s AND s.starts_at < %(cutoff)s
ORDER BY s.starts_at""", params):
        won_amounts.setdefault(row["deal_id"], int(row["amount_cents"] or 0))
    watched = np.array([float(r["watched"]) for r in born])
    to_win = np.array([np.nan if r["to_win"] is None else float(r["to_win"]) for r in born])
    amount = np.array([won_amounts.get(r["deal_id"], 0) / 100 for r in born])
    history_days = min(float(watched.max()), float(lookback_days))
    recent_days = min(RECENT_DAYS, max(history_days, 1.0))
    per_day = float((watched <= recent_days).sum()) / recent_days

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
        expected += per_day * width * float(amount[inside].sum()) / cohort
        second += per_day * width * float((amount[inside] ** 2).sum()) / cohort
        wins_behind = max(wins_behind, float(inside.sum()))
    deals = per_day * horizon
    if expected <= 0:
        return {**empty, "per_day": per_day, "deals": deals, "learned_from": len(born)}
    counts = np.bincount(np.minimum((watched // SLICE_DAYS).astype(int), int(history_days // SLICE_DAYS)))
    spread = math.sqrt(swing(counts[: max(1, int(history_days // SLICE_DAYS))]) ** 2
                       + 1 / max(1.0, per_day * recent_days) + 1 / max(1.0, wins_behind))
    won_share = float(((to_win >= 0) & (to_win < horizon) & (watched >= horizon)).sum()) / max(
        1.0, float((watched >= horizon).sum()))
    return {"expected": expected, "days": horizon, "deals": deals, "per_day": per_day, "win_share": won_share,
            "variance": second, "spread": spread, "learned_from": len(born)}


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
