"""Generate a believable demo company: a year of deals that went through the real gates.

    generate(deals=2000, seed=7, today=date(2026, 11, 24))

Deterministic: the same (deals, seed, today) writes the same rows. People and pipelines are
created through their services and reused on later runs; each call adds `deals` new deals.

This is the one documented exception to "writes go through services": deals and their history
are bulk-inserted, chunk by chunk (one transaction per chunk), because the generator must reach
a million deals and the services write one row at a time (see `dealgate.deals.bulk`). The
simulation (`dealgate.demo.simulate`) only creates facts that satisfy each stage's criteria
before each move, so the history is one the gate would have allowed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from dealgate.audit.context import current_surface
from dealgate.audit.models import AuditEntry
from dealgate.deals.models import (
    Account,
    Activity,
    Approval,
    ChecklistAnswer,
    Contact,
    Deal,
    DealContact,
    FieldChange,
    StageHistory,
)
from dealgate.deals.bulk import BulkWriter
from dealgate.deals.timeline import refresh_spans, vacuum_spans
from dealgate.errors import ValidationFailed
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import CustomField
from dealgate.signals.services import DISTRIBUTOR_TEMPLATE

from .cast import DEMO_PASSWORD, Cast, ensure_cast, lost_reasons
from .orders import OrderSummary, write_order_history
from .simulate import DealStory, PipelinePlan, Simulator, TeamPlan

CHUNK = 5_000  # deals simulated and inserted per transaction: bounds memory, keeps transactions short
_CUSTOM_KINDS = {"number": "int", "date": "isodate", "boolean": "boolean", "text": "text"}


@dataclass
class Summary:
    deals: int = 0
    open: int = 0
    won: int = 0
    lost: int = 0
    stale: int = 0
    accounts: int = 0
    contacts: int = 0
    rows: Counter = field(default_factory=Counter)  # table -> rows inserted
    seconds: float = 0.0
    logins: list[tuple[str, str]] = field(default_factory=list)  # (username, role)
    password: str = DEMO_PASSWORD
    orders: OrderSummary = field(default_factory=OrderSummary)
    order_reps: tuple[str, ...] = ()  # whose Signals inbox the demo's order history fills
    rates: tuple[tuple[str, dt.date, str], ...] = ()  # (currency, from, rate) entered this run
    quotas: tuple[str, int] = ("", 0)  # (period, reps) whose quota this run set

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        rate = self.deals / self.seconds if self.seconds else 0.0
        lines = [
            f"Generated {self.deals:,} deals in {self.seconds:.1f} s ({rate:,.0f} deals/s, "
            f"{self.total_rows:,} rows): {self.open:,} open ({self.stale:,} stale), {self.won:,} won, "
            f"{self.lost:,} lost; {self.accounts:,} new accounts, {self.contacts:,} contacts.",
        ]
        if self.order_reps:
            lines.append(self.orders.line(self.order_reps))
        if self.rates:
            lines.append("Exchange rates entered (settings, Exchange rates): " + "; ".join(
                f"1 {code} = {rate} {settings.DEALGATE_CURRENCY} from {day:%-d %b %Y}"
                for code, day, rate in self.rates) + ".")
        if self.quotas[1]:
            lines.append(f"Quotas set for {self.quotas[0]} (settings, Quotas): {self.quotas[1]} reps, each a fifth "
                         "above what they won the quarter before.")
        lines += [f"Demo login: {username} / {self.password} ({role})" for username, role in self.logins]
        return lines


def generate(*, deals: int, seed: int, today: dt.date | None = None, stdout: Any = None,
             chunk_size: int = CHUNK) -> Summary:
    """Add `deals` demo deals created over the year before `today` (default: today) and print a summary."""
    if deals < 0:
        raise ValidationFailed.for_field("deals", "cannot be negative")
    started = time.perf_counter()
    out = stdout if stdout is not None else sys.stdout
    cast = ensure_cast()
    today = today or timezone.localdate()
    sim = Simulator(teams=_team_plans(cast, seed), loss_reason_ids=[r.pk for r in lost_reasons()], seed=seed,
                    today=today, deals=max(1, deals), currency=settings.DEALGATE_CURRENCY,
                    custom_field_types={cf.key: _CUSTOM_KINDS[cf.type] for cf in CustomField.objects.all()})
    summary = Summary(logins=cast.logins())
    summary.rates = _demo_exchange_rates(cast, today, settings.DEALGATE_CURRENCY)
    tables = _Tables()
    analyzed_at = _last_deal_id()  # deals in the database when the planner's statistics were last refreshed
    for start in range(0, deals, chunk_size):
        stories = [sim.story(k) for k in range(start, min(deals, start + chunk_size))]
        with transaction.atomic():
            before = _last_deal_id()
            _insert(tables, sim, stories, summary)
            last = _last_deal_id()
            refresh_spans(id_range=(before, last))
        if last >= 2 * analyzed_at + chunk_size:
            # Each doubling of the tables: with the empty tables' estimates, each chunk's span query
            # planned its per-span lookups as a scan of a whole stage's history (O(total) per chunk).
            _refresh_planner_statistics()
            analyzed_at = last
        if deals > chunk_size:
            rate = summary.deals / (time.perf_counter() - started)
            out.write(f"  {summary.deals:,} / {deals:,} deals ({rate:,.0f} deals/s)\n")
    # The distributor team's accounts get order history (their own random stream: the deals above
    # are the same with or without it), and the signal scan fills that team's Signals inbox.
    distributors = [team for team in cast.teams if team.pipeline.template == DISTRIBUTOR_TEMPLATE]
    summary.order_reps = tuple(user.username for team in distributors for user in team.reps)
    summary.orders = write_order_history([user.pk for team in distributors for user in team.reps], seed=seed,
                                         today=today, currency=settings.DEALGATE_CURRENCY)
    summary.rows["signals_orderline"] += summary.orders.order_lines
    summary.rows["signals_quote"] += summary.orders.quotes
    summary.quotas = _demo_quotas(cast, today)
    _refresh_planner_statistics()
    vacuum_spans()
    summary.seconds = time.perf_counter() - started
    out.write("\n".join(summary.lines()) + "\n")
    return summary


# What one unit of the demo's foreign currency is worth in the company currency: a year back and since
# the start of the current quarter, so the board's company total and the dated conversion both show.
DEMO_RATES = {"USD": ("0.91", "0.93"), "EUR": ("1.10", "1.08")}


def _demo_exchange_rates(cast: Cast, today: dt.date, currency: str) -> tuple[tuple[str, dt.date, str], ...]:
    """The demo's foreign-currency deals convert (decision 035), entered as the demo admin through the
    same service as the settings page; a currency that already has a rate is left as the admin set it."""
    from dealgate.analytics.models import ExchangeRate
    from dealgate.analytics.rates import set_rate

    foreign = Simulator.foreign_currency_for(currency)
    if ExchangeRate.objects.filter(currency=foreign).exists():
        return ()
    year_ago, this_quarter = DEMO_RATES[foreign]
    days = (today - dt.timedelta(days=365), dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1))
    entered = tuple((foreign, day, rate) for day, rate in zip(days, (year_ago, this_quarter)))
    for code, day, rate in entered:
        set_rate(currency=code, rate=rate, effective_from=day, by=cast.admin)
    return entered


def _demo_quotas(cast: Cast, today: dt.date) -> tuple[str, int]:
    """Quotas for the quarter of `today`, so insights and the forecast show coverage and attainment
    from the first visit: each rep's is what they won in company currency the quarter before, plus
    a fifth, rounded up to 5,000; set as the demo admin through the quota service, like the settings
    page. Reps who won nothing then, or already have a quota for the quarter, are left alone."""
    from dealgate.analytics.periods import period_containing
    from dealgate.analytics.services import find_quota, set_quota

    quarter = period_containing(today, 3)
    before = quarter.shifted(-1)
    reps = [rep for team in cast.teams for rep in team.reps]
    won = dict(Deal.objects.filter(owner__in=reps, stage__kind="won", currency=settings.DEALGATE_CURRENCY,
                                   closed_at__gte=before.start, closed_at__lt=before.end)
               .order_by().values_list("owner_id").annotate(total=Sum("amount")))
    count = 0
    for rep in reps:
        if not won.get(rep.pk) or find_quota(owner=rep, period=quarter):
            continue
        amount = math.ceil(won[rep.pk] * 6 / 5 / 5000) * 5000
        set_quota(owner=rep, period=quarter, amount=amount, by=cast.admin)
        count += 1
    return quarter.label, count


def _last_deal_id() -> int:
    return Deal.objects.aggregate(last=Max("id"))["last"] or 0


def _refresh_planner_statistics() -> None:
    """After a bulk load the planner's row estimates are stale (PostgreSQL's autovacuum catches up
    minutes later, or never where it is off); with them a first page of 50 deals was planned as a
    15,000-row join (140 ms instead of 15 ms)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _team_plans(cast: Cast, seed: int) -> list[TeamPlan]:
    reasons = [r.key for r in lost_reasons()]
    pipelines: dict[int, PipelinePlan] = {}
    plans = []
    for team in cast.teams:
        pipeline = team.pipeline
        if pipeline.pk not in pipelines:
            rng = random.Random(f"{seed}:{pipeline.key}")  # by key, not id: the same plan in any database
            pipelines[pipeline.pk] = PipelinePlan.build(pipeline, PipelineRules.load(pipeline.pk), reasons, rng)
        plans.append(TeamPlan(
            team_id=team.team.pk, share=team.share, rep_ids=tuple(u.pk for u in team.reps),
            rep_team_ids=tuple(u.profile.team_id for u in team.reps), skills=team.skills,
            manager_id=team.manager.pk, admin_id=cast.admin.pk, segments=team.segments,
            pipeline=pipelines[pipeline.pk],
        ))
    return plans


DEAL_COLUMNS = (
    "id", "account_id", "title", "owner_id", "team_id", "pipeline_id", "stage_id", "amount", "currency",
    "expected_close_date", "probability_override", "forecast_category", "source", "next_step", "next_step_due",
    "created_at", "stage_entered_at", "last_activity_at", "closed_at", "lost_reason_id", "lost_note",
    "close_date_slips", "custom_fields", "external_id", "version",
)


class _Table(BulkWriter):
    """A demo table: its rows are counted in the run's summary."""

    def write(self, rows: Iterable[tuple], summary: Summary) -> None:
        summary.rows[self.table] += self.insert(rows)


class _Tables:
    """The tables a chunk writes, with their column lists, prepared once per run."""

    def __init__(self) -> None:
        self.account = _Table(Account, ("id", "name", "segment", "owner_id", "external_id", "created_at"))
        self.contact = _Table(Contact, ("id", "account_id", "name", "email", "phone", "title", "external_id"))
        self.deal = _Table(Deal, DEAL_COLUMNS)
        self.history = _Table(StageHistory, (
            "deal_id", "kind", "from_stage_id", "to_stage_id", "at", "by_id", "amount", "probability", "currency",
            "override", "override_reason", "imported"))
        self.activity = _Table(Activity, (
            "deal_id", "account_id", "kind", "subject", "outcome", "occurred_at", "by_id", "notes", "created_at"))
        self.checklist = _Table(ChecklistAnswer, ("deal_id", "item", "evidence", "by_id", "at", "checked"))
        self.approval = _Table(Approval, ("deal_id", "condition", "approved_by_id", "approved_at", "note"))
        self.deal_contact = _Table(DealContact, ("deal_id", "contact_id", "role"))
        self.change = _Table(FieldChange, ("deal_id", "field", "old_value", "new_value", "at", "by_id"))
        self.audit = _Table(AuditEntry, ("at", "by_id", "surface", "object_type", "object_id", "object_name", "action",
                                         "field", "before", "after", "note"))


def _insert(tables: _Tables, sim: Simulator, stories: list[DealStory], summary: Summary) -> None:
    book = sim.book
    new_accounts = sim.take_new_accounts()
    first_deal: dict[int, dt.datetime] = {}
    for story in stories:
        first_deal.setdefault(story.account, story.deal["created_at"])
    account_ids = tables.account.reserve_ids(len(new_accounts))
    accounts = []
    for j, account_id in zip(new_accounts, account_ids):
        row = sim.account_row(j)
        created = first_deal[j] - dt.timedelta(days=1 + j % 29)
        accounts.append((account_id, row["name"], row["segment"], row["owner_id"], None, created))
    tables.account.write(accounts, summary)
    book.ids.extend(account_ids)
    people = [(j, account_id, person) for j, account_id in zip(new_accounts, account_ids)
              for person in sim.contact_rows(j)]
    contact_ids = tables.contact.reserve_ids(len(people))
    contacts, seen = [], set()
    for contact_id, (j, account_id, p) in zip(contact_ids, people):
        if j not in seen:
            seen.add(j)
            book.contact_start.append(len(book.contact_ids) + len(contacts))
        contacts.append((contact_id, account_id, p["name"], p["email"], p["phone"], p["title"], None))
    tables.contact.write(contacts, summary)
    book.contact_ids.extend(contact_ids)
    summary.accounts += len(accounts)
    summary.contacts += len(contacts)

    deal_ids = tables.deal.reserve_ids(len(stories))
    defaults = {"team_id": None, "lost_reason_id": None, "external_id": None, "probability_override": None}
    tables.deal.write((
        tuple({**defaults, **s.deal, "id": deal_id, "account_id": book.ids[s.account]}[c] for c in DEAL_COLUMNS)
        for s, deal_id in zip(stories, deal_ids)
    ), summary)
    for story in stories:
        kind = story.history[-1][0]
        summary.deals += 1
        summary.stale += story.stale
        summary.won += kind == "won"
        summary.lost += kind == "lost"
        summary.open += kind not in ("won", "lost")
    pairs = list(zip(stories, deal_ids))
    tables.history.write(((d, *h, s.deal["currency"], False, "", False) for s, d in pairs for h in s.history), summary)
    tables.activity.write(((d, book.ids[s.account], kind, subject, outcome, at, by, "", at)
                            for s, d in pairs for kind, subject, outcome, at, by in s.activities), summary)
    tables.checklist.write(((d, item, evidence, by, at, True)
                             for s, d in pairs for item, (evidence, by, at) in s.checklist.items()), summary)
    tables.approval.write(((d, condition, by, at, note)
                            for s, d in pairs for condition, (by, at, note) in s.approvals.items()), summary)
    tables.deal_contact.write(((d, book.contact_ids[book.contact_start[s.account] + slot], role)
                                for s, d in pairs for slot, role in s.contacts), summary)
    tables.change.write(((d, *change) for s, d in pairs for change in s.changes), summary)
    # The audit log says these deals and accounts came from the demo generator, one row each, written
    # with the same bulk insert; their simulated past lives in the stage history.
    now, surface = timezone.now(), current_surface()
    tables.audit.write(itertools.chain(
        ((now, None, surface, "account", row[0], row[1][:200], "created", "", "", "", "demo data") for row in accounts),
        ((now, None, surface, "deal", d, s.deal["title"][:200], "created", "", "", "", "demo data") for s, d in pairs),
    ), summary)
