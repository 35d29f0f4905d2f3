from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dealgate.cli_support import acting_user, add_user_argument, dumps, money, table
from dealgate.deals.models import Deal
from dealgate.people.access import deal_scope

STATUSES = ("open", "won", "lost", "all")


class Command(BaseCommand):
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
        lister.add_argument("--offset", type=int, default=0, help="skip this many rows first")
        lister.add_argument("--flags", action="store_true", help="add a column with each deal's flags")
        lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
        add_user_argument(lister)

    def handle(self, *args, action, **options):
        if options["limit"] < 1 or options["offset"] < 0:
            raise CommandError("--limit must be at least 1 and --offset at least 0.")
        deals = list(self.query(**options)[options["offset"]: options["offset"] + options["limit"]])
        flags = {}
        if options["flags"]:
            from dealgate.deals.flags import compute_flags

            flags = compute_flags(deals)
        now = timezone.now()
        rows = [
            {
                "id": d.pk, "title": d.title, "account": d.account.name, "pipeline": d.pipeline.key,
                "stage": d.stage.key, "stage_name": d.stage.name, "amount": d.amount, "currency": d.currency,
                "owner": d.owner.username, "days_in_stage": (now - d.stage_entered_at).days,
                "next_step": d.next_step, "next_step_due": d.next_step_due,
                "expected_close_date": d.expected_close_date,
                **({"flags": [f.as_dict() for f in flags.get(d.pk, [])]} if options["flags"] else {}),
            }
            for d in deals
        ]
        if options["json"]:
            self.stdout.write(dumps(rows))
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
        self.stdout.write(f"{len(rows)} deal(s) shown.")

    def query(self, *, pipeline, stage, owner, status, search, user, **_):
        qs = Deal.objects.select_related("account", "pipeline", "stage", "owner").order_by("-created_at", "-id")
        by = acting_user(user)
        if by is not None:
            qs = qs.filter(deal_scope(by))
        if pipeline:
            qs = qs.filter(pipeline__key=pipeline)
        if stage:
            qs = qs.filter(stage__key=stage)
        if owner:
            qs = qs.filter(owner__username=owner)
        if status == "open":
            qs = qs.filter(closed_at__isnull=True)  # a column of the deal: the newest-first index can stop at --limit
        elif status != "all":
            qs = qs.filter(stage__kind=status)
        if search:
            from django.db.models import Q

            qs = qs.filter(Q(title__icontains=search) | Q(account__name__icontains=search))
        return qs
