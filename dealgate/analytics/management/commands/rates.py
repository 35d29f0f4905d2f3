"""`dealgate rates set|list|remove`: dated exchange rates into the company currency.

The same service as the settings page and the API (dealgate.analytics.rates). Without --user (or
$DEALGATE_USER) the system acts, as in every other command; with it, only an admin may write.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from dealgate.analytics.models import ExchangeRate
from dealgate.analytics.rates import find_rate, remove_rate, set_rate, visible_rates
from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, dumps, table


def as_row(rate: ExchangeRate) -> dict:
    return {"id": rate.pk, "currency": rate.currency, "effective_from": rate.effective_from.isoformat(),
            "rate": format(rate.rate.normalize(), "f")}


class Command(DealgateCommand):
    help = ("Exchange rates into the company currency, each from a date on: "
            "`rates set --currency USD --rate 0.92 --date 2026-11-01`, `rates list [--json]`, `rates remove`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="set|list|remove")
        setter = sub.add_parser("set", help="set (or replace) the rate of a currency from a date on")
        remover = sub.add_parser("remove", help="remove the rate of a currency entered for a date")
        for command in (setter, remover):
            command.add_argument("--currency", required=True, help="ISO 4217 code, not the company currency")
            command.add_argument("--date", required=True, help="YYYY-MM-DD: the rate applies from this day on")
            add_user_argument(command)
        setter.add_argument("--rate", required=True,
                            help="company-currency units per one unit of the currency, e.g. 0.92")
        lister = sub.add_parser("list", help="the rates, by currency, newest first")
        lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
        add_user_argument(lister)

    def handle(self, *args, action, **options):
        by = acting_user(options.get("user") or "")
        company = settings.DEALGATE_CURRENCY
        if action == "list":
            found = [as_row(rate) for rate in visible_rates()]
            if options["json"]:
                self.stdout.write(dumps(found))
                return
            self.stdout.write(table(["Currency", "From", f"1 unit in {company}"],
                                    [[r["currency"], r["effective_from"], r["rate"]] for r in found], right=(2,)))
            self.stdout.write(f"{len(found)} rate(s).")
            return
        if action == "set":
            rate = set_rate(currency=options["currency"], rate=options["rate"], effective_from=options["date"], by=by)
            self.stdout.write(f"Set: 1 {rate.currency} = {format(rate.rate.normalize(), 'f')} {company} "
                              f"from {rate.effective_from.isoformat()}.")
            return
        rate = find_rate(options["currency"], options["date"])
        if rate is None:
            raise CommandError(f"No {options['currency'].upper()} rate from {options['date']}; "
                               "`dealgate rates list` shows them.")
        label = rate.label
        remove_rate(rate, by=by)
        self.stdout.write(f"Removed the {label}.")
