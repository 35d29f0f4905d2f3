"""The flags a rep and a manager see on a deal (domain.md section 4), computed in one place.

Board, deal page, CLI, API and automation all call `compute_flags`, so a badge, a JSON field and
an alert can never disagree. It works on a whole board in a constant number of queries: the
deals come in with `stage` and `pipeline` already joined, then it reads each distinct pipeline's
rules, the criteria facts of every open deal (`load_facts`, four queries: the deal rows are the
ones in hand) and the stage-duration percentiles (one query, cached). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from django.db.models import Q, QuerySet
from django.utils import timezone

from dealgate import words
from dealgate.deals.models import quiet_since
from dealgate.pipelines.criteria import DealFacts, Result, counted_activities, evaluate, load_facts
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import StageKind
from dealgate.pipelines.stats import StageDurations, cached_stage_duration_percentiles

STUCK_PERCENTILE = 0.9
MIN_STAYS_FOR_STUCK = 5  # fewer finished stays than this say nothing about what "too long" is
# "Historical" for the slow side of the time flag (formerly "stuck"): the stays that ended with the
# pipeline's latest 5,000 stage moves.
# Bounded so the threshold costs the same at any history size (tens of ms, not seconds at 500,000
# moves); still hundreds of stays per stage on a busy pipeline, and it follows how the team works now.
STUCK_WINDOW_MOVES = 5_000

CODES = (
    "stale", "waiting", "no_next_step", "next_step_overdue", "close_date_passed", "slipped",
    "missing_criteria", "single_threaded",
)
_SEVERITY_ORDER = {"alarm": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Flag:
    code: str
    label: str  # short badge text: "Quiet 12d", "3 of 5", "Slipped 3x"
    reason: str  # a sentence a rep can act on
    since: dt.date | None  # first day the condition held, so an alert fires once per episode
    severity: str  # "alarm" | "warning" | "info"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "label": self.label, "reason": self.reason,
            "since": self.since.isoformat() if self.since else None, "severity": self.severity,
        }


@dataclass(frozen=True)
class CriteriaProgress:
    """How many of the criteria of the deal's next move it meets (decision 029): the current stage's exit
    criteria plus the entry criteria of `next_stage` (the next open stage, or Won from the last one)."""

    met: int
    total: int
    results: list[Result]
    next_stage: str = ""  # the next stage's name; "" for a closed deal

    @property
    def label(self) -> str:
        """'2 of 6 for Proposal'."""
        return f"{self.met} of {self.total}" + (f" for {self.next_stage}" if self.next_stage else "")


# ---------------------------------------------------------------------------------------------
# Days


def short_date(day: dt.date, today: dt.date) -> str:
    """The one date format people read (dealgate.words.day): '27 Nov' this year, '27 Nov 2027' otherwise."""
    return words.day(day, today)


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays in (start, end]: how many working days have passed since `start`."""
    if end <= start:
        return 0
    weeks, extra = divmod((end - start).days, 7)
    count = weeks * 5
    for offset in range(1, extra + 1):
        if (start + dt.timedelta(days=offset)).weekday() < 5:
            count += 1
    return count


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date on which `business_days_between(start, date)` first reaches `days`."""
    weeks, rest = divmod(days, 5)
    day = start + dt.timedelta(weeks=weeks)
    if rest == 0 and weeks > 0:  # land on a weekday, not on the weekend after it
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
    while rest > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            rest -= 1
    return day


def _days(count: int, unit: str = "day") -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")


def _local_date(value: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(value) if value is not None else None


# ---------------------------------------------------------------------------------------------
# The flags


def _open(deal: Any) -> bool:
    return deal.closed_at is None and deal.stage.kind == StageKind.OPEN


def _has_next_step(deal: Any) -> bool:
    return bool((deal.next_step or "").strip()) and deal.next_step_due is not None


def _next_step_words(deal: Any, today: dt.date) -> str:
    if not (deal.next_step or "").strip():
        return "no next step"
    due = deal.next_step_due
    if due is None:
        return "next step has no due date"
    if due < today:
        return f"next step overdue since {short_date(due, today)}"
    if due == today:
        return "next step due today"
    return f"next step due {short_date(due, today)}"


@dataclass(frozen=True)
class _Quiet:
    """Idle past the stage's limit: days quiet, the limit, the unit, when it began, planned or not."""

    days: int
    limit: int
    unit: str  # "day" | "business day"
    short_unit: str  # "d" | "bd"
    since: dt.date
    planned: bool  # a next step is due today or later: waiting, not an alarm


@dataclass(frozen=True)
class _Slow:
    """In the stage longer than 9 in 10 past stays there lasted."""

    days: int
    usual: str  # the 90th percentile in whole days: "12 days", "1 day" or "under a day"
    stays: int
    since: dt.date


def _quiet(deal: Any, today: dt.date) -> _Quiet | None:
    limit = deal.stage.rot_days
    if limit is None:
        return None
    last_touch = max(filter(None, (_local_date(deal.stage_entered_at), _local_date(deal.last_activity_at))))
    if deal.pipeline.business_days:
        idle = business_days_between(last_touch, today)
        since = add_business_days(last_touch, limit + 1)
        unit, short_unit = "business day", "bd"
    else:
        idle = (today - last_touch).days
        since = last_touch + dt.timedelta(days=limit + 1)
        unit, short_unit = "day", "d"
    if idle <= limit:
        return None
    planned = _has_next_step(deal) and deal.next_step_due >= today
    return _Quiet(idle, limit, unit, short_unit, since, planned)


def _slow(deal: Any, today: dt.date, durations: StageDurations | None) -> _Slow | None:
    if durations is None or durations.stays < MIN_STAYS_FOR_STUCK:
        return None
    p90 = durations.days_at(STUCK_PERCENTILE)
    # Whole days, rounded half up (decision 040): slow once longer than the number the badge shows, so
    # "in Qualify 11 days, usual 11 days at most" never happens. Stays of hours: "under a day", slow from day 1.
    usual_days = math.floor(p90 + 0.5) if p90 >= 1 else 0
    entered = _local_date(deal.stage_entered_at)
    age = (today - entered).days
    if age <= usual_days:
        return None
    usual = _days(usual_days) if usual_days else "under a day"
    return _Slow(age, usual, durations.stays, entered + dt.timedelta(days=usual_days + 1))


def _time_flag(deal: Any, today: dt.date, durations: StageDurations | None) -> Flag | None:
    """One flag for "time has passed" (decision 034): quiet past the stage's limit, or in the stage
    longer than usual, or both, with the reason saying which.

    - quiet with no next step planned: "stale", alarm, "Quiet 23d";
    - in the stage longer than 9 in 10 past stays (planned or not): "stale", warning, "Slow, usual 12 days";
    - quiet but a next step is due today or later, and not slow: "waiting", info, "Waiting 23d".
    `since` is the first day of the episode: the earlier start of the parts that hold today.
    """
    quiet, slow = _quiet(deal, today), _slow(deal, today, durations)
    if quiet is None and slow is None:
        return None
    parts = []
    if quiet is not None:
        parts.append(f"quiet {_days(quiet.days, quiet.unit)} (limit {quiet.limit}), {_next_step_words(deal, today)}")
    if slow is not None:
        usual = slow.usual if slow.usual == "under a day" else f"{slow.usual} at most"
        parts.append(f"in {deal.stage.name} {_days(slow.days)}, usual {usual} "
                     f"(9 in 10 of the {slow.stays} past stays there)")
    if quiet is not None and not quiet.planned:
        starts = [quiet.since] + ([slow.since] if slow is not None else [])
        return Flag("stale", f"Quiet {quiet.days}{quiet.short_unit}", "; ".join(parts), min(starts), "alarm")
    if slow is not None:
        parts.reverse()  # the reason for the flag first, the planned next step after it
        return Flag("stale", f"Slow, usual {slow.usual}", "; ".join(parts), slow.since, "warning")
    return Flag("waiting", f"Waiting {quiet.days}{quiet.short_unit}", parts[0], quiet.since, "info")


def _next_step_flag(deal: Any, today: dt.date) -> Flag | None:
    if not (deal.next_step or "").strip():
        return Flag("no_next_step", "No next step", "no next step is set; add the next action and its due date",
                    None, "warning")
    due = deal.next_step_due
    if due is None:
        return Flag("no_next_step", "No due date", f"next step '{deal.next_step}' has no due date", None, "warning")
    if due < today:
        late = (today - due).days
        return Flag("next_step_overdue", f"Overdue {late}d",
                    f"next step '{deal.next_step}' was due {short_date(due, today)} ({_days(late)} ago)",
                    due + dt.timedelta(days=1), "warning")
    return None


def _close_date_flags(deal: Any, today: dt.date) -> list[Flag]:
    flags = []
    close = deal.expected_close_date
    if close is not None and close < today:
        late = (today - close).days
        flags.append(Flag("close_date_passed", "Close date passed",
                          f"expected close date {short_date(close, today)} passed {_days(late)} ago; "
                          "update it or close the deal", close + dt.timedelta(days=1), "warning"))
    slips = deal.close_date_slips
    if slips >= 1:
        times = "once" if slips == 1 else f"{slips} times"
        flags.append(Flag("slipped", f"Slipped {slips}x", f"expected close date pushed later {times}", None,
                          "info" if slips == 1 else "warning"))
    return flags


def _criteria_flag(progress: CriteriaProgress | None) -> Flag | None:
    if progress is None or progress.total == 0 or progress.met == progress.total:
        return None
    missing = "; ".join(r.missing if r.label in r.missing else f"{r.label}: {r.missing}"
                        for r in progress.results if not r.met)
    return Flag("missing_criteria", progress.label,
                f"{progress.label} met; missing: {missing}", None, "info")


def _single_threaded_flag(deal: Any, facts: DealFacts | None) -> Flag | None:
    start = deal.pipeline.single_threaded_from
    if start is None or deal.stage.position < start:
        return None
    contacts = facts.contact_count if facts else 0
    if contacts >= 2:
        return None
    who = "one contact" if contacts == 1 else "no contact"
    return Flag("single_threaded", "Single-threaded",
                f"{who} on the deal in {deal.stage.name}; link at least 2 people from the buyer's side", None,
                "warning")


# ---------------------------------------------------------------------------------------------
# Entry points


def _progress(deal: Any, next_move: tuple[Any, list], facts: DealFacts | None) -> CriteriaProgress:
    target, specs = next_move
    results = evaluate(specs, facts) if facts is not None and specs else []
    return CriteriaProgress(met=sum(r.met for r in results), total=len(specs), results=results,
                            next_stage=target.name if target is not None else "")


def _facts_and_progress(deals: Sequence[Any]) -> tuple[dict[int, DealFacts], dict[int, CriteriaProgress]]:
    """Two queries per distinct pipeline plus four for the facts, whatever the number of deals.

    The deals in hand are the facts' deal rows (`load_facts(deals=...)`), so they are not read twice;
    of the activities, only groups of those the deals' exit criteria count are read.
    """
    rules = {pid: PipelineRules.load(pid) for pid in sorted({d.pipeline_id for d in deals})}
    moves = {(pid, sid): rules[pid].next_move(rules[pid].stages[sid])
             for pid, sid in {(d.pipeline_id, d.stage_id) for d in deals}}
    specs = [spec for _, stage_specs in moves.values() for spec in stage_specs]
    facts = load_facts([d.pk for d in deals], deals=deals, group_activities=True,
                       activities=counted_activities(specs))
    return facts, {d.pk: _progress(d, moves[d.pipeline_id, d.stage_id], facts.get(d.pk)) for d in deals}


def criteria_progress(deals: Sequence[Any]) -> dict[int, CriteriaProgress]:
    """Progress of each deal towards its next move (closed deals: their stage's exit criteria, usually none)."""
    if not deals:
        return {}
    return _facts_and_progress(deals)[1]


def compute_flags(deals: Sequence[Any], *, today: dt.date | None = None) -> dict[int, list[Flag]]:
    """Every flag of every open deal, keyed by deal id (closed deals map to an empty list).

    `deals` must carry `stage` and `pipeline` (select_related), or this costs a query per deal.
    Flags come ordered alarm, warning, info.
    """
    open_deals = [d for d in deals if _open(d)]
    flags, _ = flags_and_progress(open_deals, today=today)
    return {d.pk: flags.get(d.pk, []) for d in deals}


def flags_and_progress(
    deals: Sequence[Any], *, today: dt.date | None = None
) -> tuple[dict[int, list[Flag]], dict[int, CriteriaProgress]]:
    """`compute_flags` and `criteria_progress` together, reading rules and facts once (deal page)."""
    today = today or timezone.localdate()
    if not deals:
        return {}, {}
    facts, progress = _facts_and_progress(deals)
    flags: dict[int, list[Flag]] = {d.pk: [] for d in deals}
    open_deals = [d for d in deals if _open(d)]
    if not open_deals:
        return flags, progress
    durations = cached_stage_duration_percentiles({d.pipeline_id for d in open_deals}, percentiles=(STUCK_PERCENTILE,),
                                                  latest_moves=STUCK_WINDOW_MOVES)
    for deal in open_deals:
        deal_facts = facts.get(deal.pk)
        candidates = [
            _time_flag(deal, today, durations.get(deal.stage_id)),
            _next_step_flag(deal, today),
            *_close_date_flags(deal, today),
            _criteria_flag(progress[deal.pk]),
            _single_threaded_flag(deal, deal_facts),
        ]
        found = [f for f in candidates if f is not None]
        found.sort(key=lambda f: (_SEVERITY_ORDER[f.severity], CODES.index(f.code)))
        flags[deal.pk] = found
    return flags, progress


# ---------------------------------------------------------------------------------------------
# The same date flags as a SQL filter, for "flagged only" lists over many deals


DATE_FLAG_CODES = ("stale", "waiting", "no_next_step", "next_step_overdue", "close_date_passed", "slipped")


def idle_cutoff(today: dt.date, rot_days: int, *, business_days: bool) -> dt.date:
    """The earliest last-touch date that is not yet idle past `rot_days` on `today`.

    Idle days only shrink as the last touch moves later, so "stale or waiting" is exactly
    "last touched before this date", which a database can filter on.
    """
    if not business_days:
        return today - dt.timedelta(days=rot_days)
    cutoff = today
    while business_days_between(cutoff - dt.timedelta(days=1), today) <= rot_days:
        cutoff -= dt.timedelta(days=1)
    return cutoff


def idle_past_limit(stages: Iterable[Any], *, business_days: bool, today: dt.date) -> Q:
    """Deals idle past their stage's limit on `today` (stale or waiting), for a queryset annotated with
    `flag_last_touch=quiet_since()` (dealgate.deals.models). Matches nothing when no stage has a limit."""
    condition = Q(pk__in=[])
    for stage in stages:
        if stage.rot_days is not None:
            cutoff = idle_cutoff(today, stage.rot_days, business_days=business_days)
            start_of_cutoff = timezone.make_aware(dt.datetime.combine(cutoff, dt.time.min))
            condition |= Q(stage_id=stage.pk, flag_last_touch__lt=start_of_cutoff)
    return condition


def with_date_flags(deals: QuerySet, stages: Iterable[Any], *, business_days: bool,
                    today: dt.date | None = None) -> QuerySet:
    """Narrow open deals to those `compute_flags` gives one of DATE_FLAG_CODES, in SQL.

    `stages` are the stages the deals may be in (their rot_days), `business_days` the pipeline's
    setting. The slow side of the "stale" flag (in the stage longer than usual), missing-criteria and
    single-threaded flags need history or criteria and are not part of this filter. Deals count as open when their stage is open (the move service sets
    `closed_at` exactly on entering Won or Lost); testing the stage id rather than `closed_at IS
    NULL` keeps SQLite on the board's (pipeline, stage, ...) index.
    """
    today = today or timezone.localdate()
    stages = list(stages)
    condition = (
        Q(next_step="") | Q(next_step_due__isnull=True) | Q(next_step_due__lt=today)
        | Q(expected_close_date__lt=today) | Q(close_date_slips__gte=1)
        | idle_past_limit(stages, business_days=business_days, today=today)
    )
    return (
        deals.filter(stage_id__in=[stage.pk for stage in stages if stage.kind == StageKind.OPEN])
        .annotate(flag_last_touch=quiet_since())
        .filter(condition)
    )
