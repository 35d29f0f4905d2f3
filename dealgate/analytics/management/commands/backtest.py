from __future__ import annotations

from django.core.management.base import CommandError

from dealgate.analytics import forecast
from dealgate.analytics.backtest import backtest, column
from dealgate.analytics.cli import fmt_money, fmt_pct, print_left_out, scope_from
from dealgate.analytics.left_out import other_currencies
from dealgate.analytics.periods import parse_as_of, periods_between
from dealgate.cli_support import DealgateCommand, add_user_argument, dumps, table
from dealgate.errors import DealgateError

LENGTHS = {"month": 1, "quarter": 3}


class Command(DealgateCommand):
    help = ("Backtest the forecast methods: for each period, the forecast made at its start (from what was known "
            "then) against what was actually won; then MAPE and bias per method.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first period, e.g. 2025-01")
        parser.add_argument("--to", dest="last", required=True, help="last period, e.g. 2025-12")
        parser.add_argument("--period", choices=LENGTHS, default="month")
        parser.add_argument("--method", choices=(*forecast.METHODS, "all"), default="all")
        for name in ("pipeline", "owner", "team", "source", "segment", "currency"):
            parser.add_argument(f"--{name}")
        parser.add_argument("--json", action="store_true")
        add_user_argument(parser)

    def handle(self, *args, **options):
        scope = scope_from(options)
        try:
            periods = periods_between(options["first"], options["last"], LENGTHS[options["period"]])
        except DealgateError as exc:
            raise CommandError(exc.message) from None
        methods = forecast.METHODS if options["method"] == "all" else (options["method"],)
        result = backtest(scope, periods, parse_as_of(None), methods)
        if options["json"]:
            self.stdout.write(dumps({**result, "left_out": other_currencies(scope)}))
            return
        print_left_out(self.stdout, scope)
        headers = ["Period", "Actual won", *methods] + (["P10", "P90"] if "time-aware" in methods else [])
        rows = [[r["period"], fmt_money(r["actual"]), *[fmt_money(r[column(m)]) for m in methods]]
                + ([fmt_money(r["p10"]), fmt_money(r["p90"])] if "time-aware" in methods else [])
                for r in result["rows"]]
        self.stdout.write(table(headers, rows, right=range(1, len(headers))))
        self.stdout.write("")
        self.stdout.write(table(["Method", "MAPE", "Bias", "Actual inside P10-P90"], [
            [m, fmt_pct(s["mape"]), fmt_pct(s["bias"]), fmt_pct(s.get("coverage")) if "coverage" in s
             else ""] for m, s in result["summary"].items()], right=(1, 2, 3)))
