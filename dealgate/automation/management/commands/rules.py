"""`dealgate rules list`, `dealgate rules test RULE` (a dry run: the current deals, or for "signal raised"
the new signals, it would act on) and
`dealgate rules deliveries` (the webhook deliveries, failing ones first)."""

from django.core.management.base import CommandError

from dealgate.automation.models import Rule, Trigger
from dealgate.automation.rules import describe, retired_notes, signals_it_would_act_on, would_act_on
from dealgate.automation.webhooks import deliveries_for_admins
from dealgate.cli_support import DealgateCommand, dumps, money, table


def find_rule(ref: str) -> Rule:
    rule = Rule.objects.filter(pk=int(ref)).first() if ref.isdigit() else Rule.objects.filter(name__iexact=ref).first()
    if rule is None:
        raise CommandError(f"No rule {ref!r}; `dealgate rules list` shows their ids and names.")
    return rule


class Command(DealgateCommand):
    help = ("Automation rules: `rules list` shows them in words; `rules test RULE` lists the deals it would act on; "
            "`rules deliveries` lists the webhook deliveries, failing ones first.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="list|test|deliveries")
        lister = sub.add_parser("list", help="every rule, in words")
        lister.add_argument("--json", action="store_true")
        tester = sub.add_parser("test", help="dry run: the current open deals a rule would act on (writes nothing)")
        tester.add_argument("rule", help="rule id or name")
        tester.add_argument("--limit", type=int, default=50)
        tester.add_argument("--json", action="store_true")
        deliveries = sub.add_parser("deliveries", help="webhook deliveries: given up and retrying first, then the newest")
        deliveries.add_argument("--limit", type=int, default=50)
        deliveries.add_argument("--json", action="store_true")

    def handle(self, *args, action, json, **options):
        if action == "list":
            rules = list(Rule.objects.select_related("pipeline"))
            rows = [{"id": r.pk, "name": r.name, "enabled": r.enabled, "pipeline": r.pipeline.key if r.pipeline else None,
                     "trigger": r.trigger, "description": describe(r)} for r in rules]
            if json:
                self.stdout.write(dumps(rows))
                return
            self.stdout.write(table(["ID", "On", "Pipeline", "Rule", "What it does"],
                                    [[r["id"], "on" if r["enabled"] else "off", r["pipeline"] or ("—" if r["trigger"] == Trigger.SIGNAL_RAISED else "any"), r["name"],
                                      r["description"]] for r in rows], right=(0,)))
            return
        if action == "deliveries":
            self.deliveries(max(1, options["limit"]), json)
            return
        rule = find_rule(options["rule"])
        if rule.trigger == Trigger.SIGNAL_RAISED:
            self.test_signal_rule(rule, max(1, options["limit"]), json)
            return
        deals = would_act_on(rule)
        total = deals.count()
        shown = list(deals[: max(1, options["limit"])])
        retired = retired_notes(rule)
        if json:
            self.stdout.write(dumps({"rule": rule.pk, "description": describe(rule), "deals": total,
                                     "shown": [{"id": d.pk, "title": d.title, "stage": d.stage.key,
                                                "owner": d.owner.username} for d in shown], "retired": retired}))
            return
        self.stdout.write(f"{rule.name}: {describe(rule)}")
        for note in retired:
            self.stdout.write(f"Retired stage: {note}")
        self.stdout.write(table(["ID", "Deal", "Stage", "Owner", "Amount"],
                                [[d.pk, d.title[:40], d.stage.name, d.owner.username, money(d.amount, d.currency)]
                                 for d in shown], right=(0, 4)))
        self.stdout.write(f"It would act on {total} open deal(s) now{'' if rule.enabled else ' (the rule is off)'}.")

    def test_signal_rule(self, rule: Rule, limit: int, json: bool) -> None:
        signals = signals_it_would_act_on(rule)
        total, shown = signals.count(), list(signals[:limit])
        if json:
            self.stdout.write(dumps({"rule": rule.pk, "description": describe(rule), "signals": total,
                                     "shown": [{"id": s.pk, "kind": s.kind, "account": s.account.name,
                                                "revenue": s.revenue, "title": s.title} for s in shown]}))
            return
        self.stdout.write(f"{rule.name}: {describe(rule)}")
        self.stdout.write(table(["ID", "Signal", "Account", "Owner", "Revenue"],
                                [[s.pk, s.get_kind_display(), s.account.name[:40],
                                  s.account.owner.username if s.account.owner else "(none)", f"{s.revenue:,.0f}"]
                                 for s in shown], right=(0, 4)))
        self.stdout.write(f"It would act on {total} new signal(s) like these when a scan raises them"
                          f"{'' if rule.enabled else ' (the rule is off)'}.")

    def deliveries(self, limit: int, json: bool) -> None:
        rows = [{"id": d.pk, "rule": d.rule.name, "deal": d.deal_id, "url": d.url, "status": d.status,
                 "attempts": d.attempts, "last_status_code": d.last_status_code, "last_error": d.last_error,
                 "created_at": d.created_at, "next_attempt_at": d.next_attempt_at}
                for d in deliveries_for_admins(limit)]
        if json:
            self.stdout.write(dumps(rows))
            return
        self.stdout.write(table(["ID", "Rule", "Deal", "Address", "Status", "Tries", "Last answer"],
                                [[r["id"], r["rule"][:30], r["deal"], r["url"], r["status"], r["attempts"],
                                  r["last_error"] or (f"HTTP {r['last_status_code']}" if r["last_status_code"] else "")]
                                 for r in rows], right=(0, 2, 5)))
        self.stdout.write(f"{len(rows)} webhook delivery(ies) shown.")
