from __future__ import annotations

from dealgate.analytics import forecast
from dealgate.analytics.backtest import backtest, recent_periods, recommend
from dealgate.analytics.together import together
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
        months = 1 if period.months == 1 else 3
        result, tested = together(lambda: forecast.forecast_report(scope, period, cutoff, methods, config),
                                  lambda: backtest(scope, recent_periods(cutoff, months), cutoff, methods, config))
        result["categories"] = result["categories"]["owner"]
        pick = recommend(tested, months)
        result["lead"] = {"method": pick["method"], "mape": pick["mape"], "periods": pick["periods"],
                          "why": pick["why"]}
        if options["json"]:
            self.stdout.write(dumps({**result, "left_out": other_currencies(scope)}))
            return
        self.stdout.write(f"Forecast for {period.label}, as of {cutoff:%Y-%m-%d %H:%M} UTC, in {scope.currency}\n")
        print_left_out(self.stdout, scope)
        self._lead(result, pick)
        rows = []
        for name, value in result["methods"].items():
            rows.append([name, fmt_money(value["expected"]), fmt_money(value["from_open"]), fmt_money(value["from_new"]),
                         fmt_money(value.get("p10")), fmt_money(value.get("p50")), fmt_money(value.get("p90"))])
        self.stdout.write("\nEvery method")
        self.stdout.write(table(["Method", "Expected", "From open deals", "From new deals", "P10", "P50", "P90"], rows,
                                right=range(1, 7)))
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

    def _lead(self, result, pick):
        """The one number first: the method that did best in the recent backtest, and why."""
        made = result["methods"][pick["method"]]
        likely = (f"; likely between {fmt_money(made['p10'])} and {fmt_money(made['p90'])}" if made.get("p10") is not None
                  else "")
        self.stdout.write(f"Expected won: {fmt_money(made['expected'])} ({pick['method']}{likely})")
        self.stdout.write(table(["", "Amount"], [
            ["Won so far", fmt_money(made["already_won"])], ["From open deals", fmt_money(made["from_open"])],
            ["From new deals (not created yet)", fmt_money(made["from_new"])], ["Forecast", fmt_money(made["expected"])],
        ], right=(1,)))
        self.stdout.write(pick["why"])
        dates = result["close_dates"]
        if dates["undated"]:
            left_out = f"; {dates['unknown']:,} left out (nothing closed from their stage in the past year)" \
                if dates["unknown"] else ""
            self.stdout.write(f"{dates['undated']:,} open deals had no expected close date known then: "
                              f"{dates['undated_due']:,} counted as closing in the period, from how long their stage "
                              f"usually takes{left_out}.")
