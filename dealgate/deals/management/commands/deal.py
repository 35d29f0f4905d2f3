from django.core.management.base import CommandError

from dealgate.cli_support import (
    DealgateCommand, acting_user, add_user_argument, days_in_stage, dumps, money, plural, table,
)
from dealgate.deals.models import Deal, StageHistory
from dealgate.deals.selectors import final_stay, post_sale
from dealgate.people.access import can_view_deal


class Command(DealgateCommand):
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
        rows = list(StageHistory.objects.filter(deal=deal).select_related("from_stage", "to_stage", "by")
                    .order_by("at", "id"))
        history = [
            {"at": row.at, "from": row.from_stage.name if row.from_stage else None, "to": row.to_stage.name,
             "kind": row.kind, "by": row.by.username if row.by else "system", "override": row.override,
             "reason": row.override_reason}
            for row in rows
        ]
        stay = final_stay(rows) if deal.closed_at is not None else None
        data = {
            "id": deal.pk, "title": deal.title, "account": deal.account.name, "owner": deal.owner.username,
            "pipeline": deal.pipeline.key, "stage": deal.stage.key, "stage_name": deal.stage.name,
            "exit_question": deal.stage.exit_question, "amount": deal.amount, "currency": deal.currency,
            "probability": deal.effective_probability, "expected_close_date": deal.expected_close_date,
            "next_step": deal.next_step, "next_step_due": deal.next_step_due,
            "days_in_stage": stay.days if stay else days_in_stage(deal),
            "closed_at": deal.closed_at, "closed_from_stage": stay.stage.name if stay else None,
            "lost_reason": deal.lost_reason.label if deal.lost_reason else None, "lost_note": deal.lost_note,
            "stages_reached": [s.key for s in stages if s.pk in {row.to_stage_id for row in rows}],
            "criteria": {
                "met": progress.met if progress else 0, "total": progress.total if progress else 0,
                "next_stage": progress.next_stage if progress else "",
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
        lines = [
            f"Deal {data['id']}: {data['title']}  ({data['account']}, owner {data['owner']})",
            self.path(deal, stages, data),
            f"Amount {money(data['amount'], data['currency'])} at {data['probability']}%, " + self.timing(deal, data),
        ]
        if deal.closed_at is None:
            lines.append(f"Next step: {data['next_step'] or 'none'}"
                         + (f" (due {data['next_step_due']})" if data["next_step_due"] else ""))
        if data["lost_reason"]:
            note = f" ({data['lost_note']})" if data["lost_note"] else ""
            lines.append(f"Lost reason: {data['lost_reason']}{note}")
        if data["exit_question"] and deal.stage.kind == "open" and deal.closed_at is None:
            lines.append(f"Exit question: {data['exit_question']}")
        crit = data["criteria"]
        if crit["total"]:
            lines.append(f"Criteria for {crit['next_stage']}: {crit['met']} of {crit['total']} met" if crit["next_stage"]
                         else f"Exit criteria: {crit['met']} of {crit['total']} met")
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

    @staticmethod
    def path(deal, stages, data) -> str:
        """Open deal: every open stage, the current one in brackets. Closed: only the stages it reached."""
        reached = set(data["stages_reached"])
        names = []
        for stage in stages:
            if stage.pk == deal.stage_id:
                names.append(f"[{stage.name}]")
            elif stage.kind == "open" and (deal.closed_at is None or stage.key in reached):
                names.append(stage.name)
        return " > ".join(names)

    @staticmethod
    def timing(deal, data) -> str:
        """Open: expected close and days in stage. Closed: the close date and the last stay, which ended then."""
        if data["closed_at"] is None:
            return (f"expected close {data['expected_close_date'] or 'not set'}, "
                    f"{plural(data['days_in_stage'], 'day')} in stage")
        outcome = deal.stage.kind if deal.stage.kind in ("won", "lost") else "closed"
        text = f"{outcome} on {data['closed_at']:%Y-%m-%d}"
        if data["closed_from_stage"]:
            text += f" from {data['closed_from_stage']} after {plural(data['days_in_stage'], 'day')} there"
        return text + (f" (expected {data['expected_close_date']})" if data["expected_close_date"] else "")

