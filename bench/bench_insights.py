"""Benchmark: the full insights computation for one quarter, plus the forecast, on generated data.

    python bench/bench_insights.py --deals 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h8bench python bench/bench_insights.py --deals 100000

Timed (median of --repeat runs, whole company, one pipeline):
  * insights   everything /insights/ computes: metrics (win rate, size, cycle, velocity, pipeline,
               coverage), funnel (conversion + time in stage), waterfall, bottlenecks (with the
               four trailing quarters)
  * forecast   the three forecast methods for the next quarter (time-aware with 2,000 simulations)
Reference: a plain DuckDB script computes the core figures (outcomes, open pipeline by stage,
waterfall flows, conversion cohort, time-in-stage percentiles) over the same rows exported to CSV;
the figures are compared for equality and the time ratio printed. duckdb is pinned in
bench/requirements.txt (benchmarks only).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from _setup import database_label, django_setup, machine_label

TODAY = dt.date(2026, 11, 24)


def ensure(deals: int, seed: int) -> int:
    from dealgate.deals.models import Deal

    have = Deal.objects.count()
    if have < deals:
        from dealgate.demo.generator import generate

        print(f"generating {deals - have:,} demo deals...", flush=True)
        generate(deals=deals - have, seed=seed + have, today=TODAY)
    return Deal.objects.count()


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def export_csv(folder: Path) -> None:
    """The rows DuckDB reads: the same tables, straight from the Django database."""
    from django.db import connection

    queries = {
        "deal": "SELECT id, pipeline_id, currency, created_at FROM deals_deal",
        "stage": "SELECT id, pipeline_id, position, kind FROM pipelines_stage",
        "history": "SELECT id, deal_id, to_stage_id, at, amount FROM deals_stagehistory",
        "amount_change": "SELECT id, deal_id, at, new_value FROM deals_fieldchange WHERE field = 'amount'",
    }
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            with (folder / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([c[0] for c in cursor.description])
                while rows := cursor.fetchmany(20_000):
                    writer.writerows(rows)


DUCKDB_SQL = """
CREATE TABLE deal AS SELECT * FROM read_csv_auto('{d}/deal.csv', timestampformat='%Y-%m-%d %H:%M:%S.%f%z');
CREATE TABLE stage AS SELECT * FROM read_csv_auto('{d}/stage.csv');
CREATE TABLE history AS SELECT * FROM read_csv_auto('{d}/history.csv');
CREATE TABLE amount_change AS SELECT * FROM read_csv_auto('{d}/amount_change.csv', all_varchar=true);
"""


def duckdb_figures(folder: Path, pipeline_id: int, start: dt.datetime, end: dt.datetime) -> dict:
    """The core figures in plain DuckDB SQL, written independently of dealgate.analytics."""
    import duckdb

    con = duckdb.connect()
    con.execute(DUCKDB_SQL.format(d=folder))
    began = time.perf_counter()
    s, e = start.replace(tzinfo=None), end.replace(tzinfo=None)
    con.execute(f"""
CREATE TEMP TABLE ev AS
WITH scoped AS (SELECT id FROM deal WHERE pipeline_id = {pipeline_id} AND currency = 'EUR'),
e0 AS (
  SELECT h.deal_id, CAST(h.at AS TIMESTAMP) AS at, 0 AS prio, h.id AS eid, h.to_stage_id AS stage_id,
         CAST(h.amount AS DECIMAL(14,2)) AS amount FROM history h JOIN scoped ON scoped.id = h.deal_id
  UNION ALL
  SELECT CAST(f.deal_id AS BIGINT), CAST(f.at AS TIMESTAMP), 1, CAST(f.id AS BIGINT), NULL,
         CAST(NULLIF(f.new_value, '') AS DECIMAL(14,2)) FROM amount_change f JOIN scoped ON scoped.id = CAST(f.deal_id AS BIGINT)
)
SELECT *, COUNT(stage_id) OVER (PARTITION BY deal_id ORDER BY at, prio, eid ROWS UNBOUNDED PRECEDING) AS g FROM e0
""")
    con.execute("""CREATE TEMP TABLE evs AS SELECT ev.*, MAX(stage_id) OVER (PARTITION BY deal_id, g) AS cur_stage,
                   MAX(CASE WHEN prio = 0 THEN at END) OVER (PARTITION BY deal_id, g) AS stage_at FROM ev""")

    def state(cutoff: dt.datetime) -> str:
        return f"""(SELECT * FROM (SELECT evs.*, ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY at DESC, prio DESC, eid DESC) AS rn
                   FROM evs WHERE at < TIMESTAMP '{cutoff:%Y-%m-%d %H:%M:%S}') WHERE rn = 1) st JOIN stage k ON k.id = st.cur_stage"""

    figures = {}
    figures["outcomes"] = con.execute(f"""
SELECT k.kind, COUNT(*), SUM(amount) FROM {state(e)}
WHERE k.kind IN ('won', 'lost') AND st.stage_at >= TIMESTAMP '{s}' AND st.stage_at < TIMESTAMP '{e}'
GROUP BY k.kind ORDER BY k.kind""").fetchall()
    figures["open_end"] = con.execute(f"SELECT COUNT(*), SUM(amount) FROM {state(e)} WHERE k.kind = 'open'").fetchone()
    figures["open_start"] = con.execute(f"SELECT SUM(amount) FROM {state(s)} WHERE k.kind = 'open'").fetchone()
    figures["time_in_stage"] = con.execute(f"""
WITH stays AS (
  SELECT h.to_stage_id, CAST(h.at AS TIMESTAMP) AS entered,
         LEAD(CAST(h.at AS TIMESTAMP)) OVER (PARTITION BY h.deal_id ORDER BY h.at, h.id) AS left_at
  FROM history h JOIN deal d ON d.id = h.deal_id
  WHERE d.pipeline_id = {pipeline_id} AND d.currency = 'EUR' AND CAST(h.at AS TIMESTAMP) < TIMESTAMP '{e}'
)
SELECT to_stage_id, COUNT(*),
       quantile_cont(epoch(left_at - entered) / 86400.0, 0.5), quantile_cont(epoch(left_at - entered) / 86400.0, 0.9)
FROM stays JOIN stage k ON k.id = stays.to_stage_id
WHERE k.kind = 'open' AND left_at IS NOT NULL AND left_at >= TIMESTAMP '{s}'
GROUP BY to_stage_id ORDER BY to_stage_id""").fetchall()
    elapsed = time.perf_counter() - began
    return {"elapsed": elapsed, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--period", default="2026-Q3")
    args = parser.parse_args()
    django_setup("insights")
    total = ensure(args.deals, args.seed)

    from dealgate.analytics import forecast, metrics
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_as_of, parse_period
    from dealgate.deals.models import Deal, StageHistory
    from dealgate.pipelines.models import Pipeline

    period = parse_period(args.period)
    cutoff = parse_as_of(TODAY)
    pipeline = max(Pipeline.objects.all(), key=lambda p: Deal.objects.filter(pipeline=p).count())
    scope = Scope(pipeline_id=pipeline.pk)
    history_rows = StageHistory.objects.count()
    print(f"{database_label()} | {machine_label()} | {total:,} deals, {history_rows:,} history rows | "
          f"pipeline {pipeline.key} | {period.label} as of {TODAY}")

    def insights():
        return (metrics.period_metrics(scope, period, cutoff), metrics.funnel(scope, period, cutoff),
                metrics.waterfall(scope, period, cutoff), metrics.bottlenecks(scope, period, cutoff))

    insights_s, (m, funnel, flow, _) = timed(insights, args.repeat)
    print(f"insights (metrics + funnel + waterfall + bottlenecks): median {insights_s:.2f} s")
    next_quarter = period.shifted(1)
    forecast_s, made = timed(lambda: forecast.forecast(scope, next_quarter, cutoff), args.repeat)
    print(f"forecast {next_quarter.label} (3 methods): median {forecast_s:.2f} s  "
          + ", ".join(f"{k} {v['expected']:,.0f}" for k, v in made["methods"].items()))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export_csv(folder)
        duck = duckdb_figures(folder, pipeline.pk, period.start, period.end)
    outcomes = {kind: (count, amount) for kind, count, amount in duck["outcomes"]}
    checks = {
        "won deals": (m["won"], outcomes.get("won", (0, 0))[0]),
        "won amount": (m["won_amount"], outcomes.get("won", (0, 0))[1]),
        "lost deals": (m["lost"], outcomes.get("lost", (0, 0))[0]),
        "open deals at end": (m["open_deals"], duck["open_end"][0]),
        "closing pipeline": (flow["closing"], duck["open_end"][1]),
        "opening pipeline": (flow["opening"], duck["open_start"][0]),
        "finished stays": (sum(r["stays"] for r in funnel), sum(r[1] for r in duck["time_in_stage"])),
    }
    for name, (ours, theirs) in checks.items():
        print(f"  check {name:<18} dealgate {ours!s:>14}  duckdb {theirs!s:>14}  {'same' if ours == theirs else 'DIFFERENT'}")
    print(f"duckdb reference (core figures): {duck['elapsed']:.2f} s; "
          f"dealgate insights / duckdb = {insights_s / duck['elapsed']:.1f}x")


if __name__ == "__main__":
    main()
