from django.core.management.base import CommandError

from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, fail
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.errors import DealgateError


class Command(DealgateCommand):
    help = (
        "Move a deal to a stage through its gates. Refused moves exit with code 1 and list every unmet "
        "criterion. A manager may force a refused move with --override --reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("deal_id", type=int, help="the deal's number")
        parser.add_argument("stage", help="target stage key or name (e.g. proposal, won, lost)")
        parser.add_argument("--override", action="store_true", help="force a move whose criteria do not hold")
        parser.add_argument("--reason", default="", help="why the override is justified (required with --override)")
        parser.add_argument("--lost-reason", default="", help="lost reason key, required when moving to Lost")
        add_user_argument(parser)

    def handle(self, *args, deal_id, stage, override, reason, lost_reason, user, **options):
        by = acting_user(user)
        if override and not reason.strip():
            raise CommandError("--override needs --reason explaining why the criteria may be skipped.")
        if reason and not override:
            raise CommandError("--reason is only used with --override.")
        deal = Deal.objects.select_related("stage", "pipeline").filter(pk=deal_id).first()
        if deal is None:
            raise CommandError(f"No deal {deal_id}.")
        before = deal.stage.name
        try:
            row = move_deal(deal, stage, by=by, override_reason=reason if override else None,
                            lost_reason=lost_reason or None)
        except DealgateError as exc:
            raise fail(exc) from None
        note = " (override)" if row.override else ""
        self.stdout.write(f"Deal {deal.pk} '{deal.title}': {before} -> {row.to_stage.name}{note}")
