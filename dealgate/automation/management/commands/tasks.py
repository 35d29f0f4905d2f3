"""`dealgate tasks list`: open tasks, overdue first."""

from django.core.management.base import CommandError
from django.utils import timezone

from dealgate.automation.models import Task
from dealgate.automation.services import visible_tasks
from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, dumps, table
from dealgate.words import plural


class Command(DealgateCommand):
    help = "Tasks at the command line. `dealgate tasks list` prints open tasks, overdue first (or --json)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="list")
        lister = sub.add_parser("list", help="list open tasks, overdue first")
        lister.add_argument("--deal", type=int, help="only this deal's tasks")
        lister.add_argument("--owner", help="only tasks assigned to this username")
        lister.add_argument("--all", action="store_true", dest="include_done", help="include tasks already done")
        lister.add_argument("--limit", type=int, default=100, help="how many rows (default 100)")
        lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
        add_user_argument(lister)

    def handle(self, *args, action, deal, owner, include_done, limit, json, user, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        by = acting_user(user)
        rows = Task.objects.select_related("deal", "account", "assignee")
        if by is not None:
            rows = visible_tasks(by, rows)
        if deal is not None:
            rows = rows.filter(deal_id=deal)
        if owner:
            rows = rows.filter(assignee=acting_user(owner))  # an unknown name is refused, not an empty list
        if not include_done:
            rows = rows.filter(done=False)
        today = timezone.localdate()
        items = [
            {"id": t.pk, "title": t.title, "deal": t.deal_id, "deal_title": t.deal.title if t.deal_id else None,
             "account": t.account.name if t.account_id else None, "assignee": t.assignee.username,
             "due": t.due, "done": t.done, "overdue": not t.done and t.due < today}
            for t in rows.order_by("done", "due", "id")[:limit]
        ]
        if json:
            self.stdout.write(dumps(items))
            return
        if not items:
            self.stdout.write("No tasks match." if include_done else "No open tasks match.")
            return
        body = [[i["id"], i["title"][:40], (i["deal_title"] or i["account"] or "")[:30], i["assignee"], i["due"],
                 "done" if i["done"] else ("OVERDUE" if i["overdue"] else "open")] for i in items]
        self.stdout.write(table(["ID", "Task", "Deal", "Assignee", "Due", "Status"], body, right=(0,)))
        self.stdout.write(f"{plural(len(items), 'task')} shown.")
