from django.core.management.base import CommandError

from dealgate.cli_support import (
    DealgateCommand, acting_user, add_user_argument, days_in_stage, dumps, known_pipeline, known_stage_key, money,
    plural, table,
)
from dealgate.deals.models import Deal
from dealgate.people.access import deal_scope

STATUSES = ("open", "won", "lost", "all")


class Command(DealgateCommand):
    help = "Deals at the command line. `dealgate deals list` prints a table (or --json)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="list")
        lister = sub.add_parser("list", help="list deals, newest first")
        lister.add_argument("--pipeline", help="pipeline key")
        lister.add_argument("--stage", help="stage key")
        lister.add_argument("--owner", help="owner username")
        lister.add_argument("--status", choices=STATUSES, default="open", help="open (default), won, lost or all")
        lister.add_argument("--search", help="text in the title or account name")
        lister.add_argument("--limit", type=int, default=50, help="how many rows (default 50)")
        lister.add_argument("--all", action="store_true", help="every matching row (no --limit)")
        lister.add_argument("--offset", type=int, default=0, help="skip this many rows first")
        lister.add_argument("--flags", action="store_true", help="add a column with each deal's flags")
        lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
        add_user_argument(lister)

    def handle(self, *args, action, **options):
        if options["limit"] < 1 or options["offset"] < 0:
            raise CommandError("--limit must be at least 1 and --offset at least 0.")
        query = self.query(**options)
        offset, limit = options["offset"], None if options["all"] else options["limit"]
        deals = list(query[offset:] if limit is None else query[offset: offset + limit])
        matching = offset + len(deals) if deals and (limit is None or len(deals) < limit) else query.count()
        flags = {}
        if options["flags"]:
            from dealgate.deals.flags import compute_flags

            flags = compute_flags(deals)
        rows = [self.row(d, flags.get(d.pk, []) if options["flags"] else None) for d in deals]
        if options["json"]:
            self.stdout.write(dumps(rows))
            if len(rows) < matching:
                self.stderr.write(self.footer(len(rows), matching, offset))
            return
        headers = ["ID", "Title", "Account", "Stage", "Amount", "Owner", "Days", "Next step due"]
        body = [
            [r["id"], r["title"][:40], r["account"][:28], r["stage_name"], money(r["amount"], r["currency"]),
             r["owner"], r["days_in_stage"], r["next_step_due"] or "none"]
            + ([", ".join(f["label"] for f in r["flags"])] if options["flags"] else [])
            for r in rows
        ]
        if options["flags"]:
            headers.append("Flags")
        self.stdout.write(table(headers, body, right=(0, 4, 6)))
        self.stdout.write(self.footer(len(rows), matching, offset))

    def row(self, deal, flags) -> dict:
        return {
            "id": deal.pk, "title": deal.title, "account": deal.account.name, "pipeline": deal.pipeline.key,
            "stage": deal.stage.key, "stage_name": deal.stage.name, "amount": deal.amount, "currency": deal.currency,
            "owner": deal.owner.username, "days_in_stage": days_in_stage(deal),
            "next_step": deal.next_step, "next_step_due": deal.next_step_due,
            "expected_close_date": deal.expected_close_date,
            **({"flags": [f.as_dict() for f in flags]} if flags is not None else {}),
        }

    @staticmethod
    def footer(shown: int, matching: int, offset: int) -> str:
        """Say when the table is not everything: `50 of 1,234 deals shown (rows 1-50); ...`."""
        if shown == matching:
            if not matching and not Deal.objects.exists():
                return ("No deals yet: `dealgate demo` adds a demo company, "
                        "`dealgate import deals FILE --mapping M` imports yours.")
            return f"{plural(shown, 'deal')} shown."
        rows = f"rows {offset + 1:,}-{offset + shown:,}" if shown else f"none after row {offset:,}"
        return (f"{shown:,} of {plural(matching, 'deal')} shown ({rows}); "
                "use --limit N, --offset N or --all for the others.")

    def query(self, *, pipeline, stage, owner, status, search, user, **_):
        qs = Deal.objects.select_related("account", "pipeline", "stage", "owner").order_by("-created_at", "-id")
        by = acting_user(user)
        if by is not None:
            qs = qs.filter(deal_scope(by))
        if pipeline:
            qs = qs.filter(pipeline=known_pipeline(pipeline))
        if stage:
            qs = qs.filter(stage__key=known_stage_key(stage, pipeline))
        if owner:
            qs = qs.filter(owner=acting_user(owner))
        if status == "open":
            qs = qs.filter(closed_at__isnull=True)  # a column of the deal: the newest-first index can stop at --limit
        elif status != "all":
            qs = qs.filter(stage__kind=status)
        if search:
            from django.db.models import Q

            qs = qs.filter(Q(title__icontains=search) | Q(account__name__icontains=search))
        return qs
