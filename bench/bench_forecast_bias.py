"""Why the time-aware forecast from open deals runs high (issue 15): on one planted pipeline, per month start.

    python bench/bench_forecast_bias.py [--per-day 8]

Plants the 50% set of bench_forecast_accuracy.py (`plant(2, 0.5, per_day, 17)`) into its own SQLite
database (bench/.data/forecast_bias; generated once), then for each month from 2026-02 to 2026-10,
as of its first day, sums over the deals open then (amount x q):

  table   q from the timing table, as the forecast does: the deal's stage and age bucket (the stays
          that lasted at least the bucket's lower bound, the window counted from that bound)
  exact   q learned at the deal's own age: the look-back stays of its stage that lasted at least as
          long as it has been in the stage and were watched past that age + the window, the raw
          share that won inside the window counted from that age (the table's q below 20 stays)
  actual  what those deals won in the month

split into deals under 7 days in their stage and older ones. Prints one row per month and the totals.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup, machine_label  # noqa: E402

UTC = dt.timezone.utc
MONTHS = ("2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")


def _at(value) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=float, default=8.0)
    args = parser.parse_args()
    django_setup("forecast_bias")
    import numpy as np
    from bench_forecast_accuracy import plant

    from dealgate.analytics import forecast
    from dealgate.analytics.history import Scope, fetch_rows, ts
    from dealgate.analytics.periods import parse_period
    from dealgate.pipelines.models import Pipeline

    if not Pipeline.objects.filter(key="planted-2").exists():
        plant(2, 0.5, args.per_day, 17)
    pipeline_id = Pipeline.objects.get(key="planted-2").pk
    scope = Scope(pipeline_id=pipeline_id)
    stays = [(row[0], *map(_at, row[1:])) for row in fetch_rows(
        "SELECT stage_id, starts_at, next_move_at, next_won_at, next_lost_at FROM deals_statespan "
        "WHERE pipeline_id = %(p)s AND history_id IS NOT NULL AND stage_kind = 'open'", {"p": pipeline_id})]
    totals = np.zeros((2, 3))  # (young, older) x (table, exact, actual)
    print("month | open deals | table | exact | actual | under 7 days: table / exact / actual | older: same")
    for month in MONTHS:
        period = parse_period(month)
        cutoff, lookback = period.start, period.start - dt.timedelta(days=365)
        w0, w1 = forecast._window_days(period, cutoff)
        table = forecast.timing_table(scope, period, cutoff)
        by_stage: dict[int, list] = {}
        for stage_id, start, moved, won, lost in stays:  # (duration, watched, days to the win) per stay
            if lookback <= start < cutoff:
                left = moved if moved is not None and moved < cutoff else cutoff
                win = won is not None and won < cutoff and (lost is None or won < lost)
                by_stage.setdefault(stage_id, []).append((
                    (left - start).total_seconds() / 86400, (cutoff - start).total_seconds() / 86400,
                    (won - start).total_seconds() / 86400 if win else np.nan))
        arrays = {stage_id: np.array(rows) for stage_id, rows in by_stage.items()}
        sums = np.zeros((2, 3))
        open_rows = fetch_rows(
            "SELECT stage_id, stage_entered_at, amount_cents, next_won_at, next_lost_at FROM deals_statespan "
            "WHERE pipeline_id = %(p)s AND stage_kind = 'open' AND starts_at < %(c)s AND ends_at >= %(c)s "
            "AND amount_cents IS NOT NULL", {"p": pipeline_id, "c": ts(cutoff)})
        for stage_id, entered, cents, won, lost in open_rows:
            age, amount = (cutoff - _at(entered)).total_seconds() / 86400, cents / 100
            q_table = table[(stage_id, max(lo for lo in forecast.AGE_BUCKETS if lo <= age))].q
            q_exact, stage = q_table, arrays.get(stage_id)
            if stage is not None:
                eligible = (stage[:, 0] >= age) & (stage[:, 1] >= age + w1)
                if eligible.sum() >= 20:
                    hits = eligible & (stage[:, 2] >= age + w0) & (stage[:, 2] < age + w1)
                    q_exact = hits.sum() / eligible.sum()
            won, lost = _at(won), _at(lost)
            won_in = won is not None and period.start <= won < period.end and (lost is None or won < lost)
            sums[int(age >= 7)] += (amount * q_table, amount * q_exact, amount * won_in)
        totals += sums
        table_sum, exact_sum, actual = sums.sum(axis=0)
        print(f"{month} | {len(open_rows)} | {table_sum:,.0f} ({table_sum / actual - 1:+.0%}) | "
              f"{exact_sum:,.0f} ({exact_sum / actual - 1:+.0%}) | {actual:,.0f} | "
              + " | ".join(" / ".join(f"{v:,.0f}" for v in part) for part in sums), flush=True)
    table_sum, exact_sum, actual = totals.sum(axis=0)
    print(f"total | | {table_sum:,.0f} ({table_sum / actual - 1:+.1%}) | {exact_sum:,.0f} "
          f"({exact_sum / actual - 1:+.1%}) | {actual:,.0f} | "
          + " | ".join(" / ".join(f"{v:,.0f}" for v in part) for part in totals))
    print(machine_label())


if __name__ == "__main__":
    main()
