"""`dealgate quota set|list|remove`: the quotas coverage and attainment are measured against.

The same service as the settings page and the API (dealgate.analytics.services). Without --user (or
$DEALGATE_USER) the system acts, as in every other command; with it, that user's role decides.
"""

from __future__ import annotations

from django.core.management.base import CommandError

from dealgate.analytics.cli import fmt_money, known_team
from dealgate.analytics.periods import parse_period
from dealgate.analytics.services import find_quota, remove_quota, set_quota, visible_quotas
from dealgate.analytics.models import Quota
from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, dumps, table


def _target(options: dict) -> dict:
    """--owner and --team as the service's owner= and team= (it refuses both, or neither)."""
    return {"owner": acting_user(options["owner"]) if options.get("owner") else None,
            "team": known_team(options["team"]) if options.get("team") else None}


def as_row(quota: Quota) -> dict:
    return {"id": quota.pk, "period": quota.period_label, "owner": quota.user.username if quota.user_id else None,
            "team": quota.team.name if quota.team_id else None, "amount": quota.amount, "currency": quota.currency}


class Command(DealgateCommand):
    help = ("Quotas per owner or team and period, against which coverage and attainment are measured: "
            "`quota set --owner USER --period 2026-Q4 --amount 500000`, `quota list`, `quota remove`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="set|list|remove")
        setter = sub.add_parser("set", help="set (or replace) the quota of an owner or a team for a period")
        remover = sub.add_parser("remove", help="remove the quota of an owner or a team for a period")
        for command in (setter, remover):
            command.add_argument("--owner", help="owner username")
            command.add_argument("--team", help="team name")
            command.add_argument("--period", required=True, help="2026-Q4 (quarter), 2026-11 (month) or 2026 (year)")
            add_user_argument(command)
        setter.add_argument("--amount", required=True, help="what to win in the period, e.g. 500000")
        setter.add_argument("--currency", help="ISO 4217 code (default: the company currency)")
        lister = sub.add_parser("list", help="the quotas, newest period first")
        lister.add_argument("--period", help="only quotas inside this period (2026-Q4, 2026-11, 2026)")
        lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
        add_user_argument(lister)

    def handle(self, *args, action, **options):
        by = acting_user(options.get("user") or "")
        if action == "list":
            return self.list(by, options)
        target = _target(options)
        if action == "set":
            quota = set_quota(**target, period=options["period"], amount=options["amount"],
                              currency=options.get("currency"), by=by)
            self.stdout.write(f"Set the {quota.label}: {fmt_money(quota.amount)} {quota.currency}.")
            return
        quota = find_quota(**target, period=options["period"])
        if quota is None:
            raise CommandError(f"No quota for {options.get('owner') or 'team ' + options['team']} in "
                               f"{parse_period(options['period']).label}; `dealgate quota list` shows them.")
        label = quota.label
        remove_quota(quota, by=by)
        self.stdout.write(f"Removed the {label}.")

    def list(self, by, options) -> None:
        rows = visible_quotas(by, options.get("period"))
        found = [as_row(q) for q in rows]
        if options["json"]:
            self.stdout.write(dumps(found))
            return
        self.stdout.write(table(["Period", "For", "Quota", "Currency"],
                                [[r["period"], r["owner"] or f"team {r['team']}", fmt_money(r["amount"]), r["currency"]]
                                 for r in found], right=(2,)))
        self.stdout.write(f"{len(found)} quota(s).")
