"""Synthetic stage histories at chosen dates, for hand-computed analytics tests.

Deals are created directly (the services stamp "now"); history rows are appended with
bulk_create, the way an import of past deals writes them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealgate.deals.models import Account, Deal, FieldChange, StageHistory
from dealgate.pipelines.models import Stage

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    """'2026-07-01' (midnight UTC) or '2026-07-01 12:00'."""
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC)


class History:
    def __init__(self, world, pipeline):
        self.world = world
        self.pipeline = pipeline
        self.stages = {s.key: s for s in Stage.objects.filter(pipeline=pipeline)}
        self.last: dict[int, tuple[Stage, Decimal | None]] = {}

    def deal(self, created: str, amount=None, *, owner=None, source="outbound", segment="", currency="EUR",
             close_date: str | None = None, category: str = "pipeline", stage: str = "qualify") -> Deal:
        owner = owner or self.world.alice
        account = Account.objects.create(name=f"Account {Account.objects.count() + 1}", segment=segment, owner=owner)
        first = self.stages[stage]
        deal = Deal.objects.create(
            title=f"Deal {Deal.objects.count() + 1}", account=account, owner=owner,
            team_id=owner.profile.team_id, pipeline=self.pipeline, stage=first,
            amount=None if amount is None else Decimal(str(amount)), currency=currency,
            expected_close_date=dt.date.fromisoformat(close_date) if close_date else None,
            forecast_category=category, source=source, created_at=at(created), stage_entered_at=at(created),
        )
        self._row(deal, None, first, "created", created, deal.amount)
        return deal

    def move(self, deal: Deal, stage: str, when: str, *, probability: int | None = None) -> Deal:
        previous, amount = self.last[deal.pk]
        target = self.stages[stage]
        kind = target.kind if target.kind != "open" else (
            "reopened" if previous.kind != "open" else "forward" if target.position > previous.position else "backward")
        self._row(deal, previous, target, kind, when, amount, probability)
        closed = at(when) if target.kind != "open" else None
        Deal.objects.filter(pk=deal.pk).update(stage=target, stage_entered_at=at(when), closed_at=closed)
        return deal

    def change(self, deal: Deal, field: str, new, when: str, old=None):
        stage, amount = self.last[deal.pk]
        if field == "amount":
            old = amount
            self.last[deal.pk] = (stage, None if new is None else Decimal(str(new)))
            Deal.objects.filter(pk=deal.pk).update(amount=new)
        FieldChange.objects.bulk_create([FieldChange(
            deal=deal, field=field, old_value="" if old is None else str(old), new_value="" if new is None else str(new),
            at=at(when))])

    def _row(self, deal, from_stage, to_stage, kind, when, amount, probability=None):
        if probability is None:
            probability = 100 if to_stage.kind == "won" else 0 if to_stage.kind == "lost" else to_stage.probability
        StageHistory.objects.bulk_create([StageHistory(
            deal=deal, from_stage=from_stage, to_stage=to_stage, kind=kind, at=at(when), amount=amount,
            currency=deal.currency, probability=probability)])
        self.last[deal.pk] = (to_stage, amount)


def stuck_in_qualify(world, pipeline) -> History:
    """Feb and May 2026: 6 deals each (created day 1-6) move qualify -> propose 5 days later and win 5
    days after that. Q3: 6 deals created Jul 1-6 (1,000 each); only the Jul 1 one moves, to propose on
    Aug 20 (50 days later): the other 5 pile up in Qualify."""
    h = History(world, pipeline)
    for month in ("02", "05"):
        for day in range(1, 7):
            deal = h.deal(f"2026-{month}-{day:02d}", 1000)
            h.move(deal, "propose", f"2026-{month}-{day + 5:02d}")
            h.move(deal, "won", f"2026-{month}-{day + 10:02d}")
    for day in range(1, 7):
        deal = h.deal(f"2026-07-{day:02d}", 1000)
        if day == 1:
            h.move(deal, "propose", "2026-08-20")
    return h


class Counted:
    """Calls through to the real function and counts the calls."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)
