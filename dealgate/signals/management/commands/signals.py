from django.utils import timezone

from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, dumps, plural, table
from dealgate.signals.management.commands._dates import as_of_date
from dealgate.signals.models import Signal, SignalStatus
from dealgate.signals.services import scan_signals


class Command(DealgateCommand):
    help = ("Account signals from order history. `scan [--as-of DATE]` raises the signals whose cause is new "
            "(only orders before the date are read; a cause is never raised twice); `list [--json]` shows them, "
            "highest revenue first.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="raise new signals as of a date (default today)")
        scan.add_argument("--as-of", type=as_of_date, default=None, help="YYYY-MM-DD: read only orders before it")
        scan.add_argument("--json", action="store_true", dest="as_json", help="print the result as JSON")
        scan.add_argument("--full", action="store_true",
                          help="recompute every account (default: after a scan earlier in the quarter, only the "
                               "accounts with new order lines or a recheck date that has come)")
        add_user_argument(scan)
        listing = sub.add_parser("list", help="signals, highest revenue first (open ones unless --status)")
        listing.add_argument("--status", choices=[*SignalStatus.values, "all"], default="new")
        listing.add_argument("--limit", type=int, default=50, help="rows to print (default 50; 0 = all)")
        listing.add_argument("--json", action="store_true", dest="as_json", help="print the signals as JSON")

    def handle(self, *args, action, as_json=False, **options):
        if action == "scan":
            result = scan_signals(options["as_of"] or timezone.localdate(), by=acting_user(options["user"]),
                                  full=options["full"])
            if as_json:
                self.stdout.write(dumps(result.as_dict()))
                return
            kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.raised.items())) or "none new"
            how = (f"all {plural(result.accounts_read, 'account')} read" if result.full
                   else f"{plural(result.accounts_read, 'account')} with new orders or due for a check read again, "
                        f"{result.units_read} of them with their product lines and products")
            self.stdout.write(f"Scanned as of {result.as_of}: {plural(result.total, 'new signal')} ({kinds}); "
                              f"{plural(result.candidates, 'cause')} found in all; {how}.")
            return
        self.list_signals(options["status"], options["limit"], as_json)

    def list_signals(self, status: str, limit: int, as_json: bool) -> None:
        signals = Signal.objects.select_related("account").order_by("-revenue", "-id")
        if status != "all":
            signals = signals.filter(status=status)
        if limit:
            signals = signals[:limit]
        if as_json:
            self.stdout.write(dumps([{
                "id": s.pk, "kind": s.kind, "account": s.account.name, "title": s.title, "revenue": float(s.revenue),
                "status": s.status, "as_of": s.as_of, "snoozed_until": s.snoozed_until,
                "dismissed_reason": s.dismissed_reason or None, "deal": s.deal_id, "evidence": s.evidence,
            } for s in signals]))
            return
        rows = [(s.pk, s.get_kind_display(), s.account.name, f"{s.revenue:,.0f}", s.status, s.title) for s in signals]
        self.stdout.write(table(["id", "signal", "account", "revenue", "status", "evidence"], rows, right=[0, 3])
                          if rows else "No signals.")
