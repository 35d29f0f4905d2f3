from __future__ import annotations

from typing import Any

from dealgate.analytics import metrics
from dealgate.analytics.cli import (
    add_by_argument, add_scope_arguments, fmt_days, fmt_money, fmt_pct, period_and_cutoff, scope_from,
)
from dealgate.cli_support import DealgateCommand, dumps, table

REPORTS = ("metrics", "funnel", "waterfall", "bottlenecks", "review")


class Command(DealgateCommand):
    help = ("Pipeline analytics for a period, from the stage history: metrics (win rate, deal size, cycle, velocity, "
            "pipeline, coverage), funnel (conversion and time in stage), waterfall, bottlenecks.")

    def add_arguments(self, parser):
        parser.add_argument("report", choices=REPORTS, help="which report (review: what changed since --since)")
        parser.add_argument("--since", help="review: YYYY-MM-DD, default 7 days before --as-of")
        add_scope_arguments(parser)
        add_by_argument(parser)

    def handle(self, *args, report, **options):
        scope = scope_from(options)
        period, cutoff = period_and_cutoff(options)
        if report == "review":
            return self.review(scope, cutoff, options)
        groups = [(None, "All", scope)]
        if options["by"]:
            groups = [(value, label, scope.narrowed(options["by"], value))
                      for value, label in metrics.distinct_cut_values(scope, options["by"])]
        compute = {"metrics": metrics.period_metrics, "funnel": metrics.funnel, "waterfall": metrics.waterfall,
                   "bottlenecks": metrics.bottlenecks}[report]
        results = [(label, compute(s, period, cutoff)) for _, label, s in groups]
        if options["json"]:
            payload: Any = {"report": report, "period": period.label, "as_of": cutoff, "by": options["by"],
                            "groups": [{"name": label, "result": r} for label, r in results]}
            self.stdout.write(dumps(payload))
            return
        self.stdout.write(f"{report.capitalize()} for {period.label}, as of {cutoff:%Y-%m-%d %H:%M} UTC, "
                          f"in {scope.currency}\n")
        getattr(self, f"print_{report}")(results, options["by"])

    def print_metrics(self, results, by):
        headers = [by or "", "Won", "Lost", "Win rate", "Won amount", "Avg deal", "Cycle mean", "Cycle median",
                   "Open", "Pipeline", "Weighted", "Velocity/day", "Quota", "Coverage"]
        rows = [[label, r["won"], r["lost"], fmt_pct(r["win_rate"]), fmt_money(r["won_amount"]),
                 fmt_money(r["avg_deal_size"]), fmt_days(r["cycle_mean_days"]), fmt_days(r["cycle_median_days"]),
                 f"{r['open_deals']:,}", fmt_money(r["pipeline"]), fmt_money(r["weighted_pipeline"]),
                 fmt_money(r["velocity_per_day"]), fmt_money(r["quota"]),
                 f"{r['coverage']:.2f}x" if r["coverage"] is not None else "—"] for label, r in results]
        self.stdout.write(table(headers, rows, right=range(1, 14)))

    def print_funnel(self, results, by):
        for label, rows in results:
            if by:
                self.stdout.write(f"\n{by}: {label}")
            several = len({r["pipeline"] for r in rows}) > 1
            headers = ["Stage", "Entered", "Advanced", "Conversion", "Stage-to-win", "Median d", "P75 d", "P90 d",
                       "Open", "Open amount", "Open age med d"]
            body = [[f"{r['pipeline']}: {r['stage']}" if several else r["stage"], f"{r['entered']:,}", f"{r['advanced']:,}", fmt_pct(r["conversion"]),
                     fmt_pct(r["stage_to_win"]), fmt_days(r["median_days"]), fmt_days(r["p75_days"]),
                     fmt_days(r["p90_days"]), f"{r['open_deals']:,}", fmt_money(r["open_amount"]),
                     fmt_days(r["open_age_median"])] for r in rows]
            self.stdout.write(table(headers, body, right=range(1, 11)))

    def print_waterfall(self, results, by):
        keys = ("opening", "created", "moved_in", "moved_out", "won", "lost", "amount_changes", "closing")
        signs = {"moved_out": "-", "won": "-", "lost": "-"}
        headers = [by or "", *[("- " if k in signs else "") + k.replace("_", " ") for k in keys], "Adds up"]
        rows = [[label, *[fmt_money(r[k]) for k in keys], "yes" if r["adds_up"] else "NO"] for label, r in results]
        self.stdout.write(table(headers, rows, right=range(1, 9)))

    def print_bottlenecks(self, results, by):
        for label, r in results:
            if by:
                self.stdout.write(f"\n{by}: {label}")
            for sentence in r["sentences"]:
                self.stdout.write(f"* {sentence}")
            headers = ["Stage", "Conversion", f"Trailing ({r['trailing']})", "Median d", "Trailing median d",
                       "Open", "Share of open"]
            body = [[s["stage"], fmt_pct(s["conversion"]), fmt_pct(s["trailing_conversion"]),
                     fmt_days(s["median_days"]), fmt_days(s["trailing_median_days"]), f"{s['open_deals']:,}",
                     fmt_pct(s["open_share"])] for s in r["stages"]]
            self.stdout.write(table(headers, body, right=range(1, 7)))

    def review(self, scope, cutoff, options):
        import datetime as dt

        from dealgate.analytics.periods import parse_as_of

        since = parse_as_of(options["since"]) - dt.timedelta(days=1) if options.get("since") \
            else cutoff - dt.timedelta(days=7)
        rows = metrics.weekly_review(scope, since, cutoff)
        if options["json"]:
            self.stdout.write(dumps({"since": since, "until": cutoff, "owners": rows}))
            return
        self.stdout.write(f"What changed from {since:%Y-%m-%d} to {cutoff:%Y-%m-%d %H:%M} UTC\n")
        headers = ["Owner", "New", "Advanced", "Moved back", "Reopened", "Won", "Lost", "Close date slipped",
                   "Amount changed", "No next step", "Next step overdue"]
        keys = ("created", "forward", "backward", "reopened", "won", "lost", "close_date_slipped", "amount_changed",
                "no_next_step", "next_step_overdue")
        self.stdout.write(table(headers, [[r["name"], *[f"{r[k]:,}" for k in keys]] for r in rows],
                                right=range(1, 11)))
