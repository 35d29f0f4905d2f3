from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dealgate.cli_support import acting_user, add_user_argument, dumps, money, table
from dealgate.deals.models import Deal, StageHistory
from dealgate.deals.selectors import post_sale
from dealgate.people.access import can_view_deal


class Command(BaseCommand):
    help = ("One deal at the command line. `dealgate deal show ID`: stage, next step, criteria, "
            "post-sale checklist, flags, history.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="show")
        show = sub.add_parser("show", help="everything about one deal")
        show.add_argument("deal_id", type=int, help="the deal's number")
        show.add_argument("--json", action="store_true", help="print JSON instead of text")
        add_user_argument(show)

    def handle(self, *args, action, deal_id, json, user, **options):
        from dealgate.deals.flags import compute_flags, criteria_progress
        from dealgate.pipelines.models import Stage

        deal = Deal.objects.select_related("account", "pipeline", "stage", "owner", "lost_reason").filter(pk=deal_id).first()
        by = acting_user(user)
        if deal is None or (by is not None and not can_view_deal(by, deal)):
            raise CommandError(f"No deal {deal_id}.")
        stages = list(Stage.objects.filter(pipeline=deal.pipeline_id).order_by("position"))
        progress = criteria_progress([deal]).get(deal.pk)
        flags = compute_flags([deal]).get(deal.pk, [])
        contacts = [
            {"name": link.contact.name, "role": link.get_role_display()}
            for link in deal.contact_links.select_related("contact").order_by("contact__name")
        ]
        history = [
            {"at": row.at, "from": row.from_stage.name if row.from_stage else None, "to": row.to_stage.name,
             "kind": row.kind, "by": row.by.username if row.by else "system", "override": row.override,
             "reason": row.override_reason}
            for row in StageHistory.objects.filter(deal=deal).select_related("from_stage", "to_stage", "by")
        ]
        data = {
            "id": deal.pk, "title": deal.title, "account": deal.account.name, "owner": deal.owner.username,
            "pipeline": deal.pipeline.key, "stage": deal.stage.key, "stage_name": deal.stage.name,
            "exit_question": deal.stage.exit_question, "amount": deal.amount, "currency": deal.currency,
            "probability": deal.effective_probability, "expected_close_date": deal.expected_close_date,
            "next_step": deal.next_step, "next_step_due": deal.next_step_due,
            "days_in_stage": (timezone.now() - deal.stage_entered_at).days,
            "lost_reason": deal.lost_reason.label if deal.lost_reason else None,
            "criteria": {
                "met": progress.met if progress else 0, "total": progress.total if progress else 0,
                "items": [r.as_dict() | {"met": r.met} for r in (progress.results if progress else [])],
            },
            "flags": [f.as_dict() for f in flags], "contacts": contacts, "history": history,
            "post_sale": [
                {"stage": phase.stage.key, "title": phase.title, "done": phase.done,
                 "total": len(phase.results), "items": [r.as_dict() | {"met": r.met} for r in phase.results]}
                for phase in post_sale(deal)
            ],
        }
        if json:
            self.stdout.write(dumps(data))
            return
        self.stdout.write(self.render(deal, stages, data))

    def render(self, deal, stages, data) -> str:
        path = []
        for stage in stages:
            if stage.kind != "open" and stage.pk != deal.stage_id:
                continue
            mark = "[" + stage.name + "]" if stage.pk == deal.stage_id else stage.name
            path.append(mark)
        lines = [
            f"Deal {data['id']}: {data['title']}  ({data['account']}, owner {data['owner']})",
            " > ".join(path),
            f"Amount {money(data['amount'], data['currency'])} at {data['probability']}%, "
            f"expected close {data['expected_close_date'] or 'not set'}, {data['days_in_stage']} days in stage",
            f"Next step: {data['next_step'] or 'none'}" + (f" (due {data['next_step_due']})" if data["next_step_due"] else ""),
        ]
        if data["lost_reason"]:
            lines.append(f"Lost reason: {data['lost_reason']}")
        if data["exit_question"] and deal.stage.kind == "open":
            lines.append(f"Exit question: {data['exit_question']}")
        crit = data["criteria"]
        if crit["total"]:
            lines.append(f"Exit criteria: {crit['met']} of {crit['total']} met")
            for item in crit["items"]:
                lines.append(f"  [{'x' if item['met'] else ' '}] {item['label']}" + ("" if item["met"] else f": {item['missing']}"))
        for phase in data["post_sale"]:  # a won deal's onboarding checklist (decision 010)
            lines.append(f"After the sale, {phase['title']}: {phase['done']} of {phase['total']} done")
            for item in phase["items"]:
                missing = "" if item["met"] else f": {item['missing']}"
                lines.append(f"  [{'x' if item['met'] else ' '}] {item['label']}{missing}")
        lines.append("Flags: " + ("none" if not data["flags"] else ""))
        lines.extend(f"  ! {f['label']}: {f['reason']}" for f in data["flags"])
        lines.append("Contacts: " + (", ".join(f"{c['name']} ({c['role']})" for c in data["contacts"]) or "none"))
        lines.append("History:")
        lines.append(table(
            ["When", "From", "To", "By", "Note"],
            [[h["at"].strftime("%Y-%m-%d %H:%M"), h["from"] or "", h["to"], h["by"],
              ("override: " + h["reason"]) if h["override"] else ""] for h in data["history"]],
        ))
        return "\n".join(lines)
