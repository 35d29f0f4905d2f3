"""Forecasts for a period as of an instant (domain.md section 6).

Each method answers "how much will be won in the period", counting what is already won in the
period (as of the cutoff) plus what it expects from the deals open at the cutoff:

  weighted    open deals expected to close by the period end x their recorded probability
  historical  the same deals x the stage's learned win rate (deals that entered the stage in the
              look-back window and closed), smoothed toward the configured value: (won + k p) / (n + k)
  time-aware  every open deal x P(won and closed inside the period | stage, age in stage), from the
              deals that passed through the stage and closed in the look-back window; a 10/50/90
              range from a seeded Monte Carlo simulation. It needs no close dates.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from dealgate.analytics import formulas, new_business, simulation
from dealgate.analytics.cache import figure
from dealgate.analytics.history import (
    Scope, amount_sql, days_between, fetch, is_postgres, money, open_deals, outcome_at_cutoff, percentiles,
    reopened_before_cutoff, spans, spans_holding, state_cte, ts, won_at_cutoff,
)
from dealgate.analytics.metrics import conversion, conversion_of, stage_label, stages_of, won_amounts
from dealgate.analytics.periods import Period, month_period
from dealgate.analytics.together import together

METHODS = ("weighted", "historical", "time-aware")
# Fine at the young end: most fast deals leave a stage within days, so a deal 5 days in is compared
# with the stays that lasted 3 days or more, not with every stay (docs/analytics.md, planted histories).
AGE_BUCKETS = (0, 1, 3, 7, 14, 30, 60, 90, 180, 365)


@dataclass(frozen=True)
class Settings:
    lookback_days: int = 365
    smoothing: float = 10.0  # k: how many closed deals the configured probability is worth
    simulations: int = 2000
    seed: int = 7


def _lookback(cutoff: dt.datetime, config: Settings) -> Period:
    return Period("look-back", cutoff - dt.timedelta(days=config.lookback_days), cutoff, 12)


def won_so_far(scope: Scope, period: Period, cutoff: dt.datetime) -> Decimal:
    if cutoff <= period.start:
        return Decimal("0.00")
    return won_amounts(scope, (period,), cutoff)[0]


@figure
def historical_probabilities(scope: Scope, cutoff: dt.datetime, config: Settings = Settings()) -> dict[int, dict]:
    """Per open stage: configured and learned win probability (0-1), with the sample behind it."""
    learned = conversion(scope, _lookback(cutoff, config), cutoff)
    result = {}
    for stage in stages_of(scope):
        if stage.kind != "open":
            continue
        row = learned.get(stage.pk, {})
        closed, won = row.get("closed", 0), row.get("won", 0)
        result[stage.pk] = {
            "stage": stage_label(stage), "configured": stage.probability / 100, "closed": closed, "won": won,
            "raw": formulas.ratio(won, closed),
            "learned": formulas.smoothed_probability(won, closed, stage.probability / 100, config.smoothing),
        }
    return result


def weighted_forecast(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings = Settings()) -> Decimal:
    due = due_deals(scope, period, cutoff, config)["rows"]
    weighted = (Decimal(sum(cents * probability for _, cents, probability in due)) / 10000).quantize(Decimal("0.01"))
    return won_so_far(scope, period, cutoff) + weighted


def historical_forecast(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings = Settings()) -> Decimal:
    learned = historical_probabilities(scope, cutoff, config)
    due = due_deals(scope, period, cutoff, config)["rows"]
    expected = sum((money(cents) * Decimal(str(learned[stage_id]["learned"])) for stage_id, cents, _ in due
                    if stage_id in learned), Decimal("0"))
    return (won_so_far(scope, period, cutoff) + expected).quantize(Decimal("0.01"))


# --- open deals due in the period, with the close dates known at the cutoff ---------------------

@figure
def remaining_days(scope: Scope, cutoff: dt.datetime, config: Settings = Settings()) -> dict[tuple[int, int], float]:
    """Per (open stage, age bucket): the typical (median) days from entering the stage to the deal's
    close, won or lost, over the stays begun in the look-back window whose deal closed before the
    cutoff and that lasted at least the bucket's age (a deal already 60 days in a stage is compared
    with the stays that lasted 60 days or more, not with the fast ones)."""
    source, where, params = spans(scope)
    params.update(cutoff=ts(cutoff), lookback=ts(cutoff - dt.timedelta(days=config.lookback_days)))
    won_first = "s.next_won_at IS NOT NULL AND (s.next_lost_at IS NULL OR s.next_won_at < s.next_lost_at)"
    buckets = " UNION ALL ".join(f"SELECT {j} AS j, {lo} AS lo" for j, lo in enumerate(AGE_BUCKETS))
    inner = f"""
SELECT stays.stage_id * 100 + b.j AS grp, stays.value FROM (
  SELECT s.stage_id, CASE WHEN {won_first} THEN {days_between('s.starts_at', 's.next_won_at')}
                     ELSE {days_between('s.starts_at', 's.next_lost_at')} END AS value
  FROM {source} WHERE {where} AND s.history_id IS NOT NULL AND s.stage_kind = 'open'
    AND s.starts_at >= %(lookback)s AND s.starts_at < %(cutoff)s
    AND (s.next_won_at < %(cutoff)s OR s.next_lost_at < %(cutoff)s) AND {reopened_before_cutoff(False)}
) stays JOIN ({buckets}) b ON stays.value >= b.lo"""
    return {(grp // 100, AGE_BUCKETS[grp % 100]): row[500] for grp, row in percentiles(inner, params, (500,)).items()}


def _date(value: Any) -> dt.date | None:
    if value is None or type(value) is dt.date:  # PostgreSQL gives dates, SQLite text
        return value
    return dt.date.fromisoformat(str(value)[:10])


@figure
def due_deals(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings = Settings()) -> dict[str, Any]:
    """The open deals at the cutoff expected to close by the period's last day, by what was known then.

    A deal's expected close date is its value at the cutoff, rebuilt from the field history (the
    state spans). Two kinds of deal have no usable date and take the stage's typical remaining time
    from when they entered it (`remaining_days`) instead: those without one, and those whose date was
    never logged as set before the cutoff and is exactly the day the deal later closed (a date filled
    in afterwards, as imports do for closed deals: using it would be hindsight).

    The typical time is that of the stays that lasted at least as long as the deal has been in the
    stage (its age bucket; the nearest younger bucket with closed stays when that one has none).

    Returns rows (stage_id, amount cents, probability) of the due deals and the counts: `undated`
    (deals that took the typical time), `undated_due` (of them, due in the period), `unknown`
    (undated, and no typical time learned for their stage: left out)."""
    source, where, params = spans_holding(scope)
    params["cutoff"] = ts(cutoff)
    rows = fetch(f"""
SELECT s.deal_id, s.stage_id, {amount_sql(scope, cutoff)} AS amount_cents, s.probability, s.close_date,
       {days_between('s.stage_entered_at', '%(cutoff)s')} AS age,
       CASE WHEN s.next_won_at IS NOT NULL AND (s.next_lost_at IS NULL OR s.next_won_at < s.next_lost_at)
            THEN {days_between('%(cutoff)s', 's.next_won_at')} ELSE {days_between('%(cutoff)s', 's.next_lost_at')}
       END AS closes_in
FROM {source} WHERE {where} AND s.starts_at < %(cutoff)s AND s.ends_at >= %(cutoff)s AND s.stage_kind = 'open'
  AND s.amount_cents IS NOT NULL""", params)
    hindsight = {r["deal_id"] for r in rows if r["close_date"] is not None and r["closes_in"] is not None
                 and _date(r["close_date"]) == (cutoff + dt.timedelta(days=float(r["closes_in"]))).date()}
    if hindsight:
        from dealgate.deals.models import FieldChange

        hindsight -= set(FieldChange.objects.filter(deal_id__in=hindsight, field="expected_close_date",
                                                    at__lt=cutoff).values_list("deal_id", flat=True))
    typical = remaining_days(scope, cutoff, config) if any(
        r["close_date"] is None or r["deal_id"] in hindsight for r in rows) else {}
    due, undated, undated_due, unknown = [], 0, 0, 0
    last_day = period.last_day
    for row in rows:
        if row["close_date"] is not None and row["deal_id"] not in hindsight:
            closes = _date(row["close_date"])
        else:
            undated += 1
            age = float(row["age"])
            lo = next((lo for lo in reversed(AGE_BUCKETS) if lo <= age and (row["stage_id"], lo) in typical), None)
            if lo is None:
                unknown += 1
                continue
            # max(0, typical - age): a deal already past its stage's typical time is due now
            closes = (cutoff + dt.timedelta(days=max(0.0, typical[(row["stage_id"], lo)] - age))).date()
            undated_due += int(closes <= last_day)
        if closes <= last_day:
            due.append((row["stage_id"], int(row["amount_cents"]), int(row["probability"])))
    return {"rows": due, "undated": undated, "undated_due": undated_due, "unknown": unknown}


def _window_days(period: Period, cutoff: dt.datetime) -> tuple[float, float]:
    """The period, in days from the cutoff: [max(0, start - cutoff), end - cutoff)."""
    return max(0.0, (period.start - cutoff).total_seconds() / 86400), (period.end - cutoff).total_seconds() / 86400


TIMING_SLICES = 2


@figure
def timing_table(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings = Settings()) -> dict:
    """{(stage_id, age bucket): Belief} whose q = P(won inside the period | stage, age), smoothed
    twice: a bucket toward its stage, a stage toward configured probability x the share of wins that
    land inside the window overall. The Belief keeps the counts (n, won in window) behind q, so the
    simulation knows how uncertain q is."""
    w0, w1 = _window_days(period, cutoff)
    source, where, params = spans(scope)
    lookback = cutoff - dt.timedelta(days=config.lookback_days)
    params.update(cutoff=ts(cutoff), lookback=ts(lookback), w0=w0, w1=w1)
    # Every stay that began in the look-back window counts, whatever became of the deal (won, lost,
    # still open), provided it was watched for the whole horizon after reaching the age: counting
    # only closed deals would keep the fast closers and overstate the chance of closing soon.
    left = "CASE WHEN s.next_move_at < %(cutoff)s THEN s.next_move_at ELSE %(cutoff)s END"
    dur, watched = days_between('s.starts_at', left), days_between('s.starts_at', '%(cutoff)s')
    # A stay counts in bucket lo while lo <= its duration and lo + w1 <= the time it was watched, so
    # the buckets it counts in are the first k + 1; the buckets in which its win lands inside the
    # window (w0 <= to_close - lo < w1) are a run [j_from, j_to]. The stays are counted per stage and
    # (k, run, outcome), packed in one number so the database sees one small grouping (a few hundred
    # rows, spread over the buckets here) instead of joining every stay with every bucket.
    # The same stays, where they are a deal's first entry into the stage in the look-back window,
    # are the cohorts of the learned probabilities (stage conversion over the look-back window): one
    # scan counts both, and that conversion figure is stored for `historical_probabilities`.
    def buckets_up_to(value: str) -> str:
        """How many buckets start at or below `value` (0-10): k + 1, j_from and j_to + 1 (a hex digit each)."""
        if is_postgres():
            return f"width_bucket({value}, ARRAY[{', '.join(map(str, AGE_BUCKETS))}]::float8[])"
        return "CASE " + " ".join(f"WHEN {value} < {lo} THEN {j}" for j, lo in enumerate(AGE_BUCKETS)) \
            + f" ELSE {len(AGE_BUCKETS)} END"

    smaller = "LEAST" if is_postgres() else "MIN"

    def count(reopened: bool, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """The stays that began in [start, end), per stage and code."""
        to_close = days_between('s.starts_at', won_at_cutoff(reopened))
        # PostgreSQL inlines `ref`; SQLite computes it once.
        return fetch(f"""
WITH ref AS {"" if is_postgres() else "MATERIALIZED "}(
  SELECT s.stage_id, {smaller}({dur}, {watched} - %(w1)s) AS reach, {to_close} AS to_close,
         CASE {outcome_at_cutoff(reopened)} WHEN 'won' THEN 1 WHEN 'lost' THEN 2 ELSE 0 END AS outcome,
         CASE WHEN s.prev_entry_at IS NULL OR s.prev_entry_at < %(lookback)s THEN 1 ELSE 0 END AS first_entry,
         CASE WHEN s.next_advance_at < %(cutoff)s THEN 1 ELSE 0 END AS advanced
  FROM {source}
  WHERE {where} AND s.history_id IS NOT NULL AND s.stage_kind = 'open'
    AND s.starts_at >= %(slice_start)s AND s.starts_at < %(slice_end)s AND {reopened_before_cutoff(reopened)}
)
SELECT stage_id, code, COUNT(*) AS n FROM (
  SELECT ref.stage_id, ((ref.outcome * 2 + ref.first_entry) * 2 + ref.advanced) * 4096
           + {buckets_up_to('ref.reach')} * 256
           + CASE WHEN ref.outcome = 1 THEN {buckets_up_to('ref.to_close - %(w1)s')} * 16
                                            + {buckets_up_to('ref.to_close - %(w0)s')} ELSE 0 END AS code
  FROM ref
) classified
GROUP BY stage_id, code""", {**params, "slice_start": ts(start), "slice_end": ts(end)})

    # PostgreSQL counts a grouping by an expression over several columns in one process (it guesses
    # about one group per row, so splitting the work looks useless to it); the look-back window is
    # cut into time slices counted together instead (dealgate.analytics.together), and added up.
    edges = [lookback + (cutoff - lookback) * i / TIMING_SLICES for i in range(TIMING_SLICES + 1)]
    parts = together(*(lambda a=a, b=b: count(False, a, b) for a, b in zip(edges, edges[1:])),
                     lambda: count(True, lookback, cutoff))
    counts, cohorts = _tally(row for rows in parts for row in rows)
    conversion.prime(conversion_of(cohorts), scope, _lookback(cutoff, config), cutoff)
    cells = {key: tuple(value) for key, value in counts.items()}
    all_won = sum(won for (s, lo), (n, won, ww) in cells.items() if lo == 0)
    all_ww = sum(ww for (s, lo), (n, won, ww) in cells.items() if lo == 0)
    in_window_share = all_ww / all_won if all_won else 0.5
    table: dict[tuple[int, int], simulation.Belief] = {}
    for stage in stages_of(scope):
        if stage.kind != "open":
            continue
        n0, _, ww0 = cells.get((stage.pk, 0), (0, 0, 0))
        stage_q = simulation.Belief.smoothed(ww0, n0, stage.probability / 100 * in_window_share, config.smoothing)
        for lo in AGE_BUCKETS:
            n, _, ww = cells.get((stage.pk, lo), (0, 0, 0))
            table[(stage.pk, lo)] = simulation.Belief.smoothed(ww, n, stage_q, config.smoothing)
    return table


def _tally(rows: Any) -> tuple[dict[tuple[int, int], list[int]], dict[int, list[int]]]:
    """Unpack the timing table's (stage, code, n) rows: per (stage, age bucket) [stays, won, won in
    the window], and per stage the look-back cohorts [entered, advanced, won, closed]."""
    counts: dict[tuple[int, int], list[int]] = {}
    cohorts: dict[int, list[int]] = {}
    for row in rows:
        code, n = int(row["code"]), int(row["n"])
        outcome, first_entry, advanced = code // 16384, (code // 8192) % 2, (code // 4096) % 2
        reach, j_from, j_to = (code // 256) % 16, (code // 16) % 16, code % 16 - 1
        won = int(outcome == 1)
        for j in range(reach):
            cell = counts.setdefault((row["stage_id"], AGE_BUCKETS[j]), [0, 0, 0])
            cell[0] += n
            cell[1] += n * won
            if won and j_from <= j <= j_to:
                cell[2] += n
        if first_entry:
            cohort = cohorts.setdefault(row["stage_id"], [0, 0, 0, 0])
            cohort[0] += n
            cohort[1] += n * advanced
            cohort[2] += n * won
            cohort[3] += n * int(outcome != 0)
    return counts, cohorts


def time_aware_forecast(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings = Settings(),
                        with_new: bool = False, widen: float = 0.0) -> dict:
    """Expected amount won in the period, its 10/50/90 range, and the expected amount per owner and
    team. `with_new`: add the deals not yet created (`new_business`), their uncertainty in the range.
    `widen`: the spread (log scale) of one more lognormal factor with mean 1 on what is not won yet,
    learned from the pipeline's own past errors (`calibration`).

    The window's work (queries, simulation) is `_time_aware_window`, cached without `widen`: the
    widened range of a past period (the backtest) and its unwidened one (a later period's
    calibration) are drawn from the same simulated totals, computed once (decision 038)."""
    window = _time_aware_window(scope, period, cutoff, config, with_new)
    span = simulation.percentiles(_widened(window["totals"], widen, config))
    base = float(window["already_won"])
    return {"already_won": window["already_won"], "open_deals": window["open_deals"], "expected": window["expected"],
            "p10": _dec(base + span.p10), "p50": _dec(base + span.p50), "p90": _dec(base + span.p90),
            **{key: value for key, value in window.items() if key not in ("totals", "already_won", "open_deals")}}


@figure(durable=True)
def _time_aware_window(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings, with_new: bool) -> dict:
    """`time_aware_forecast` without its range: the expected values and the simulated totals of what
    is not won yet (`totals`, not widened)."""
    table, already, rows, spread, new = together(
        lambda: timing_table(scope, period, cutoff, config), lambda: won_so_far(scope, period, cutoff),
        lambda: open_deals(scope, cutoff), lambda: simulation.period_spread(scope, cutoff, config.lookback_days),
        lambda: new_business.new_business(scope, period, cutoff, config.lookback_days) if with_new else None)
    result: dict[str, Any] = {"already_won": already, "open_deals": len(rows)}
    base = float(already)
    from_new = new_business.simulate(new, config.simulations, config.seed) if new else np.zeros(config.simulations)
    expected_new = new["expected"] if new else 0.0
    if not rows:
        result.update(expected=_dec(base + expected_new), by_owner={}, by_team={}, from_open=_dec(0),
                      from_new=_dec(expected_new), totals=from_new)
        return result
    stage_ids = np.array([r[0] for r in rows], dtype=np.int64)
    ages = np.array([float(r[1]) for r in rows])
    amounts = np.array([int(r[2]) for r in rows], dtype=np.float64) / 100
    bucket_index = np.searchsorted(np.array(AGE_BUCKETS, dtype=float), ages, side="right") - 1
    bucket_lo = np.array(AGE_BUCKETS)[np.clip(bucket_index, 0, len(AGE_BUCKETS) - 1)]
    beliefs = [simulation.Belief.certain(0.0), *table.values()]  # cell 0: a deal whose stage has no cell
    cell = (_lookup(dict(zip(table, range(1, len(beliefs)))), stage_ids, bucket_lo).astype(np.int64)
            if table else np.zeros(len(rows), dtype=np.int64))
    q = np.array([b.q for b in beliefs])[cell]
    expected = float(q @ amounts)
    result.update(
        expected=_dec(base + expected + expected_new), from_open=_dec(expected), from_new=_dec(expected_new),
        by_owner=_group_sum([r[3] for r in rows], q * amounts), by_team=_group_sum([r[4] for r in rows], q * amounts),
        totals=_simulate(beliefs, cell, amounts, spread, config) + from_new,
    )
    return result


def _widened(totals: np.ndarray, widen: float, config: Settings) -> np.ndarray:
    """Each simulated total times a lognormal factor with mean 1 and log spread `widen` (its own
    seeded stream): the expected value stays, the range widens."""
    if widen <= 0:
        return totals
    rng = np.random.default_rng([config.seed, 38])
    return totals * np.exp(widen * rng.standard_normal(len(totals)) - widen ** 2 / 2)


Z90 = 1.2815515655446004  # P90 of the standard normal: P10-P90 spans 2 x Z90 standard deviations
# P90 of Student's t with n degrees of freedom (n = 3..6 judged periods): the next error's
# predictive spread when the errors' own spread around 0 is estimated from n of them
T90 = {3: 1.638, 4: 1.533, 5: 1.476, 6: 1.440}
CALIBRATION_PERIODS = 6


@figure(durable=True)
def calibration(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings = Settings()) -> dict[str, Any]:
    """How much wider the time-aware range must be than the model says, learned from the pipeline's
    own recent past (decision 038): the time-aware forecasts (with new deals, not widened) of the 6
    windows of the period's length that end 0 to 5 months before it starts (for a month, the 6
    months before it; for a quarter, six overlapping 3-month windows, so even a young history has
    enough), each made as far into its window as `cutoff` is into `period` and judged against what
    was won in it as known at `cutoff` (windows not over by then are skipped).

    e = ln(won / forecast) per period and s = the model's own spread there, (ln P90 - ln P10) / (2 x
    Z90). The next period's error is spread like a Student t around 0 whose scale is the root mean
    square of the n past e (bias included), so its P10-P90 is +-t90(n) x rms(e): wider than the
    normal's +-Z90 x rms(e) when it rests on few periods. widen is what that needs beyond the
    model's own spread, sqrt(max(0, needed^2 - mean(s^2))), as the spread of one lognormal factor.
    Nothing to learn from (fewer than 3 periods with a forecast and wins): 0, and the range is the
    model's alone.

    {"widen", "periods" (judged), "error" (root mean square of e), "model" (of s)}."""
    pasts = calibration_windows(period, cutoff)
    *made_then, actuals = together(*(
        lambda past=past, made_at=made_at: time_aware_forecast(scope, past, made_at, config, with_new=True)
        for past, made_at in pasts), lambda: won_amounts(scope, tuple(past for past, _ in pasts), cutoff))
    errors, spreads = [], []
    for made, actual in zip(made_then, actuals):
        if actual > 0 and made["expected"] > 0 and made["p10"] > 0:
            errors.append(math.log(float(actual) / float(made["expected"])))
            spreads.append(math.log(float(made["p90"]) / float(made["p10"])) / (2 * Z90))
    if len(errors) < 3:
        return {"widen": 0.0, "periods": len(errors), "error": None, "model": None}
    n = len(errors)
    error, model = float(np.mean(np.square(errors))), float(np.mean(np.square(spreads)))
    needed = error * (T90.get(n, T90[CALIBRATION_PERIODS]) / Z90) ** 2
    return {"widen": math.sqrt(max(0.0, needed - model)), "periods": n, "error": math.sqrt(error),
            "model": math.sqrt(model)}


def calibration_windows(period: Period, cutoff: dt.datetime) -> list[tuple[Period, dt.datetime]]:
    """The (past window, cutoff in it) pairs `calibration` judges for `period` as of `cutoff`.

    Each is made as many whole days into its window as `cutoff` is into `period` (the part of a day
    dropped): a forecast as of now then judges the same windows all day, and they are past cutoffs,
    kept in the database once computed (decision 044). As of a date (the end of a day) nothing is dropped."""
    offset = dt.timedelta(days=(cutoff - period.start).days)
    month = month_period(period.start.year, period.start.month)
    starts = (month.shifted(-k).start for k in range(period.months + CALIBRATION_PERIODS - 1, period.months - 1, -1))
    windows = (month_period(start.year, start.month, period.months) for start in starts)
    return [(past, past.start + offset) for past in windows if past.end <= cutoff]


def _new_business_together(scope: Scope, period: Period, cutoff: dt.datetime, config: Settings) -> None:
    """The new-business figures of the period and of its calibration's windows, from one pass over
    the creation spans for all the cutoffs (`new_business.new_business_of_windows`) instead of three
    queries per cutoff. They land in the figure cache, where the forecast's own calls find them.
    Windows whose whole forecast is stored (decision 044) need none; windows already there are not computed again (`forecast` skips this when the calibration is
    stored: a warm forecast needs none of them). The timing tables are not shared so: a stay's
    counts depend on the cutoff, and one query joining the stays with every cutoff cost as much as
    one query per cutoff (decision 042)."""
    windows = [(past, at) for past, at in calibration_windows(period, cutoff)
               if not _time_aware_window.is_stored(scope, past, at, config, True)]
    wanted = [(past, at) for past, at in [*windows, (period, cutoff)]
              if not new_business.new_business.is_stored(scope, past, at, config.lookback_days)]
    if wanted:  # even the period's alone: one pass into arrays is faster than the per-cutoff path's dicts
        new_business.new_business_of_windows(scope, wanted, config.lookback_days)


def _lookup(table: dict, stage_ids: np.ndarray, bucket_lo: np.ndarray) -> np.ndarray:
    """Vectorised (stage, bucket) -> q: one small key array, then a searchsorted per deal."""
    keys = np.array([s * 1000 + lo for (s, lo) in table], dtype=np.int64)
    values = np.array(list(table.values()))
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    wanted = stage_ids * 1000 + bucket_lo
    position = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    return np.where(keys[position] == wanted, values[position], 0.0)


def _simulate(beliefs: list[simulation.Belief], cell: np.ndarray, amounts: np.ndarray, period_spread: float,
              config: Settings) -> np.ndarray:
    """Simulated totals of the period (dealgate.analytics.simulation: shared uncertainty included)."""
    return simulation.simulate(beliefs, cell, amounts, simulations=config.simulations, seed=config.seed,
                               period_spread=period_spread)


def _group_sum(keys: list, values: np.ndarray) -> dict:
    labels, inverse = np.unique(np.array([-1 if k is None else k for k in keys]), return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    return {int(label): _dec(total) for label, total in zip(labels, sums)}


def _dec(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2))).quantize(Decimal("0.01"))


def forecast(scope: Scope, period: Period, cutoff: dt.datetime, methods: tuple[str, ...] = METHODS,
             config: Settings = Settings()) -> dict[str, Any]:
    """Every requested method side by side, each = won so far + from open deals + from new deals
    (the same new-deal figure for every method), with the open deals that had no usable close date."""
    result: dict[str, Any] = {"period": period.label, "as_of": cutoff, "methods": {}}
    calls = {"weighted": lambda: {"expected": weighted_forecast(scope, period, cutoff, config)},
             "time-aware": lambda: time_aware_forecast(scope, period, cutoff, config, with_new=True,
                                                       widen=calibration(scope, period, cutoff, config)["widen"])}
    # Together (dealgate.analytics.together); the time-aware scan also counts the learned
    # probabilities' cohorts, so the historical method comes after it.
    wanted = [m for m in calls if m in methods]
    if "time-aware" in wanted and not calibration.is_stored(scope, period, cutoff, config):
        # cold: the shared new-business pass, beside figures that do not need it: two of the other
        # methods' and, unless the period's own window is stored, that window's timing table and
        # period spread (they would otherwise wait for the pass; decision 049)
        window = [] if _time_aware_window.is_stored(scope, period, cutoff, config, True) else [
            lambda: timing_table(scope, period, cutoff, config),
            lambda: simulation.period_spread(scope, cutoff, config.lookback_days)]
        together(lambda: _new_business_together(scope, period, cutoff, config),
                 lambda: won_so_far(scope, period, cutoff), lambda: due_deals(scope, period, cutoff, config), *window)
    extra = together(lambda: won_so_far(scope, period, cutoff),
                     lambda: new_business.new_business(scope, period, cutoff, config.lookback_days),
                     lambda: due_deals(scope, period, cutoff, config), *(calls[m] for m in wanted))
    already, new, due = extra[:3]
    result["methods"].update(zip(wanted, extra[3:]))
    if "historical" in methods:
        result["methods"]["historical"] = {"expected": historical_forecast(scope, period, cutoff, config)}
    from_new = _dec(new["expected"])
    for name, made in result["methods"].items():
        if name != "time-aware":
            made.update(already_won=already, from_open=made["expected"] - already, from_new=from_new,
                        expected=made["expected"] + from_new)
    if "time-aware" in result["methods"]:
        result["methods"]["time-aware"] = {**result["methods"]["time-aware"],
                                           "calibration": calibration(scope, period, cutoff, config)}
    result["new_business"] = new
    result["close_dates"] = {k: due[k] for k in ("undated", "undated_due", "unknown")}
    return {**result, "methods": {m: result["methods"][m] for m in METHODS if m in result["methods"]}}


def forecast_report(scope: Scope, period: Period, cutoff: dt.datetime, methods: tuple[str, ...] = METHODS,
                    config: Settings = Settings(), groups: tuple[str, ...] = ("owner",)) -> dict[str, Any]:
    """The forecast as the page, the CLI and the API show it: every method side by side, the
    categories per owner (and team) beside the model's number, and each stage's probabilities."""
    # the categories' amounts do not need the forecast: read beside it (`categories` finds them cached)
    result, _ = together(lambda: forecast(scope, period, cutoff, methods, config),
                         lambda: _category_amounts(scope, period, cutoff))
    time_aware = result["methods"].get("time-aware")
    result["categories"] = dict(zip(groups, together(*(
        lambda group=group: categories(scope, period, cutoff, group, config, time_aware=time_aware)
        for group in groups))))
    result["probabilities"] = historical_probabilities(scope, cutoff, config)
    return result


def categories(scope: Scope, period: Period, cutoff: dt.datetime, by: str = "owner",
               config: Settings = Settings(), time_aware: dict | None = None) -> list[dict[str, Any]]:
    """Per owner (or team): won so far, commit, best case and pipeline among open deals expected to
    close by the period end, beside the time-aware model's number and the quota."""
    from django.contrib.auth import get_user_model

    from dealgate.analytics.models import quota_for
    from dealgate.people.models import Team

    rows = _category_rows(scope, period, cutoff, by)
    model = (time_aware or time_aware_forecast(scope, period, cutoff, config))["by_" + by]
    table: dict[Any, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(row["who"], {k: Decimal("0.00") for k in ("won", "commit", "best_case", "pipeline",
                                                                           "omitted")})
        key = "won" if row["kind"] == "won" else row["category"]
        if key in entry:
            entry[key] += money(row["amount_cents"])
    names = ({u.pk: u.get_full_name() or u.username for u in get_user_model().objects.filter(pk__in=list(table))}
             if by == "owner" else {t.pk: t.name for t in Team.objects.filter(pk__in=list(table))})
    result = []
    for who, entry in sorted(table.items(), key=lambda item: names.get(item[0], "")):
        quota = quota_for(scope.narrowed(by, who), period) if who is not None else None
        result.append({
            "id": who, "name": names.get(who, "(none)"), **entry,
            "commit_call": entry["won"] + entry["commit"],
            "best_case_call": entry["won"] + entry["commit"] + entry["best_case"],
            "model": entry["won"] + model.get(who if who is not None else -1, Decimal("0.00")), "quota": quota,
            "attainment": formulas.attainment(entry["won"], quota),
        })
    return result


def _category_rows(scope: Scope, period: Period, cutoff: dt.datetime, by: str) -> list[dict[str, Any]]:
    """Amounts per owner (or team), kind and category: won in the period, open and due by its end.
    Without the quotas `categories` adds (a quota set now must show at once)."""
    column = "owner_id" if by == "owner" else "team_id"
    totals: dict[tuple, int] = {}
    for row in _category_amounts(scope, period, cutoff):
        key = (row[column], row["kind"], row["category"])
        totals[key] = totals.get(key, 0) + (row["amount_cents"] or 0)
    return [{"who": who, "kind": kind, "category": category, "amount_cents": cents}
            for (who, kind, category), cents in totals.items()]


@figure
def _category_amounts(scope: Scope, period: Period, cutoff: dt.datetime) -> list[dict[str, Any]]:
    """Amounts per owner, team, kind and category: won in the period, open and due by its end. One
    scan for both of `categories`' groupings (per owner, per team), which add its rows up."""
    cte, params = state_cte(scope, cutoff)
    params.update(start=ts(period.start), end=ts(period.end), due_by=period.last_day.isoformat())
    return fetch(cte + """
SELECT state.owner_id, state.team_id, state.kind, state.category, SUM(state.amount_cents) AS amount_cents
FROM state
WHERE (state.kind = 'open' AND state.close_date IS NOT NULL AND state.close_date <= %(due_by)s)
   OR (state.kind = 'won' AND state.stage_at >= %(start)s AND state.stage_at < %(end)s)
GROUP BY state.owner_id, state.team_id, state.kind, state.category""", params)


@figure
def commit_accuracy(scope: Scope, period: Period, cutoff: dt.datetime, periods: int = 4) -> list[dict[str, Any]]:
    """For each of the `periods` before `period`: per owner, the commit at the period's start (open
    deals in category commit expected to close by its end) against what the owner won in it."""
    from django.contrib.auth import get_user_model

    def won(past: Period) -> list[dict[str, Any]]:
        cte, params = state_cte(scope, cutoff)
        params.update(start=ts(past.start), end=ts(past.end))
        return fetch(cte + """
SELECT state.owner_id AS who, SUM(state.amount_cents) AS amount_cents FROM state
WHERE state.kind = 'won' AND state.stage_at >= %(start)s AND state.stage_at < %(end)s
GROUP BY state.owner_id""", params)

    pasts = [period.shifted(-step) for step in range(periods, 0, -1)]
    fetched = together(*(call for past in pasts for call in (
        lambda past=past: _commits_at(scope, past, past.start), lambda past=past: won(past))))
    result: dict[int, dict[str, Any]] = {}
    for past, commit_rows, won_rows in zip(pasts, fetched[::2], fetched[1::2]):
        for kind, rows in (("commit", commit_rows), ("won", won_rows)):
            for row in rows:
                entry = result.setdefault(row["who"], {"periods": {}})
                entry["periods"].setdefault(past.label, {"commit": Decimal("0.00"), "won": Decimal("0.00")})
                entry["periods"][past.label][kind] = money(row["amount_cents"])
    names = {u.pk: u.get_full_name() or u.username for u in get_user_model().objects.filter(pk__in=list(result))}
    rows_out = []
    for who, entry in result.items():
        pairs = [(v["commit"], v["won"]) for v in entry["periods"].values()]
        rows_out.append({
            "id": who, "name": names.get(who, str(who)), "periods": entry["periods"],
            "commit_total": sum((c for c, _ in pairs), Decimal("0.00")),
            "won_total": sum((w for _, w in pairs), Decimal("0.00")),
            "mape": formulas.mape(pairs), "bias": formulas.bias(pairs),
        })
    return sorted(rows_out, key=lambda r: r["name"])


@figure(durable=True)
def _commits_at(scope: Scope, period: Period, cutoff: dt.datetime) -> list[dict[str, Any]]:
    """Per owner: the commit at `cutoff` (open deals in category commit expected to close by the
    period's end). `commit_accuracy` asks for it at past periods' starts, so it is kept in the
    database (decision 044): a new process does not scan the deals as of each of them again."""
    cte, params = state_cte(scope, cutoff)
    params.update(due_by=period.last_day.isoformat())
    return fetch(cte + """
SELECT state.owner_id AS who, SUM(state.amount_cents) AS amount_cents FROM state
WHERE state.kind = 'open' AND state.category = 'commit' AND state.close_date IS NOT NULL
  AND state.close_date <= %(due_by)s GROUP BY state.owner_id""", params)
