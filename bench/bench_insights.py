"""Benchmark: the full insights computation for one quarter, plus the forecast, on generated data.

    python bench/bench_insights.py --deals 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h8bench python bench/bench_insights.py --deals 100000

Timed (median of --repeat runs, one pipeline, as of "now"; the data ends the day before the run):
  * insights   everything /insights/ computes: metrics (win rate, size, cycle, velocity, pipeline,
               coverage), funnel (conversion + time in stage), waterfall, bottlenecks (with the
               four trailing quarters). "cold": the figure cache emptied first; "warm": a second
               page view with its own "now" and nothing written in between (the trailing quarters,
               whose cutoff is past, come from the cache; everything as of now is computed again)
  * forecast   the three forecast methods for the next quarter (time-aware with 2,000 simulations)
  * core       the figures the DuckDB reference also computes (outcomes, open pipeline at the
               period's start and end, time in stage), for a like-for-like ratio
Reference: a plain DuckDB script, written independently, computes those core figures over the same
rows exported to CSV (load time excluded); the figures are compared for equality and the ratio
of the medians printed. duckdb is pinned in
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
    """Median of `repeat` cold runs: the figure cache (dealgate.analytics.cache) is emptied before each."""
    from django.core.cache import cache

    samples, result = [], None
    for _ in range(repeat):
        cache.clear()
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def page_times(pipeline, period, repeat: int) -> tuple[float, float]:
    """The whole /insights/ request through Django's test client: cold (cache emptied) and warm."""
    from django.core.cache import cache
    from django.test import Client

    from dealgate.people.models import Profile, Role

    client = Client()
    client.force_login(Profile.objects.filter(role=Role.ADMIN).select_related("user").first().user)
    url = f"/insights/?pipeline={pipeline.pk}&period={period.label}"

    def get() -> float:
        start = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return time.perf_counter() - start

    cold = []
    for _ in range(repeat):
        cache.clear()
        cold.append(get())
    return statistics.median(cold), statistics.median([get() for _ in range(repeat)])


def warm(fn, repeat: int) -> float:
    """Median of `repeat` runs right after a cold one, with nothing written in between: what a second
    viewer of the page waits (past-cutoff figures and figures shared between panels come from the cache)."""
    from django.core.cache import cache

    cache.clear()
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def export_csv(folder: Path) -> None:
    """The rows DuckDB reads: the same tables, straight from the Django database."""
    from django.db import connection

    queries = {
        "deal": "SELECT id, pipeline_id, currency, created_at AS ts FROM deals_deal",
        "stage": "SELECT id, pipeline_id, position, kind FROM pipelines_stage",
        "history": "SELECT id, deal_id, to_stage_id, at AS ts, amount FROM deals_stagehistory",
        "amount_change": "SELECT id, deal_id, at AS ts, new_value FROM deals_fieldchange WHERE field = 'amount'",
    }

    def plain(value):
        """Timestamps as naive UTC text, the same from SQLite and PostgreSQL."""
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return value.isoformat(" ", timespec="microseconds")
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
            return dt.datetime.fromisoformat(value).replace(tzinfo=None).isoformat(" ", timespec="microseconds")
        return value

    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            with (folder / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([c[0] for c in cursor.description])
                while rows := cursor.fetchmany(20_000):
                    writer.writerows([plain(v) for v in row] for row in rows)


DUCKDB_SQL = """
CREATE TABLE deal AS SELECT * FROM read_csv('{d}/deal.csv', header=true, all_varchar=true);
CREATE TABLE stage AS SELECT * FROM read_csv('{d}/stage.csv', header=true, all_varchar=true);
CREATE TABLE history AS SELECT CAST(id AS BIGINT) AS id, CAST(deal_id AS BIGINT) AS deal_id,
  CAST(to_stage_id AS BIGINT) AS to_stage_id, CAST(ts AS TIMESTAMP) AS ts, CAST(NULLIF(amount, '') AS DECIMAL(14,2)) AS amount
  FROM read_csv('{d}/history.csv', header=true, all_varchar=true);
CREATE TABLE amount_change AS SELECT CAST(id AS BIGINT) AS id, CAST(deal_id AS BIGINT) AS deal_id,
  CAST(ts AS TIMESTAMP) AS ts, CAST(NULLIF(new_value, '') AS DECIMAL(14,2)) AS amount
  FROM read_csv('{d}/amount_change.csv', header=true, all_varchar=true);
"""


def duckdb_figures(folder: Path, pipeline_id: int, start: dt.datetime, end: dt.datetime) -> dict:
    """The core figures in plain DuckDB SQL, written independently of dealgate.analytics."""
    import duckdb

    con = duckdb.connect()
    con.execute(DUCKDB_SQL.format(d=folder))
    began = time.perf_counter()
    s, e = f"TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}'", f"TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"
    con.execute(f"""
CREATE TEMP TABLE ev AS
WITH scoped AS (SELECT CAST(id AS BIGINT) AS id FROM deal WHERE pipeline_id = '{pipeline_id}' AND currency = 'EUR'),
e0 AS (
  SELECT h.deal_id, h.ts, 0 AS prio, h.id AS eid, h.to_stage_id AS stage_id, h.amount
  FROM history h JOIN scoped ON scoped.id = h.deal_id
  UNION ALL
  SELECT f.deal_id, f.ts, 1, f.id, NULL, f.amount FROM amount_change f JOIN scoped ON scoped.id = f.deal_id
)
SELECT *, COUNT(stage_id) OVER (PARTITION BY deal_id ORDER BY ts, prio, eid ROWS UNBOUNDED PRECEDING) AS g FROM e0""")
    con.execute("""CREATE TEMP TABLE evs AS SELECT ev.*, MAX(stage_id) OVER (PARTITION BY deal_id, g) AS cur_stage,
                   MAX(CASE WHEN prio = 0 THEN ts END) OVER (PARTITION BY deal_id, g) AS stage_at FROM ev""")

    def state(cutoff: str) -> str:
        return f"""(SELECT * FROM (SELECT evs.*, ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY ts DESC, prio DESC, eid DESC) AS rn
                   FROM evs WHERE ts < {cutoff}) WHERE rn = 1) st JOIN stage k ON CAST(k.id AS BIGINT) = st.cur_stage"""

    figures = {}
    figures["outcomes"] = con.execute(f"""
SELECT k.kind, COUNT(*), SUM(amount) FROM {state(e)}
WHERE k.kind IN ('won', 'lost') AND st.stage_at >= {s} AND st.stage_at < {e}
GROUP BY k.kind ORDER BY k.kind""").fetchall()
    figures["open_end"] = con.execute(f"SELECT COUNT(*), SUM(amount) FROM {state(e)} WHERE k.kind = 'open'").fetchone()
    figures["open_start"] = con.execute(f"SELECT SUM(amount) FROM {state(s)} WHERE k.kind = 'open'").fetchone()
    figures["time_in_stage"] = con.execute(f"""
WITH stays AS (
  SELECT h.to_stage_id, h.ts AS entered, LEAD(h.ts) OVER (PARTITION BY h.deal_id ORDER BY h.ts, h.id) AS left_at
  FROM history h JOIN deal d ON CAST(d.id AS BIGINT) = h.deal_id
  WHERE d.pipeline_id = '{pipeline_id}' AND d.currency = 'EUR' AND h.ts < {e}
)
SELECT to_stage_id, COUNT(*),
       quantile_cont(epoch(left_at - entered) / 86400.0, 0.5), quantile_cont(epoch(left_at - entered) / 86400.0, 0.9)
FROM stays JOIN stage k ON CAST(k.id AS BIGINT) = stays.to_stage_id
WHERE k.kind = 'open' AND left_at IS NOT NULL AND left_at >= {s}
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

    from django.conf import settings

    from dealgate.analytics import forecast, metrics
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_as_of, parse_period
    from dealgate.deals.models import Deal, StageHistory
    from dealgate.pipelines.models import Pipeline

    period = parse_period(args.period)
    # "Now", as the page uses it (no event is later than the generator's TODAY). A cutoff in the past
    # would let the warm runs take every figure from the cache, which a live page cannot.
    cutoff = parse_as_of(None)
    assert cutoff >= parse_as_of(TODAY), "the bench assumes the data ends before the run"
    pipeline = max(Pipeline.objects.all(), key=lambda p: Deal.objects.filter(pipeline=p).count())
    scope = Scope(pipeline_id=pipeline.pk)
    history_rows = StageHistory.objects.count()
    print(f"{database_label()} | {machine_label()} | {total:,} deals, {history_rows:,} history rows | "
          f"pipeline {pipeline.key} | {period.label} as of now (data up to {TODAY})")

    def insights():
        now = parse_as_of(None)  # each page view has its own "now"
        page = metrics.insights(scope, period, now)
        return page["metrics"], page["funnel"], page["waterfall"], page["bottlenecks"]

    insights_s, (m, funnel, flow, _) = timed(insights, args.repeat)
    print(f"insights (metrics + funnel + waterfall + bottlenecks): median {insights_s:.2f} s cold, "
          f"{warm(insights, args.repeat):.2f} s warm")
    def core():
        """The same figures the DuckDB script computes, for a like-for-like ratio."""
        return (metrics.outcomes(scope, period, cutoff), metrics.pipeline_summary(scope, period.end),
                metrics.pipeline_summary(scope, period.start), metrics.time_in_stage(scope, period, cutoff))

    page_cold, page_warm = page_times(pipeline, period, args.repeat)
    print(f"insights page (GET /insights/, admin, template and charts included): median {page_cold:.2f} s cold, "
          f"{page_warm:.2f} s warm")
    core_s, _ = timed(core, args.repeat)
    print(f"core figures (outcomes, pipeline at start and end, time in stage): median {core_s:.2f} s")
    next_quarter = period.shifted(1)
    forecast_s, made = timed(lambda: forecast.forecast(scope, next_quarter, cutoff), args.repeat)
    print(f"forecast {next_quarter.label} (3 methods): median {forecast_s:.2f} s  "
          + ", ".join(f"{k} {v['expected']:,.0f}" for k, v in made["methods"].items()))
    print(f"insights + forecast, cold: {insights_s + forecast_s:.2f} s "
          f"(target at 1,000,000 deals on PostgreSQL: under 3 s; figures computed together by "
          f"{settings.DEALGATE_ANALYTICS_THREADS} thread(s), DEALGATE_ANALYTICS_THREADS)")

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
    print(f"duckdb reference (core figures, data already loaded): {duck['elapsed']:.2f} s; "
          f"dealgate core / duckdb = {core_s / duck['elapsed']:.1f}x")


if __name__ == "__main__":
    main()
