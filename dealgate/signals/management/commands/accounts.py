from django.utils import timezone

from dealgate.cli_support import DealgateCommand, dumps, table
from dealgate.signals.management.commands._dates import as_of_date
from dealgate.signals.risk import account_risks


class Command(DealgateCommand):
    help = ("Accounts by their order history. `risk [--as-of DATE] [--json]`: the reorder-risk score, highest "
            "first (higher = more likely to have stopped buying), from orders before the date only.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        risk = sub.add_parser("risk", help="accounts by reorder risk, highest first")
        risk.add_argument("--as-of", type=as_of_date, default=None, help="YYYY-MM-DD: read only orders before it")
        risk.add_argument("--limit", type=int, default=50, help="rows to print in the table (default 50; 0 = all)")
        risk.add_argument("--json", action="store_true", dest="as_json", help="every account as JSON")

    def handle(self, *args, action, as_of, limit, as_json, **options):
        rows = account_risks(as_of or timezone.localdate())
        if as_json:
            self.stdout.write(dumps(rows))
            return
        shown = rows[:limit] if limit else rows
        self.stdout.write(table(
            ["account", "risk", "status", "last order", "days since", "usual gap", "expected"],
            [(r["account"], f"{r['risk']:.1f}", r["status"], r["last_order"], r["days_since_last"],
              "" if r["typical_gap_days"] is None else f"{r['typical_gap_days']:g}", r["expected"] or "")
             for r in shown], right=[1, 4, 5]) if rows else "No account has orders before that date.")
