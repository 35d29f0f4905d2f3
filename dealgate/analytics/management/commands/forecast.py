from __future__ import annotations

from dealgate.analytics import forecast
from dealgate.analytics.cli import add_scope_arguments, fmt_money, fmt_pct, period_and_cutoff, print_left_out, scope_from
from dealgate.analytics.left_out import other_currencies
from dealgate.cli_support import DealgateCommand, dumps, table


class Command(DealgateCommand):
    help = ("Forecast what will be won in a period, as of a date: stage-weighted, historical probability, "
            "time-aware (with a 10/50/90 range), and the forecast categories per owner beside quota.")

    def add_arguments(self, parser):
        add_scope_arguments(parser)
        parser.add_argument("--method", choices=(*forecast.METHODS, "all"), default="all")
        parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")

    def handle(self, *args, **options):
        scope = scope_from(options)
        period, cutoff = period_and_cutoff(options)
        methods = forecast.METHODS if options["method"] == "all" else (options["method"],)
        config = forecast.Settings(seed=options["seed"])
        result = forecast.forecast_report(scope, period, cutoff, methods, config)
        result["categories"] = result["categories"]["owner"]
        if options["json"]:
            self.stdout.write(dumps({**result, "left_out": other_currencies(scope)}))
            return
        self.stdout.write(f"Forecast for {period.label}, as of {cutoff:%Y-%m-%d %H:%M} UTC, in {scope.currency}\n")
        print_left_out(self.stdout, scope)
        rows = []
        for name, value in result["methods"].items():
            rows.append([name, fmt_money(value["expected"]), fmt_money(value.get("p10")),
                         fmt_money(value.get("p50")), fmt_money(value.get("p90"))])
        self.stdout.write(table(["Method", "Expected", "P10", "P50", "P90"], rows, right=(1, 2, 3, 4)))
        self.stdout.write("\nStage probabilities (configured vs learned from the last 365 days)")
        self.stdout.write(table(
            ["Stage", "Configured", "Closed", "Won", "Raw", "Learned (smoothed)"],
            [[p["stage"], fmt_pct(p["configured"]), f"{p['closed']:,}", f"{p['won']:,}", fmt_pct(p["raw"]),
              fmt_pct(p["learned"])] for p in result["probabilities"].values()], right=(1, 2, 3, 4, 5)))
        self.stdout.write("\nForecast categories per owner (open deals expected to close by the period end)")
        self.stdout.write(table(
            ["Owner", "Won", "Commit", "Best case", "Pipeline", "Commit call", "Best-case call", "Model", "Quota",
             "Attainment"],
            [[c["name"], fmt_money(c["won"]), fmt_money(c["commit"]), fmt_money(c["best_case"]),
              fmt_money(c["pipeline"]), fmt_money(c["commit_call"]), fmt_money(c["best_case_call"]),
              fmt_money(c["model"]), fmt_money(c["quota"]), fmt_pct(c["attainment"])] for c in result["categories"]],
            right=range(1, 10)))
