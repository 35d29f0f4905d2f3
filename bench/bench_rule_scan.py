"""Benchmark: the worker's time-based scans (idle deals, passed close dates, overdue tasks) at N deals.

    python bench/bench_rule_scan.py --deals 1000000 --generate 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/auto_finish_bench python bench/bench_rule_scan.py --deals 1000000

Data: `--generate` demo deals (the demo generator: a believable year of a sales team, so a
believable share of open deals and their dates), then copies of those deal rows until the table
holds `--deals` deals (`INSERT ... SELECT` of the rows there, each copy's stage-entry and activity
times moved back by 7 more minutes so the copies do not all cross a threshold at the same instant). The scans read only
deals, tasks and rule runs, so the copies carry no history. One open task per 10 open deals, due
between 30 days ago and 30 days ahead. Rules: the templates' stale-deal and close-date rules (one
per pipeline) and an "overdue task" rule.

Steady state first: every occurrence already due is claimed (rule runs written in bulk, as the
earlier scans would have; then ANALYZE on PostgreSQL, as autovacuum would do after such inserts),
so the timings below are the scans a running worker does:
  * full scan      what a new or edited rule, an import or the daily sweep runs: every open deal
                   read, every handled one skipped;
  * +5 min, +1 h, overnight
                   incremental scans: only what crossed a threshold since the previous scan, and
                   the rules' actions for those deals (a notification each);
Then the same full scan with the scan-only indexes dropped, for comparison (`--compare-indexes`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from _setup import database_label, django_setup, ensure_deals, machine_label

COPY_COLUMNS = ["title", "amount", "currency", "expected_close_date", "probability_override", "forecast_category",
                "source", "next_step", "next_step_due", "created_at", "stage_entered_at", "last_activity_at",
                "closed_at", "lost_note", "close_date_slips", "custom_fields", "version", "account_id",
                "lost_reason_id", "owner_id", "pipeline_id", "stage_id", "team_id"]


def pad_deals(target: int) -> int:
    """Copy the generated deal rows until the table holds `target` deals."""
    from django.db import connection

    from dealgate.deals.models import Deal

    have = originals = Deal.objects.count()
    last_original = Deal.objects.order_by("-id").values_list("id", flat=True)[:1][0] if have else 0
    copy = 0
    while have < target:
        copy += 1
        limit = min(originals, target - have)
        shift = f"{copy * 7} minutes"
        moved = {
            "postgresql": lambda col: f"{col} - interval '{shift}'",
            "sqlite": lambda col: f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {col}, '-{shift}')",  # %% : the SQL has parameters
        }[connection.vendor]
        select = [moved(c) if c in ("stage_entered_at", "last_activity_at") else c for c in COPY_COLUMNS]
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO deals_deal ({', '.join(COPY_COLUMNS)}) SELECT {', '.join(select)} "
                           f"FROM deals_deal WHERE id <= %s ORDER BY id LIMIT %s", [last_original, limit])
        have += limit
        print(f"  padded to {have:,} deals", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE deals_deal")
    return have


def ensure_tasks(now: dt.datetime) -> int:
    from dealgate.automation.models import Task
    from dealgate.deals.models import Deal

    if Task.objects.exists():
        return Task.objects.filter(done=False).count()
    today = now.date()
    rows = []
    for n, (deal_id, owner_id, account_id) in enumerate(
            Deal.objects.filter(closed_at__isnull=True).order_by("id").values_list("id", "owner_id", "account_id")):
        if n % 10 == 0:
            rows.append(Task(title="Call back", deal_id=deal_id, account_id=account_id, assignee_id=owner_id,
                             due=today + dt.timedelta(days=(n // 10) % 61 - 30), created_at=now))
    Task.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def ensure_rules() -> list:
    from dealgate.automation import services
    from dealgate.automation.models import SCAN_TRIGGERS, Rule

    if not Rule.objects.filter(trigger="task_overdue").exists():
        services.create_rule(by=None, name="Overdue task", trigger="task_overdue",
                             actions=[{"type": "notify", "title": "A task on {deal} is overdue"}])
    return list(Rule.objects.filter(enabled=True, trigger__in=SCAN_TRIGGERS).order_by("id"))


def claim_all_due(rules: list, now: dt.datetime) -> int:
    """Write the rule runs the earlier scans would have written (steady state), in bulk."""
    from dealgate.automation import scans
    from dealgate.automation.models import Rule, RuleRun

    finders = {"deal_idle": scans._idle, "close_date_passed": scans._close_date_passed,
               "task_overdue": scans._overdue_tasks}
    scans.CHUNK, chunk = 20_000, scans.CHUNK
    claimed = 0
    try:
        for rule in rules:
            while batch := finders[rule.trigger](rule, now, None):
                RuleRun.objects.bulk_create([RuleRun(rule=rule, deal=deal, trigger=rule.trigger, occurrence=occ, at=now,
                                                     outcome="done") for deal, occ in batch], batch_size=5000)
                claimed += len(batch)
            Rule.objects.filter(pk=rule.pk).update(scanned_until=now, swept_at=now)
    finally:
        scans.CHUNK = chunk
    return claimed


def timed_scan(label: str, now: dt.datetime, *, full: bool = False) -> None:
    """One `run_scans(now)`, as the worker calls it; first, apart, the finding: each rule's first
    query for what is due (up to 500 deals), without acting."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate.automation import scans
    from dealgate.automation.models import SCAN_TRIGGERS, Rule, RuleRun

    if full:
        Rule.objects.filter(trigger__in=SCAN_TRIGGERS).update(scanned_until=None, swept_at=None)
    finders = {"deal_idle": scans._idle, "close_date_passed": scans._close_date_passed,
               "task_overdue": scans._overdue_tasks}
    start = time.perf_counter()
    due = sum(len(finders[rule.trigger](rule, now, scans.window_start(rule, now)))
              for rule in Rule.objects.filter(enabled=True, trigger__in=SCAN_TRIGGERS))
    finding = time.perf_counter() - start
    runs = RuleRun.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        acted = scans.run_scans(now)
        seconds = time.perf_counter() - start
    per_action = f"; {seconds / acted * 1000:.0f} ms per rule run" if acted else ""
    print(f"{label:38s} finding {finding:6.2f} s ({due:,} due) | whole scan {seconds:7.2f} s, "
          f"{len(ctx.captured_queries):6,d} queries, {acted:,} rules acted{per_action} "
          f"({RuleRun.objects.count() - runs:,} runs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--generate", type=int, default=20_000, help="demo deals to generate before copying")
    parser.add_argument("--compare-indexes", action="store_true",
                        help="also time the full scan without the partial indexes for open deals and tasks")
    args = parser.parse_args()
    django_setup("rule_scan")
    from django.utils import timezone

    from dealgate.automation.models import RuleRun
    from dealgate.deals.models import Deal

    ensure_deals(args.generate)
    total = pad_deals(args.deals)
    now = timezone.now().replace(microsecond=0)
    tasks = ensure_tasks(now)
    rules = ensure_rules()
    if not RuleRun.objects.exists():
        start = time.perf_counter()
        claimed = claim_all_due(rules, now)
        print(f"steady state: {claimed:,} occurrences already due claimed in {time.perf_counter() - start:.1f} s")
    from django.db import connection

    if connection.vendor == "postgresql":  # what autovacuum does within a minute of such inserts
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE automation_rulerun; ANALYZE automation_task; ANALYZE deals_deal")
    open_deals = Deal.objects.filter(closed_at__isnull=True).count()
    print(f"database: {database_label()}; deals: {total:,} ({open_deals:,} open); open tasks: {tasks:,}; "
          f"scan rules: {len(rules)}; rule runs: {RuleRun.objects.count():,}; machine: {machine_label()}")
    timed_scan("full scan (new rule / daily sweep)", now, full=True)
    timed_scan("full scan, again", now, full=True)
    timed_scan("incremental, nothing new", now + dt.timedelta(seconds=1))
    timed_scan("incremental, +5 min", now + dt.timedelta(minutes=5))
    timed_scan("incremental, +1 h", now + dt.timedelta(hours=1, minutes=5))
    timed_scan("incremental, overnight (+16 h)", now + dt.timedelta(hours=17, minutes=5))
    if args.compare_indexes:  # as before the incremental scans: every scan a full one, no partial index
        from django.db import connection

        from dealgate.automation.models import Task

        indexes = [(model, index) for model in (Deal, Task) for index in model._meta.indexes
                   if index.name in ("deal_open_quiet_idx", "deal_open_close_date_idx", "task_open_due_idx")]
        with connection.schema_editor() as editor:
            for model, index in indexes:
                editor.remove_index(model, index)
        try:
            timed_scan("full scan without the partial indexes", now + dt.timedelta(hours=17, minutes=10), full=True)
        finally:
            with connection.schema_editor() as editor:
                for model, index in indexes:
                    editor.add_index(model, index)


if __name__ == "__main__":
    main()
