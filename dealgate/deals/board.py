"""The board read: one column per open stage with its count, money and first cards.

Everything here is a fixed number of queries whatever the number of deals: one aggregate for
the column headers, one windowed query for the first cards of every column, and the flag and
criteria reads of `dealgate.deals.flags` done once for all cards. Totals are kept per currency:
different currencies are never added together.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from dealgate.deals.flags import flags_and_progress, with_date_flags
from dealgate.deals.models import Deal
from dealgate.people.access import can_edit_deal, visible_deals
from dealgate.pipelines.models import Pipeline, Stage, StageKind

CARDS_PER_COLUMN = 30  # the rest loads on scroll; fewer cards keep the first paint quick
CARD_ORDER = (F("expected_close_date").asc(nulls_last=True), F("id").desc())


@dataclass(frozen=True)
class BoardFilters:
    """What the person asked to see; every field narrows the board."""

    owner: int | None = None
    team: int | None = None
    mine: bool = False
    flagged: bool = False
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    q: str = ""


@dataclass(frozen=True)
class Money:
    currency: str
    total: Decimal
    weighted: Decimal


@dataclass
class Card:
    deal: Deal
    days_in_stage: int
    flags: list[Any]
    progress: Any  # CriteriaProgress(met, total, results) or None when the stage has no exit criteria
    editable: bool
    next_step_overdue: bool


@dataclass
class Column:
    stage: Stage
    count: int = 0
    money: list[Money] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    next_offset: int | None = None  # where "load more" starts; None when every card is shown


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    won: Stage | None
    lost: Stage | None


def open_deals(pipeline: Pipeline, user: Any, filters: BoardFilters, *, stages: list[Stage],
               now: dt.datetime) -> QuerySet:
    """The open deals of a pipeline this user may see, narrowed by the filters."""
    qs = visible_deals(user, Deal.objects.filter(pipeline=pipeline, closed_at__isnull=True,
                                                 stage_id__in=[s.pk for s in stages]))
    if filters.mine:
        qs = qs.filter(owner_id=user.pk)
    if filters.owner:
        qs = qs.filter(owner_id=filters.owner)
    if filters.team:
        qs = qs.filter(team_id=filters.team)
    if filters.close_from:
        qs = qs.filter(expected_close_date__gte=filters.close_from)
    if filters.close_to:
        qs = qs.filter(expected_close_date__lte=filters.close_to)
    if filters.q:
        qs = qs.filter(Q(title__icontains=filters.q) | Q(account__name__icontains=filters.q))
    if filters.flagged:
        qs = with_date_flags(qs, stages, business_days=pipeline.business_days, today=timezone.localdate(now))
    return qs


def column_money(qs: QuerySet, stages: list[Stage]) -> dict[int, tuple[int, list[Money]]]:
    """Per stage: deal count and (total, weighted total) per currency, in one grouped query.

    The stage probability is applied here rather than joined in SQL: the sums split into deals
    with and without their own probability, so the query reads only the deal table.
    """
    hundred = Value(Decimal(100))
    rows = (
        qs.order_by()
        .values("stage_id", "currency")
        .annotate(
            n=Count("id"),
            total=Sum("amount"),
            plain=Sum("amount", filter=Q(probability_override__isnull=True)),
            overridden=Sum(ExpressionWrapper(F("amount") * F("probability_override") / hundred,
                                             output_field=DecimalField(max_digits=20, decimal_places=4)),
                           filter=Q(probability_override__isnull=False)),
        )
        .order_by("stage_id", "currency")
    )
    probability = {s.pk: Decimal(s.probability) for s in stages}
    result: dict[int, tuple[int, list[Money]]] = {}
    for row in rows:
        count, money = result.get(row["stage_id"], (0, []))
        if row["total"] is not None:
            weighted = (row["plain"] or 0) * probability[row["stage_id"]] / 100 + (row["overridden"] or 0)
            money.append(Money(row["currency"], row["total"], Decimal(weighted)))
        result[row["stage_id"]] = (count + row["n"], money)
    return result


def _cards(deals: list[Deal], user: Any, *, now: dt.datetime) -> list[Card]:
    """Wrap deals as cards, reading flags and criteria progress once for all of them."""
    today = timezone.localdate(now)
    flags, progress = flags_and_progress(deals, today=today)
    return [
        Card(
            deal=deal,
            days_in_stage=(today - timezone.localdate(deal.stage_entered_at)).days,
            flags=flags.get(deal.pk, []),
            progress=progress.get(deal.pk),
            editable=can_edit_deal(user, deal),
            next_step_overdue=bool(deal.next_step_due and deal.next_step_due < today),
        )
        for deal in deals
    ]


def build_board(pipeline: Pipeline, user: Any, filters: BoardFilters, *, per_column: int = CARDS_PER_COLUMN,
                now: dt.datetime | None = None) -> Board:
    now = now or timezone.now()
    all_stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    stages = [s for s in all_stages if s.kind == StageKind.OPEN]
    qs = open_deals(pipeline, user, filters, stages=stages, now=now)
    money = column_money(qs, stages)
    # Rank narrow rows first (id only), then read the few winning deals with their joins.
    first_ids = (
        qs.annotate(rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=list(CARD_ORDER)))
        .filter(rank__lte=per_column)
        .values_list("id", flat=True)
    )
    deals = (
        Deal.objects.filter(id__in=list(first_ids))
        .select_related("account", "owner", "stage", "pipeline")
        .order_by(*CARD_ORDER)
    )
    cards_by_stage: dict[int, list[Card]] = defaultdict(list)
    for card in _cards(list(deals), user, now=now):
        cards_by_stage[card.deal.stage_id].append(card)
    columns = []
    for stage in stages:
        count, stage_money = money.get(stage.pk, (0, []))
        cards = cards_by_stage.get(stage.pk, [])
        columns.append(Column(stage, count, stage_money, cards, len(cards) if count > len(cards) else None))
    by_kind = {s.kind: s for s in all_stages if s.kind != StageKind.OPEN}
    return Board(pipeline, columns, by_kind.get(StageKind.WON), by_kind.get(StageKind.LOST))


def build_column(pipeline: Pipeline, stage: Stage, user: Any, filters: BoardFilters, *, offset: int = 0,
                 limit: int = CARDS_PER_COLUMN, now: dt.datetime | None = None) -> Column:
    """One column: its header numbers and the cards from `offset` (the "load more" page)."""
    now = now or timezone.now()
    stages = list(Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN))
    qs = open_deals(pipeline, user, filters, stages=stages, now=now).filter(stage=stage)
    count, stage_money = column_money(qs, stages).get(stage.pk, (0, []))
    deals = list(qs.select_related("account", "owner", "stage", "pipeline").order_by(*CARD_ORDER)[offset:offset + limit])
    end = offset + len(deals)
    return Column(stage, count, stage_money, _cards(deals, user, now=now), end if count > end else None)
