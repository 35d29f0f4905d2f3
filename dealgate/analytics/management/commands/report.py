from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from dealgate.analytics import metrics
from dealgate.analytics.cli import (
    add_by_argument, add_scope_arguments, fmt_days, fmt_money, fmt_pct, fmt_ratio, period_and_cutoff, print_left_out,
    scope_from,
)
from dealgate.analytics.left_out import other_currencies
from dealgate.analytics.signal_conversion import signal_conversion
from dealgate.cli_support import DealgateCommand, acting_user, dumps, table
from dealgate.errors import DealgateError

REPORTS = ("metrics", "funnel", "waterfall", "bottlenecks", "review", "signals")
SIGNAL_CUTS = ("owner", "team", "segment")  # signals belong to accounts: pipeline and source do not apply


class Command(DealgateCommand):
    help = ("Pipeline analytics for a period, from the stage history: metrics (win rate, deal size, cycle, velocity, "
            "pipeline, coverage), funnel (conversion and time in stage), waterfall, bottlenecks, review (what changed in a "
            "week per owner and team, against the week before), signals (how many signals became deals, by the "
            "period they were raised in).")

    def add_arguments(self, parser):
        parser.add_argument("report", choices=REPORTS, help="which report (review: what changed since --since)")
        parser.add_argument("--since", help="review: YYYY-MM-DD, default 7 days before --as-of")
        parser.add_argument("--week", help="review: an ISO week such as 2026-W48 (Monday to Sunday in the "
                                           "configured time zone), against the week before")
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
        if report == "signals" and (options["by"] not in (None, *SIGNAL_CUTS) or options.get("pipeline")
                                    or options.get("source")):
            raise CommandError("The signals report is about accounts: it takes --owner, --team, --segment and "
                               f"--by {', '.join(SIGNAL_CUTS)}, not a pipeline or a deal source.")
        viewer = acting_user(options.get("user") or "")
        compute = {"metrics": metrics.period_metrics, "funnel": metrics.funnel, "waterfall": metrics.waterfall,
                   "bottlenecks": metrics.bottlenecks,
                   "signals": lambda s, p, c: signal_conversion(viewer, s, p, c)}[report]
        results = [(label, compute(s, period, cutoff)) for _, label, s in groups]
        if options["json"]:
            payload: Any = {"report": report, "period": period.label, "as_of": cutoff, "by": options["by"],
                            "left_out": other_currencies(scope),
                            "groups": [{"name": label, "result": r} for label, r in results]}
            self.stdout.write(dumps(payload))
            return
        self.stdout.write(f"{report.capitalize()} for {period.label}, as of {cutoff:%Y-%m-%d %H:%M} UTC, "
                          f"in {scope.currency}\n")
        print_left_out(self.stdout, scope)
        getattr(self, f"print_{report}")(results, options["by"])

    def print_metrics(self, results, by):
        headers = [by or "", "Won", "Lost", "Win rate", "Won amount", "Avg deal", "Cycle mean", "Cycle median",
                   "Open", "Pipeline", "Weighted", "Velocity/day", "Quota", "Coverage", "Attainment"]
        rows = [[label, r["won"], r["lost"], fmt_pct(r["win_rate"]), fmt_money(r["won_amount"]),
                 fmt_money(r["avg_deal_size"]), fmt_days(r["cycle_mean_days"]), fmt_days(r["cycle_median_days"]),
                 f"{r['open_deals']:,}", fmt_money(r["pipeline"]), fmt_money(r["weighted_pipeline"]),
                 fmt_money(r["velocity_per_day"]), fmt_money(r["quota"]),
                 fmt_ratio(r["coverage"]), fmt_pct(r["attainment"])] for label, r in results]
        self.stdout.write(table(headers, rows, right=range(1, 15)))

    def print_signals(self, results, by):
        """One row per period the signals were raised in: converted / decided (converted + dismissed)."""
        for label, rows in results:
            if by:
                self.stdout.write(f"\n{by}: {label}")
            headers = ["Raised in", "Raised", "Converted", "Dismissed", "Still open", "Conversion rate",
                       "Converted revenue"]
            body = [[r["period"], f"{r['raised']:,}", f"{r['converted']:,}", f"{r['dismissed']:,}", f"{r['open']:,}",
                     fmt_pct(r["rate"]), fmt_money(r["converted_revenue"])] for r in rows]
            self.stdout.write(table(headers, body, right=range(1, 7)))

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
            headers = ["Stage", f"Moved on in {r['window_days']} d", f"Trailing ({r['trailing']})", "Median d",
                       "Trailing median d", "Open", "Share of open"]
            body = [[s["stage"], fmt_pct(s["aged_conversion"]), fmt_pct(s["trailing_conversion"]),
                     fmt_days(s["median_days"]), fmt_days(s["trailing_median_days"]), f"{s['open_deals']:,}",
                     fmt_pct(s["open_share"])] for s in r["stages"]]
            self.stdout.write(table(headers, body, right=range(1, 7)))

    def review(self, scope, cutoff, options):
        """What changed in a week (--week) or since a day (--since, default 7 days before --as-of),
        per owner and team, against the window just before (dealgate.analytics.review)."""
        import datetime as dt

        from dealgate.analytics.periods import parse_as_of
        from dealgate.analytics.review import currency_words, parse_week, pipeline_review

        previous = None
        try:
            if options.get("week"):
                week = parse_week(options["week"])
                since, cutoff = week.start, week.end
                previous = (week.shifted(-1).start, week.start)
            elif options.get("since"):
                since = parse_as_of(options["since"]) - dt.timedelta(days=1)
            else:
                since = cutoff - dt.timedelta(days=7)
        except DealgateError as exc:
            raise CommandError(exc.message) from None
        if since >= cutoff:
            raise CommandError("--since must be a day before --as-of.")
        review = pipeline_review(scope, since, cutoff, previous=previous)
        if options["json"]:
            self.stdout.write(dumps({"since": since, "until": cutoff, "owners": review["owners"],
                                     "teams": review["teams"], "total": review["total"],
                                     "previous_since": review["previous_since"],
                                     "previous_until": review["previous_until"]}))
            return
        self.stdout.write(f"What changed from {since:%Y-%m-%d %H:%M} to {cutoff:%Y-%m-%d %H:%M} UTC, "
                          f"{currency_words(scope)}; the row 'Window before' is "
                          f"{review['previous_since']:%Y-%m-%d %H:%M} "
                          f"to {review['previous_until']:%Y-%m-%d %H:%M}\n")
        total = review["total"]
        owners = [[r["name"], r["team"], *self._review_cells(r)] for r in review["owners"]]
        owners += [["Total", "", *self._review_cells(total)], ["Window before", "", *self._review_cells(total["previous"])]]
        self.stdout.write(table(["Owner", "Team", *REVIEW_HEADERS], owners, right=range(2, 2 + len(REVIEW_HEADERS))))
        teams = [[r["name"], *self._review_cells(r)] for r in review["teams"]]
        teams += [[f"{r['name']}, window before", *self._review_cells(r["previous"])] for r in review["teams"]]
        self.stdout.write("")
        self.stdout.write(table(["Team", *REVIEW_HEADERS], teams, right=range(1, 1 + len(REVIEW_HEADERS))))

    @staticmethod
    def _review_cells(row):
        return [*(f"{row[k]:,}" if not k.endswith("_amount") else fmt_money(row[k]) for k in REVIEW_KEYS),
                *("—" if row.get(k) is None else f"{row[k]:,}" for k in TODAY_KEYS)]


REVIEW_KEYS = ("created", "created_amount", "forward", "backward", "reopened", "won", "won_amount", "lost",
               "lost_amount", "close_date_slipped", "amount_changed", "went_stale")
TODAY_KEYS = ("no_next_step", "next_step_overdue")
REVIEW_HEADERS = ["New", "New amount", "Advanced", "Moved back", "Reopened", "Won", "Won amount", "Lost",
                  "Lost amount", "Close date slipped", "Amount changed", "Went stale", "No next step",
                  "Next step overdue"]
