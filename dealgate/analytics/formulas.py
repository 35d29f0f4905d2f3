"""The formulas of domain.md sections 5 and 6 as pure functions of numbers.

Queries gather the inputs; these functions turn them into the figures, so the worked examples of
the definitions are tested exactly and every page, command and API shows the same arithmetic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Sequence

Number = float | int | Decimal


def ratio(part: Number, whole: Number) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as "—", never as 0%)."""
    return None if not whole else float(part) / float(whole)


def win_rate(won: int, lost: int) -> float | None:
    """Won / (won + lost) over deals closed in the period."""
    return ratio(won, won + lost)


def sales_velocity(opportunities: Number, win_rate: float | None, avg_size: Number | None,
                   cycle_days: Number | None) -> float | None:
    """(open opportunities x win rate x average deal size) / sales cycle length, per day."""
    if win_rate is None or avg_size is None or not cycle_days:
        return None
    return float(opportunities) * float(win_rate) * float(avg_size) / float(cycle_days)


def weighted_pipeline(deals: Iterable[tuple[Number | None, Number]]) -> tuple[Decimal, Decimal]:
    """(weighted, unweighted) for (amount, probability 0-100) pairs; a deal with no amount counts 0."""
    weighted = unweighted = Decimal(0)
    for amount, probability in deals:
        if amount is None:
            continue
        unweighted += Decimal(str(amount))
        weighted += Decimal(str(amount)) * Decimal(str(probability)) / 100
    return weighted, unweighted


def coverage(open_pipeline: Number, quota: Number | None, won: Number) -> float | None:
    """Open pipeline expected to close in the period / (quota - already won). None without a gap to fill."""
    if quota is None:
        return None
    gap = float(quota) - float(won)
    return None if gap <= 0 else float(open_pipeline) / gap


def attainment(won: Number, quota: Number | None) -> float | None:
    """Won in the period / quota (0.8 is 80% of quota); None without a quota above zero."""
    return None if quota is None else ratio(won, quota)


COVERAGE_BAND = (3.0, 4.0)


def coverage_verdict(value: float | None) -> str:
    low, high = COVERAGE_BAND
    if value is None:
        return "quota already met"
    if value < low:
        return "below the 3x-4x band"
    if value > high:
        return "above the 3x-4x band"
    return "inside the 3x-4x band"


def percentile(sorted_values: Sequence[Number], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not sorted_values:
        return None
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return float(sorted_values[low]) + fraction * (float(sorted_values[high]) - float(sorted_values[low]))


def smoothed_probability(won: int, closed: int, prior: float, strength: float = 10.0) -> float:
    """(won + k * prior) / (closed + k): the configured value until the sample is large enough to outweigh it."""
    return (won + strength * prior) / (closed + strength)


def mape(pairs: Iterable[tuple[Number, Number]]) -> float | None:
    """Mean absolute percentage error over (forecast, actual) pairs with a non-zero actual."""
    errors = [abs(float(f) - float(a)) / float(a) for f, a in pairs if a]
    return sum(errors) / len(errors) if errors else None


def bias(pairs: Iterable[tuple[Number, Number]]) -> float | None:
    """Mean signed percentage error: above 0 the method promises more than is won."""
    errors = [(float(f) - float(a)) / float(a) for f, a in pairs if a]
    return sum(errors) / len(errors) if errors else None
