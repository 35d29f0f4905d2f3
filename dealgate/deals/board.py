"""The board read: one column per open stage with its count, money and first cards.

Everything here is a fixed number of queries whatever the number of deals: one aggregate for
the column headers, one query for the first cards of every column (each column's first page is
its own LIMIT subquery, walked in card order on the deal index (pipeline, stage, close date, id)
that also carries the money columns), and the flag and criteria reads of `dealgate.deals.flags`
done once for all cards. Totals are kept per currency: different currencies are never added
together.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from dealgate.deals.flags import flags_and_progress, idle_past_limit, with_date_flags
from dealgate.deals.models import Deal, quiet_since
from dealgate.people.access import can_edit_deal, visible_deals
from dealgate.pipelines.models import Pipeline, Stage, StageKind

# The card shows its next step on its own line (marked when overdue or missing) and its criteria count as its
# own chip, so these flags are not repeated as badges there (decision 029).
NOT_CARD_BADGES = ("no_next_step", "next_step_overdue", "missing_criteria")
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


@dataclass(frozen=True)
class CompanyTotal:
    """A column's money in the company currency: the total and weighted total when every currency in
    it has an exchange rate on or before today, else None and the currencies lacking one."""

    currency: str
    total: Decimal | None
    weighted: Decimal | None
    missing: tuple[str, ...] = ()
    rates: tuple[tuple[str, Decimal, dt.date], ...] = ()  # (currency, rate, effective from) of each one converted

    @property
    def rates_used(self) -> str:
        """Which rates made the total, for a reader to check: "USD 0.9 from 1 Dec, GBP 1.2 from 3 Nov"."""
        from dealgate.words import day

        return ", ".join(f"{code} {format(rate.normalize(), 'f')} from {day(since)}"
                         for code, rate, since in self.rates)


def company_total(money: list[Money], table: Any) -> CompanyTotal | None:
    """One total in the company currency beside the per-currency lines (issue 14), converted with the
    rates in effect today (`table`: dealgate.analytics.rates.rate_table). None when the money is in
    the company currency alone (its own line is the total) or there is none. The board's columns and
    the account page use it."""
    from django.conf import settings

    from dealgate.analytics.rates import rate_entry

    company = settings.DEALGATE_CURRENCY
    if not money or all(m.currency == company for m in money):
        return None
    today = timezone.localdate()
    entries = {m.currency: rate_entry(table, m.currency, today) for m in money if m.currency != company}
    missing = tuple(sorted(code for code, entry in entries.items() if entry is None))
    if missing:
        return CompanyTotal(company, None, None, missing)
    rates = {code: entry[0] for code, entry in entries.items()} | {company: Decimal(1)}
    cent = Decimal("0.01")
    total = sum(((m.total * rates[m.currency]).quantize(cent) for m in money), Decimal("0.00"))
    weighted = sum(((m.weighted * rates[m.currency]).quantize(cent) for m in money), Decimal("0.00"))
    used = tuple((code, entry[0], entry[1]) for code, entry in sorted(entries.items()))
    return CompanyTotal(company, total, weighted, (), used)


def board_rates() -> Any:
    """The exchange rates in effect today, read once per board (the table is a handful of rows)."""
    from dealgate.analytics.rates import rate_table

    return rate_table()


@dataclass
class Card:
    deal: Deal
    days_in_stage: int
    flags: list[Any]
    progress: Any  # CriteriaProgress(met, total, results) or None when the stage has no exit criteria
    editable: bool
    next_step_overdue: bool
    open_tasks: int = 0
    overdue_tasks: int = 0

    @property
    def badges(self) -> list[Any]:
        """The flags shown as badges: the deal's state (quiet or slow, waiting, close date, slipped, one contact)."""
        return [f for f in self.flags if f.code not in NOT_CARD_BADGES]


@dataclass
class Column:
    stage: Stage
    count: int = 0
    money: list[Money] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    next_offset: int | None = None  # where "load more" starts; None when every card is shown
    company: CompanyTotal | None = None  # the total in the company currency, when other currencies are in it


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    won: Stage | None
    lost: Stage | None


def open_deals(pipeline: Pipeline, user: Any, filters: BoardFilters, *, stages: list[Stage],
               now: dt.datetime) -> QuerySet:
    """The open deals of a pipeline this user may see, narrowed by the filters.

    Open means in an open stage: the move service sets `closed_at` exactly when a deal enters Won
    or Lost, so the stage alone decides. Filtering on (pipeline, stage) only, with no `closed_at IS
    NULL` test, keeps SQLite on the board index: without per-value statistics it takes the
    `closed_at` index for "IS NULL" as if it matched a couple of rows, where it matches every open deal.
    """
    qs = visible_deals(user, Deal.objects.filter(pipeline=pipeline, stage_id__in=[s.pk for s in stages]))
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
    tasks = _task_counts(deals, today)
    return [
        Card(
            deal=deal,
            days_in_stage=(today - timezone.localdate(deal.stage_entered_at)).days,
            flags=flags.get(deal.pk, []),
            progress=progress.get(deal.pk),
            editable=can_edit_deal(user, deal),
            next_step_overdue=bool(deal.next_step_due and deal.next_step_due < today),
            open_tasks=tasks.get(deal.pk, (0, 0))[0],
            overdue_tasks=tasks.get(deal.pk, (0, 0))[1],
        )
        for deal in deals
    ]


def card_for(deal: Deal, user: Any, *, now: dt.datetime | None = None) -> Card:
    """One deal's card as the board shows it (after an inline fix in the refusal panel)."""
    return _cards([deal], user, now=now or timezone.now())[0]


def _task_counts(deals: list[Deal], today: dt.date) -> dict[int, tuple[int, int]]:
    """Per deal: (open tasks, overdue open tasks), in one grouped query for all cards."""
    if not deals:
        return {}
    from dealgate.automation.models import Task  # automation sits above deals; only the board reads it

    rows = (Task.objects.filter(deal_id__in=[d.pk for d in deals], done=False).order_by().values("deal_id")
            .annotate(n=Count("id"), late=Count("id", filter=Q(due__lt=today))))
    return {row["deal_id"]: (row["n"], row["late"]) for row in rows}


def first_cards(qs: QuerySet, stages: list[Stage], *, offset: int, limit: int) -> list[Deal]:
    """The deals of cards `offset` to `offset + limit` of each stage's column, in one query.

    Each column is its own ordered LIMIT subquery, so the database walks the board index of each
    stage and stops after `limit` rows instead of numbering every open deal; the subqueries are
    glued with UNION ALL, each wrapped in a derived table (SQLite allows no LIMIT on a bare UNION
    member). The stage and pipeline objects in hand are attached to the deals instead of joined.
    """
    parts, params = [], []
    for stage in stages:
        column = qs.filter(stage_id=stage.pk).order_by(*CARD_ORDER).values("id")[offset:offset + limit]
        try:
            sql, column_params = column.query.sql_with_params()
        except EmptyResultSet:  # e.g. `qs.none()` for someone who may see nothing
            continue
        parts.append(f"SELECT * FROM ({sql}) column_{stage.pk}")
        params.extend(column_params)
    if not parts:
        return []
    deals = list(
        Deal.objects.filter(id__in=RawSQL(" UNION ALL ".join(parts), params))
        .select_related("account", "owner")
        .order_by(*CARD_ORDER)
    )
    stage_by_id = {s.pk: s for s in stages}
    for deal in deals:
        deal.stage = stage_by_id[deal.stage_id]
        deal.pipeline = deal.stage.pipeline
    return deals


def build_board(pipeline: Pipeline, user: Any, filters: BoardFilters, *, per_column: int = CARDS_PER_COLUMN,
                now: dt.datetime | None = None) -> Board:
    now = now or timezone.now()
    all_stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    for stage in all_stages:
        stage.pipeline = pipeline
    stages = [s for s in all_stages if s.takes_deals]  # a retired stage has no column (decision 036)
    qs = open_deals(pipeline, user, filters, stages=stages, now=now)
    money = column_money(qs, stages)
    cards_by_stage: dict[int, list[Card]] = defaultdict(list)
    for card in _cards(first_cards(qs, stages, offset=0, limit=per_column), user, now=now):
        cards_by_stage[card.deal.stage_id].append(card)
    columns = []
    table = board_rates()
    for stage in stages:
        count, stage_money = money.get(stage.pk, (0, []))
        cards = cards_by_stage.get(stage.pk, [])
        columns.append(Column(stage, count, stage_money, cards, len(cards) if count > len(cards) else None,
                              company_total(stage_money, table)))
    by_kind = {s.kind: s for s in all_stages if s.kind != StageKind.OPEN}
    return Board(pipeline, columns, by_kind.get(StageKind.WON), by_kind.get(StageKind.LOST))


def build_column(pipeline: Pipeline, stage: Stage, user: Any, filters: BoardFilters, *, offset: int = 0,
                 limit: int = CARDS_PER_COLUMN, now: dt.datetime | None = None) -> Column:
    """One column: its header numbers and the cards from `offset` (the "load more" page)."""
    return build_columns(pipeline, [stage], user, filters, offset=offset, limit=limit, now=now)[0]


def build_columns(pipeline: Pipeline, wanted: list[Stage], user: Any, filters: BoardFilters, *, offset: int = 0,
                  limit: int = CARDS_PER_COLUMN, now: dt.datetime | None = None,
                  cards_in: set[int] | None = None) -> list[Column]:
    """Some columns, in the order asked, read together (one pass for their totals, cards, flags and
    criteria). `cards_in`: the stages whose cards are wanted too (default all); the others get their
    header figures only, as the column a dropped card left needs."""
    now = now or timezone.now()
    stages = list(Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN))
    for each in stages:
        each.pipeline = pipeline
    ids = [stage.pk for stage in wanted]
    with_cards = set(ids) if cards_in is None else set(ids) & cards_in
    qs = open_deals(pipeline, user, filters, stages=stages, now=now)
    money = column_money(qs.filter(stage_id__in=ids), stages)
    cards_by_stage: dict[int, list[Card]] = defaultdict(list)
    deals = first_cards(qs, [s for s in stages if s.pk in with_cards], offset=offset, limit=limit)
    for card in _cards(deals, user, now=now):
        cards_by_stage[card.deal.stage_id].append(card)
    table = board_rates()
    columns = []
    for stage in wanted:
        count, stage_money = money.get(stage.pk, (0, []))
        cards = cards_by_stage.get(stage.pk, [])
        end = offset + len(cards)
        columns.append(Column(stage, count, stage_money, cards,
                              end if count > end and stage.pk in with_cards else None,
                              company_total(stage_money, table)))
    return columns


def first_page_ids(pipeline: Pipeline, stage: Stage, user: Any, filters: BoardFilters, *,
                   now: dt.datetime | None = None) -> list[int]:
    """The deal ids of a column's first page of cards, in card order: where a dropped card lands."""
    stages = list(Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN))
    qs = open_deals(pipeline, user, filters, stages=stages, now=now or timezone.now())
    return list(qs.filter(stage_id=stage.pk).order_by(*CARD_ORDER).values_list("id", flat=True)[:CARDS_PER_COLUMN])


# ---------------------------------------------------------------------------------------------
# The manager's per-rep summary


@dataclass
class RepLine:
    owner: Any
    open: int = 0
    weighted: list[Money] = field(default_factory=list)  # per currency, never added across currencies
    stale: int = 0
    due_this_week: int = 0


def rep_summary(pipeline: Pipeline, user: Any, *, today: dt.date | None = None) -> list[RepLine]:
    """Per owner of the open deals this user may see (a manager: their team's; an admin: everyone's):
    open deals, weighted total per currency, stale deals (the `stale` flag: idle past the stage's limit
    with no next step planned ahead) and next steps due this week (Monday to Sunday), in one grouped query.
    """
    today = today or timezone.localdate()
    stages = list(Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN))
    qs = visible_deals(user, Deal.objects.filter(pipeline=pipeline, stage_id__in=[s.pk for s in stages]))
    monday = today - dt.timedelta(days=today.weekday())
    idle = idle_past_limit(stages, business_days=pipeline.business_days, today=today)
    waiting = ~Q(next_step="") & Q(next_step_due__gte=today)
    hundred = Value(Decimal(100))
    rows = (
        qs.order_by()
        .annotate(flag_last_touch=quiet_since())
        .values("owner_id", "currency", "stage_id")
        .annotate(
            n=Count("id"),
            plain=Sum("amount", filter=Q(probability_override__isnull=True)),
            overridden=Sum(ExpressionWrapper(F("amount") * F("probability_override") / hundred,
                                             output_field=DecimalField(max_digits=20, decimal_places=4)),
                           filter=Q(probability_override__isnull=False)),
            stale=Count("id", filter=idle & ~waiting),
            due=Count("id", filter=Q(next_step_due__gte=monday, next_step_due__lte=monday + dt.timedelta(days=6))),
        )
    )
    probability = {s.pk: Decimal(s.probability) for s in stages}
    lines: dict[int, RepLine] = {}
    weighted: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        line = lines.setdefault(row["owner_id"], RepLine(owner=None))
        line.open += row["n"]
        line.stale += row["stale"]
        line.due_this_week += row["due"]
        if row["plain"] is not None or row["overridden"] is not None:
            weighted[row["owner_id"]][row["currency"]] += (
                (row["plain"] or 0) * probability[row["stage_id"]] / 100 + (row["overridden"] or 0))
    from django.contrib.auth import get_user_model

    for owner in get_user_model().objects.filter(pk__in=list(lines)):
        lines[owner.pk].owner = owner
    for owner_id, line in lines.items():
        line.weighted = [Money(currency, Decimal(0), total) for currency, total in sorted(weighted[owner_id].items())]
    return sorted(lines.values(), key=lambda line: ((line.owner.get_full_name() or line.owner.username).lower(),
                                                   line.owner.pk))
