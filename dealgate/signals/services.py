"""Every write to signals: the scan that raises them, and a rep's convert, snooze and dismiss."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dealgate.audit.services import record
from dealgate.automation.events import signals_raised
from dealgate.deals.models import Account, Deal, Source
from dealgate.deals.services import create_deal, log_activity
from dealgate.errors import Conflict, NotAllowed, ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.access import role_of, team_id_of
from dealgate.people.models import Role
from dealgate.pipelines.models import Pipeline
from dealgate.signals.cadence import KEPT, kept_totals_sql, product_sums_sql, thresholds
from dealgate.signals.detectors import Recheck, detect_for, quarter_of
from dealgate.signals.models import (AccountRecheck, LineYear, LinesChanged, OrderLine, OrderLineDay, ProductTotal,
                                     ScanState, Signal, SignalStatus, take_turns_with_order_writes)
from dealgate.signals.wording import evidence_sentence, signal_currency

DISTRIBUTOR_TEMPLATE = "distributor-5"


@dataclass
class ScanResult:
    as_of: dt.date
    candidates: int = 0
    raised: dict[str, int] = field(default_factory=dict)
    full: bool = True
    accounts_read: int = 0  # accounts whose order lines the scan recomputed (all of them in a full scan)
    units_read: int = 0  # of those, the accounts whose product lines and products it read too (decision 041)
    why_full: str = ""

    @property
    def total(self) -> int:
        return sum(self.raised.values())

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "candidates": self.candidates, "raised": self.total,
                "by_kind": self.raised, "full": self.full, "accounts_read": self.accounts_read,
                "units_read": self.units_read}


def thresholds_key() -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(thresholds().items()))


@dataclass
class Rescan:
    """What an incremental scan recomputes: `accounts` at the account grain, `units` (a part of them)
    with their product lines and products too; None: everything (a full scan, `why_full` says why)."""

    accounts: list[int] | None
    units: list[int] | None
    why_full: str = ""
    # the accounts with order lines added dated before the last scan's date, or changed or deleted since it
    # (a part of `units`): their kept sums are summed again (decisions 045, 048); the others' sums are
    # those of the last scan plus the order days from its date to this one's
    recount: list[int] | None = None


def accounts_to_rescan(as_of: dt.date, last: ScanState | None, marked: list[int] | None = None) -> Rescan:
    """The accounts an incremental scan must recompute after `last`, or a full scan (with why) when only
    it gives the same result: no scan before, an earlier date, another calendar quarter (the declines'
    cause), other thresholds. Else: accounts with order lines written since (a higher id) or dated
    since the last scan's date, accounts whose lines were deleted or changed (`marked`, from
    `LinesChanged`, decision 037), all of them read whole; and accounts whose recheck date has come
    (`detectors.recheck_dates`), read whole when it is a line's or product's stop date
    (`units_recheck_on`), else at the account grain only (decision 041)."""
    if last is None:
        return Rescan(None, None, "no scan before")
    if as_of < last.as_of:
        return Rescan(None, None, f"the last scan was as of a later day ({last.as_of.isoformat()})")
    if quarter_of(as_of) != quarter_of(last.as_of):
        return Rescan(None, None, f"a new quarter since the last scan ({quarter_of(last.as_of)})")
    if last.thresholds != thresholds_key():
        return Rescan(None, None, "the signal settings changed")
    # new lines: by the id range above the last scan's highest (the primary key's index)
    written = list(OrderLine.objects.filter(pk__gt=last.last_line_id).values_list("account_id", "ordered_at")
                   .distinct())
    changed = {account for account, _ in written}
    changed |= set(OrderLine.objects.filter(ordered_at__gte=last.as_of, ordered_at__lt=as_of)
                   .values_list("account_id", flat=True).distinct())
    recount = {account for account, day in written if day < last.as_of} | set(marked or ())
    units = changed | recount | set(AccountRecheck.objects.filter(units_recheck_on__lte=as_of)
                                    .values_list("account_id", flat=True))
    due = set(AccountRecheck.objects.filter(recheck_on__lte=as_of).values_list("account_id", flat=True))
    return Rescan(sorted(units | due), sorted(units), recount=sorted(recount))


def scan_signals(as_of: dt.date | None = None, *, by: Any = None, full: bool = False) -> ScanResult:
    """Raise the signals whose cause is new as of `as_of` (default today); a cause already raised is skipped.

    Incremental unless `full` (decision 020): after a scan earlier in the same quarter, only the
    accounts whose order lines changed or whose recheck date has come are recomputed, plus the
    expired quotes and cross-sell gaps of all; what it raises is what a full scan would raise."""
    if by is not None and role_of(by) not in (Role.MANAGER, Role.ADMIN):
        raise NotAllowed("Only managers and admins may run a signal scan.")
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        # One scan at a time: the state row is locked until this scan's signals and state are written.
        last = ScanState.objects.select_for_update().order_by("pk").first()
        take_turns_with_order_writes()  # an import still writing lines commits first (decision 020)
        last_line_id = OrderLine.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        # Accounts whose lines were deleted or changed since (the rollup triggers mark them): read now,
        # cleared once this scan has recomputed them.
        marked = list(LinesChanged.objects.values_list("account_id", flat=True))
        rescan = Rescan(None, None, "asked for") if full else accounts_to_rescan(as_of, last, marked)
        kept_since = None if rescan.accounts is None else last
        keep_line_years(as_of, kept_since, rescan.recount)
        keep_totals(as_of, kept_since, rescan.recount)
        keep_product_totals(as_of, kept_since, rescan.recount)
        candidates, rechecks = detect_for(as_of, rescan.accounts, unit_ids=rescan.units, kept=True)
        result = ScanResult(as_of=as_of, candidates=len(candidates), full=rescan.accounts is None,
                            accounts_read=len(rechecks), why_full=rescan.why_full,
                            units_read=len(rechecks) if rescan.units is None else len(rescan.units))
        raise_new(candidates, result)
        save_rechecks(rechecks, rescan)
        for start in range(0, len(marked), 5000):
            LinesChanged.objects.filter(account_id__in=marked[start:start + 5000]).delete()
        if last is None:
            last = ScanState(as_of=as_of, last_line_id=last_line_id, thresholds=thresholds_key(), at=timezone.now())
        last.as_of, last.last_line_id, last.thresholds, last.at = as_of, last_line_id, thresholds_key(), timezone.now()
        last.save()
    return result


YEAR_SUMS = f"""SELECT account_id, product_line, SUM(revenue) AS revenue, COUNT(*) AS days FROM {OrderLineDay._meta.db_table}
    WHERE day >= %(start)s AND day < %(end)s{{only}} GROUP BY account_id, product_line"""


def keep_line_years(as_of: dt.date, last: ScanState | None, recount: list[int] | None) -> None:
    """`LineYear` made the year before `as_of` (decision 045). `last` None: summed again for every account.
    Else it was the year before `last.as_of`: the days that left the year are taken off and those that
    entered added (one day's line-days each, for a daily scan), then the accounts in `recount` (those
    whose lines were added, changed or deleted since, and more) are summed again from their line-days."""
    table = LineYear._meta.db_table
    year = dt.timedelta(days=365)
    with connection.cursor() as cursor:
        if last is None:
            cursor.execute(empty_sql(table))
            cursor.execute(f"INSERT INTO {table} (account_id, product_line, revenue, days) "
                           + YEAR_SUMS.format(only=""), {"start": as_of - year, "end": as_of})
            return
        if last.as_of < as_of:
            cursor.execute(f"""UPDATE {table} SET revenue = {table}.revenue - s.gone_revenue,
                days = {table}.days - s.gone_days
                FROM (SELECT account_id AS gone_account, product_line AS gone_line, revenue AS gone_revenue,
                      days AS gone_days FROM ({YEAR_SUMS.format(only="")}) sums) s
                WHERE {table}.account_id = s.gone_account AND {table}.product_line = s.gone_line""",
                           {"start": last.as_of - year, "end": as_of - year})
            cursor.execute(f"DELETE FROM {table} WHERE days <= 0")
            cursor.execute(f"""INSERT INTO {table} (account_id, product_line, revenue, days)
                {YEAR_SUMS.format(only="")}
                ON CONFLICT (account_id, product_line) DO UPDATE SET revenue = {table}.revenue + excluded.revenue,
                    days = {table}.days + excluded.days""", {"start": last.as_of, "end": as_of})
        for chunk in chunks(recount or []):
            only, params = accounts_in(chunk)
            cursor.execute(f"DELETE FROM {table} WHERE 1 = 1{only}", params)
            cursor.execute(f"INSERT INTO {table} (account_id, product_line, revenue, days) "
                           + YEAR_SUMS.format(only=only), {**params, "start": as_of - year, "end": as_of})


def keep_totals(as_of: dt.date, last: ScanState | None, recount: list[int] | None) -> None:
    """`AccountTotal` and `LineTotal` made as of `as_of` (decision 048). `last` None: summed again for every
    unit. Else they were made as of `last.as_of`: the order days from that date to `as_of` are added (with
    each unit's `read_from` probed again), then the accounts in `recount` (lines added with an earlier
    date, changed or deleted since) are summed again whole. Every other account's order days before
    `last.as_of` are those the last scan summed."""
    tail = thresholds()["recent_gaps"]
    with connection.cursor() as cursor:
        for grain, table in KEPT.items():
            if last is None:
                cursor.execute(empty_sql(table))
                cursor.execute(kept_totals_sql(grain), {"as_of": as_of, "tail": tail})
                if connection.vendor == "postgresql":
                    # its statistics for the incremental scans' plans: each unit's few last days read
                    # through the rollup's index, not every day of the units filtered afterwards
                    cursor.execute(f"ANALYZE {table}")
                continue
            if last.as_of < as_of:
                # the accounts with such days through the lines' (ordered_at, account) index: the order-day
                # rollup has no index by day alone
                cursor.execute(kept_totals_sql(grain, f" AND account_id IN (SELECT account_id FROM {OrderLine._meta.db_table}"
                                               " WHERE ordered_at >= %(since)s AND ordered_at < %(as_of)s)"
                                               " AND day >= %(since)s", add=True),
                               {"as_of": as_of, "tail": tail, "since": last.as_of})
            for chunk in chunks(recount or []):
                only, params = accounts_in(chunk)
                cursor.execute(f"DELETE FROM {table} WHERE 1 = 1{only}", params)
                cursor.execute(kept_totals_sql(grain, only), {**params, "as_of": as_of, "tail": tail})


def keep_product_totals(as_of: dt.date, last: ScanState | None, recount: list[int] | None) -> None:
    """`ProductTotal` made as of `as_of` (decision 054), as `keep_totals`: `last` None, summed again for every
    account; else the lines dated from `last.as_of` to `as_of` are added (through the lines' date index),
    then the accounts in `recount` are summed again whole."""
    table = ProductTotal._meta.db_table
    insert = f"INSERT INTO {table} (account_id, product, revenue, margin) "
    params = {"as_of": as_of, "month_start": as_of.replace(day=1)}
    with connection.cursor() as cursor:
        if last is None:
            cursor.execute(empty_sql(table))
            cursor.execute(insert + product_sums_sql(""), params)
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {table}")  # as keep_totals: the picks probe its index by account
            return
        if last.as_of < as_of:
            cursor.execute(insert + f"""SELECT account_id, product, SUM(revenue), SUM(COALESCE(margin, 0))
                FROM {OrderLine._meta.db_table} WHERE ordered_at >= %(since)s AND ordered_at < %(as_of)s
                GROUP BY account_id, product
                ON CONFLICT (account_id, product) DO UPDATE SET revenue = {table}.revenue + excluded.revenue,
                    margin = {table}.margin + excluded.margin""", {**params, "since": last.as_of})
        for chunk in chunks(recount or []):
            only, accounts = accounts_in(chunk)
            cursor.execute(f"DELETE FROM {table} WHERE 1 = 1{only}", accounts)
            cursor.execute(insert + product_sums_sql(only), {**params, **accounts})


def empty_sql(table: str) -> str:
    """Empties a table the scan keeps before a full scan sums it again. PostgreSQL: TRUNCATE (in the scan's
    transaction; only scans read these tables), so the next scan's index reads do not step over a whole
    table of dead rows."""
    return f"TRUNCATE {table}" if connection.vendor == "postgresql" else f"DELETE FROM {table}"


def accounts_in(ids: list[int]) -> tuple[str, dict[str, Any]]:
    """` AND account_id IN (...)` for a list of ids, and its parameters (PostgreSQL: one array)."""
    if connection.vendor == "postgresql":
        return " AND account_id IN (SELECT unnest(%(accounts)s::bigint[]))", {"accounts": [int(i) for i in ids]}
    return f" AND account_id IN ({', '.join(str(int(i)) for i in ids)})", {}


def chunks(ids: list[int], size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def save_rechecks(rechecks: dict[int, Recheck], rescan: Rescan) -> None:
    """The recheck dates of the accounts read (all of them in a full scan), replacing their old ones (an
    account whose lines were all deleted has none left). An account read at the account grain only
    keeps its units' date: its lines and products were not read, so their stop dates stand."""
    if rescan.accounts is None:
        AccountRecheck.objects.all().delete()
    else:
        units = set(rescan.units or ())
        kept: dict[int, Any] = {}
        for chunk in chunks([pk for pk in rescan.accounts if pk not in units]):
            kept.update(AccountRecheck.objects.filter(account_id__in=chunk, units_recheck_on__isnull=False)
                        .values_list("account_id", "units_recheck_on"))
        for pk, day in kept.items():
            recheck = rechecks.setdefault(pk, Recheck())
            recheck.units = day
        for chunk in chunks(rescan.accounts):
            AccountRecheck.objects.filter(account_id__in=chunk).delete()
    AccountRecheck.objects.bulk_create([
        AccountRecheck(account_id=pk, recheck_on=recheck.first, units_recheck_on=recheck.units)
        for pk, recheck in rechecks.items() if recheck.first is not None], batch_size=5000)


def raise_new(candidates: list, result: ScanResult) -> None:
    """Store the candidates whose cause is new; the "signal raised" rules run once the transaction commits."""
    as_of = result.as_of
    now = timezone.now()
    raised_ids: list[int] = []
    for start in range(0, len(candidates), 5000):
        chunk = candidates[start:start + 5000]
        known = set(Signal.objects.filter(cause_key__in=[c.cause_key for c in chunk])
                    .values_list("cause_key", flat=True))
        new = [c for c in chunk if c.cause_key not in known]
        Signal.objects.bulk_create([
            Signal(kind=c.kind, account_id=c.account_id, cause_key=c.cause_key, title=c.title[:300],
                   evidence=c.evidence, revenue=Decimal(str(c.revenue)), as_of=as_of, raised_at=now)
            for c in new
        ], ignore_conflicts=True)
        for c in new:
            result.raised[c.kind] = result.raised.get(c.kind, 0) + 1
        # ignore_conflicts leaves no ids: read back the ones this scan wrote (not another's at the same time)
        raised_ids += Signal.objects.filter(cause_key__in=[c.cause_key for c in new], raised_at=now).values_list(
            "pk", flat=True)
    signals_raised(sorted(raised_ids))  # "signal raised" rules run in the worker once this commits


def signal_scope(user: Any) -> Q:
    """Signals a user sees: on accounts they own (reps), their team's accounts (managers), all (admins)."""
    role = role_of(user)
    if role == Role.ADMIN:
        return Q()
    if role == Role.MANAGER and team_id_of(user) is not None:
        return Q(account__owner_id=user.pk) | Q(account__owner__profile__team_id=team_id_of(user))
    return Q(account__owner_id=user.pk) if role else Q(pk__in=[])


def inbox(user: Any, *, include_snoozed: bool = False, today: dt.date | None = None) -> QuerySet:
    """Open signals a user may act on, highest revenue first (snoozed ones come back on their date)."""
    today = today or timezone.localdate()
    open_now = Q(status=SignalStatus.NEW) | Q(status=SignalStatus.SNOOZED, snoozed_until__lte=today)
    if include_snoozed:
        open_now |= Q(status=SignalStatus.SNOOZED)
    return (Signal.objects.filter(signal_scope(user)).filter(open_now).select_related("account")
            .order_by("-revenue", "-id"))


def _checked(signal: Signal, by: Any, *, system: bool = False) -> Signal:
    """The signal locked for change, once the user may act on it (`system`: an automation rule, by=None)
    and it is still open."""
    if not system and (by is None or not Signal.objects.filter(pk=signal.pk).filter(signal_scope(by)).exists()):
        raise NotAllowed("You can act only on signals of your own (or your team's) accounts.")
    locked = Signal.objects.select_for_update().get(pk=signal.pk)
    if locked.status in (SignalStatus.CONVERTED, SignalStatus.DISMISSED):
        raise Conflict(f"This signal is already {locked.get_status_display().lower()}.")
    return locked


@transaction.atomic
def snooze_signal(signal: Signal, until: dt.date, *, by: Any) -> Signal:
    locked = _checked(signal, by)
    if until <= timezone.localdate():
        raise ValidationFailed.for_field("until", "a snooze ends on a later day than today")
    before = locked.get_status_display()
    locked.status, locked.snoozed_until, locked.changed_by = SignalStatus.SNOOZED, until, by
    locked.save(update_fields=["status", "snoozed_until", "changed_by"])
    record(locked, "snoozed", by=by, field="status", before=before, after=locked.get_status_display(),
           note=f"until {until.isoformat()}")
    return locked


@transaction.atomic
def dismiss_signal(signal: Signal, reason: str, *, by: Any) -> Signal:
    locked = _checked(signal, by)
    reason = storable_text(reason, "reason").strip()
    if not reason:
        raise ValidationFailed.for_field("reason", "say why the signal is dismissed")
    if len(reason) > 300:
        raise ValidationFailed.for_field("reason", "is longer than 300 characters")
    before = locked.get_status_display()
    locked.status, locked.dismissed_reason, locked.changed_by = SignalStatus.DISMISSED, reason, by
    locked.save(update_fields=["status", "dismissed_reason", "changed_by"])
    record(locked, "dismissed", by=by, field="status", before=before, after=locked.get_status_display(), note=reason)
    return locked


def pipeline_for(account: Account) -> Pipeline:
    """The distributor pipeline when there is one, else the pipeline of the account's latest deal, else the first."""
    pipeline = (Pipeline.objects.filter(template=DISTRIBUTOR_TEMPLATE).order_by("pk").first()
                or Pipeline.objects.filter(deals__account=account).order_by("-deals__created_at").first()
                or Pipeline.objects.order_by("pk").first())
    if pipeline is None:
        raise ValidationFailed.for_field("pipeline", "there is no pipeline to create the deal in; run `dealgate init`")
    return pipeline


@transaction.atomic
def convert_signal(signal: Signal, *, by: Any, pipeline: Pipeline | None = None) -> Deal:
    """A deal in the first stage, owned by the account's owner (or the converter), with the evidence attached.

    `by=None` is the system (a "signal raised" rule): the deal goes to the account's owner."""
    locked = _checked(signal, by, system=by is None)
    account = locked.account
    if by is None and account.owner is None:
        raise ValidationFailed.for_field("owner", f"account {account.name!r} has no owner to give the deal to")
    owner = account.owner if account.owner is not None and role_of(by) != Role.REP else by
    deal = create_deal(
        by=by, title=f"{account.name}: {locked.get_kind_display()}"[:200], account=account,
        pipeline=pipeline or pipeline_for(account), owner=owner, amount=locked.revenue or None, source=Source.SIGNAL,
    )
    log_activity(by=by, kind="note", deal=deal, subject=f"From signal: {locked.title}"[:200],
                 notes=evidence_text(locked))
    before = locked.get_status_display()
    locked.status, locked.deal, locked.changed_by = SignalStatus.CONVERTED, deal, by
    locked.save(update_fields=["status", "deal", "changed_by"])
    record(locked, "converted", by=by, field="status", before=before, after=locked.get_status_display(),
           note=f"deal #{deal.pk}: {deal.title}")
    return deal


def evidence_text(signal: Signal) -> str:
    """The evidence as a rep reads it on the deal's timeline, the same sentence as the signal pages
    (dealgate.signals.wording), told as of the day the signal was raised (the note is not rewritten later)."""
    told = evidence_sentence(signal.kind, signal.evidence, currency=signal_currency(signal.kind, signal.evidence),
                             today=signal.as_of)
    lines = [f"{signal.get_kind_display()} (raised as of {signal.as_of.isoformat()})."]  # a sentence: the timeline runs lines on
    # evidence no sentence can be written from (an unknown kind, no known fact) is kept as its raw pairs
    lines += [told] if told else [f"{words}: {value}" for words, value in signal.evidence_items()]
    return "\n".join(lines)
