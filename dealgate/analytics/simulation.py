"""The time-aware forecast's 10/50/90 range: a seeded Monte Carlo simulation of one period.

Drawing every open deal as won or lost independently with its probability q makes the range too
narrow, because much of the real uncertainty is shared by many deals at once:

- **the probabilities themselves are estimates.** q of a (stage, age bucket) cell is the mean of a
  Beta posterior, (won in window + k x prior) / (n + k), whose prior is its stage's q, itself
  (won + k x configured) / (n + k): with few stays behind them the true values could be far off,
  and off for every deal of the stage at once. Each simulation therefore draws each stage's
  probability from its Beta posterior, then each bucket's from its posterior given that draw,
  then the deals (`Belief`, `draw_probabilities`).
- **a period's win rate can move for all deals together** (a good month, a bad quarter). Each
  simulation multiplies every probability by one lognormal factor with mean 1 whose relative
  spread is measured from how much the win rate jumped from one month of the look-back window to
  the next beyond what chance alone explains (`period_spread`, `period_spread_of`; 0 when it did
  not).

Every draw has mean q, so the expected value is unchanged; only the range widens, most where the
evidence is thin. Vectorised, seeded, and independent of the order the database returned rows in.

Speed: the largest deals (EXACT_DRAWS / simulations of them: every deal of a book of up to 500 at
2,000 simulations) are drawn one by one; the many smaller rest are summed per cell through their
first two moments (one normal draw per simulation, given that simulation's probabilities), so the
cost is simulations x cells, not simulations x deals (bench/bench_forecast_range.py).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dealgate.analytics import formulas
from dealgate.analytics.cache import figure
from dealgate.analytics.history import Scope, fetch, state_cte, ts

EXACT_DRAWS = 1_000_000  # simulations x deals drawn one by one, at most (8 MB of draws)


@dataclass(frozen=True, eq=False)  # compared by identity: two stages with equal counts are still two
class Belief:
    """What is known about one probability: its smoothed value q = (hits + k x prior) / (n + k),
    the evidence behind it (n observations, `hits` successes) and the prior's weight k, which
    together are its Beta posterior. The prior is a number, or the Belief of a wider group (a stage
    for its age buckets), whose own uncertainty the simulation then carries down."""

    n: float
    hits: float
    prior: "float | Belief"
    strength: float

    @classmethod
    def smoothed(cls, hits: float, n: float, prior: "float | Belief", strength: float) -> "Belief":
        return cls(n, hits, prior, strength)

    @classmethod
    def certain(cls, q: float) -> "Belief":
        """A probability known exactly (no draw)."""
        return cls(math.inf, 0.0, q, 0.0)

    @property
    def q(self) -> float:
        if math.isinf(self.n):
            return float(self.prior_q)
        return formulas.smoothed_probability(self.hits, self.n, self.prior_q, self.strength)

    @property
    def prior_q(self) -> float:
        return self.prior.q if isinstance(self.prior, Belief) else float(self.prior)


@dataclass(frozen=True)
class Range:
    p10: float
    p50: float
    p90: float


def simulate(beliefs: Sequence[Belief], cell: np.ndarray, amounts: np.ndarray, *, simulations: int = 2000,
             seed: int = 7, period_spread: float = 0.0) -> np.ndarray:
    """Totals won in each simulated period. beliefs: one per cell; cell: each deal's index into
    beliefs; amounts: each deal's amount."""
    rng = np.random.default_rng(seed)
    if len(amounts) == 0:
        return np.zeros(simulations)
    used, deal_cell = np.unique(cell, return_inverse=True)  # only the cells some deal sits in
    p = draw_probabilities(rng, [beliefs[i] for i in used], simulations)
    if period_spread > 0:
        # lognormal with mean 1 and relative standard deviation period_spread
        sigma = np.sqrt(np.log1p(period_spread ** 2))
        factor = np.exp(sigma * rng.standard_normal(simulations) - sigma ** 2 / 2)
        p = np.minimum(p * factor[:, None], 1.0)
    # Largest deals first (ties broken by cell) so the deals drawn one by one, and the draws
    # they get, do not depend on the order the database returned the rows in.
    order = np.lexsort((deal_cell, -amounts))
    exact = order[:max(0, min(len(order), EXACT_DRAWS // simulations))]
    rest = order[len(exact):]
    won = rng.random((simulations, len(exact))) < p[:, deal_cell[exact]]
    totals = won.astype(np.float64) @ amounts[exact]
    if len(rest):
        first = np.bincount(deal_cell[rest], weights=amounts[rest], minlength=len(used))
        second = np.bincount(deal_cell[rest], weights=amounts[rest] ** 2, minlength=len(used))
        mean, variance = p @ first, (p * (1 - p)) @ second
        totals += np.clip(mean + np.sqrt(variance) * rng.standard_normal(simulations), 0.0, first.sum())
    return totals


def draw_probabilities(rng: np.random.Generator, beliefs: Sequence[Belief], simulations: int) -> np.ndarray:
    """simulations x beliefs probabilities, each from its Beta posterior given a draw of its prior
    (priors that are Beliefs are drawn first, once per simulation, shared by their children). A
    certain Belief, or one whose q is 0 or 1 with nothing to move it, keeps its q."""
    parents = list({id(b.prior): b.prior for b in beliefs if isinstance(b.prior, Belief)}.values())
    prior = np.tile([b.prior_q for b in beliefs], (simulations, 1))
    if parents:
        drawn = draw_probabilities(rng, parents, simulations)
        index = {id(parent): i for i, parent in enumerate(parents)}
        for j, belief in enumerate(beliefs):
            if isinstance(belief.prior, Belief):
                prior[:, j] = drawn[:, index[id(belief.prior)]]
    n = np.array([b.n for b in beliefs], dtype=float)
    hits = np.array([b.hits for b in beliefs], dtype=float)
    strength = np.array([b.strength for b in beliefs], dtype=float)
    certain = np.isinf(n)
    n, hits = np.where(certain, 0.0, n), np.where(certain, 0.0, hits)
    alpha = hits + strength * prior
    beta = (n - hits) + strength * (1 - prior)
    tiny = 1e-12  # Beta needs positive parameters; a zero one means the draw is exactly 0 or 1
    draws = rng.beta(np.maximum(alpha, tiny), np.maximum(beta, tiny))
    draws = np.where(alpha <= 0, 0.0, np.where(beta <= 0, 1.0, draws))
    return np.where(certain, prior, draws)


def percentiles(totals: np.ndarray) -> Range:
    p10, p50, p90 = np.percentile(totals, (10, 50, 90))
    return Range(float(p10), float(p50), float(p90))


@figure
def period_spread(scope: Scope, cutoff: dt.datetime, lookback_days: int, periods: int = 12) -> float:
    """The shared period factor's spread for `scope`, from the win rates of the deals closed in each
    of `periods` equal slices of the look-back window (as known at the cutoff)."""
    edges = [cutoff - dt.timedelta(days=lookback_days * (periods - i) / periods) for i in range(periods + 1)]
    cte, params = state_cte(scope, cutoff)
    params.update({f"edge{i}": ts(edge) for i, edge in enumerate(edges)})
    slice_of = " ".join(f"WHEN state.stage_at < %(edge{i + 1})s THEN {i}" for i in range(periods))
    rows = fetch(cte + f"""
SELECT CASE {slice_of} END AS slice, SUM(CASE WHEN state.kind = 'won' THEN 1 ELSE 0 END) AS won, COUNT(*) AS closed
FROM state WHERE state.kind IN ('won', 'lost') AND state.stage_at >= %(edge0)s AND state.stage_at < %(cutoff)s
GROUP BY 1""", params)
    won, closed = np.zeros(periods), np.zeros(periods)
    for row in rows:
        won[int(row["slice"])], closed[int(row["slice"])] = int(row["won"] or 0), int(row["closed"])
    return period_spread_of(won, closed)


def period_spread_of(won: Sequence[float], closed: Sequence[float]) -> float:
    """Relative standard deviation of the shared period factor, from consecutive periods' (won,
    closed) counts: how much the win rate jumps from one period to the next beyond the binomial
    noise chance alone gives, over the pooled rate (method of moments on successive differences,
    so a slow trend, such as the first months of a young history, is not mistaken for shocks).
    0 when the rates move no more than chance."""
    w, n = np.asarray(won, dtype=float), np.asarray(closed, dtype=float)
    w, n = w[n > 0], n[n > 0]
    if len(n) < 3 or w.sum() == 0:
        return 0.0
    pooled = w.sum() / n.sum()
    jumps = np.diff(w / n)
    chance = pooled * (1 - pooled) * (1 / n[1:] + 1 / n[:-1])
    excess = np.mean(jumps ** 2 - chance) / 2
    return float(np.sqrt(max(0.0, excess)) / pooled)
