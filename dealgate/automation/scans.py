"""Periodic scans: the triggers no write announces (a deal going idle, a close date passing, a
task falling overdue). `dealgate worker` runs them every few minutes; `worker --batch` once.

Exactly once per occurrence, as for events: each occurrence has a key the RuleRun claim makes
unique. An idle deal's occurrence is its quiet spell (the later of entering its stage and its last
activity): a move or an activity starts a new spell, so the rule fires again only after the deal
went stale again. A close date's occurrence is the date; an overdue task's, the task and its due
date. Each scan asks only for deals without a run for their current occurrence, so a second scan
over unchanged deals finds nothing to do. `now` is a parameter: the clock is the caller's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat, Greatest
from django.utils import timezone

from dealgate.automation.engine import run_rule
from dealgate.automation.models import Rule, RuleRun, Task, Trigger
from dealgate.automation.rules import conditions_filter
from dealgate.deals.models import Deal
from dealgate.pipelines.models import Stage, StageKind

CHUNK = 500


def run_scans(now: dt.datetime | None = None) -> int:
    """Run every enabled scan rule over the deals that are due now; return how many rules acted."""
    now = now or timezone.now()
    acted = 0
    for rule in Rule.objects.filter(enabled=True, trigger__in=[Trigger.DEAL_IDLE, Trigger.CLOSE_DATE_PASSED,
                                                               Trigger.TASK_OVERDUE]).order_by("id"):
        for deal, occurrence in due_occurrences(rule, now):
            if run_rule(rule, deal, trigger=rule.trigger, occurrence=occurrence, now=now) is not None:
                acted += 1
    return acted


def due_occurrences(rule: Rule, now: dt.datetime) -> Iterator[tuple[Deal, str]]:
    """(deal, occurrence) pairs the rule has not acted on yet, a chunk at a time until none is left."""
    finders = {Trigger.DEAL_IDLE: _idle, Trigger.CLOSE_DATE_PASSED: _close_date_passed,
               Trigger.TASK_OVERDUE: _overdue_tasks}
    seen: set[tuple[int, str]] = set()
    while True:
        batch = [pair for pair in finders[rule.trigger](rule, now) if (pair[0].pk, pair[1]) not in seen]
        if not batch:
            return
        for deal, occurrence in batch:
            seen.add((deal.pk, occurrence))  # a claim lost to another worker is not looked at again
            yield deal, occurrence


def _candidates(rule: Rule) -> QuerySet:
    return Deal.objects.filter(closed_at__isnull=True).filter(conditions_filter(rule)).select_related(
        "owner", "stage", "pipeline", "team")


def _runs(rule: Rule, **match: Any) -> Exists:
    return Exists(RuleRun.objects.filter(rule=rule, deal_id=OuterRef("pk"), trigger=rule.trigger, **match))


def _idle(rule: Rule, now: dt.datetime) -> list[tuple[Deal, str]]:
    quiet = Greatest("stage_entered_at", Coalesce("last_activity_at", "stage_entered_at"))
    deals = _candidates(rule).annotate(quiet_since=quiet)
    if rule.idle_days:
        limit = Q(quiet_since__lt=now - dt.timedelta(days=rule.idle_days))
    else:  # each stage's own idle limit
        stages = Stage.objects.filter(kind=StageKind.OPEN, rot_days__isnull=False)
        if rule.pipeline_id:
            stages = stages.filter(pipeline_id=rule.pipeline_id)
        limit = Q(pk__in=[])
        for stage_id, days in stages.values_list("pk", "rot_days"):
            limit |= Q(stage_id=stage_id, quiet_since__lt=now - dt.timedelta(days=days))
    # A run since the quiet spell began means this spell was handled.
    deals = deals.filter(limit).exclude(_runs(rule, at__gte=OuterRef("quiet_since"))).order_by("id")[:CHUNK]
    return [(d, f"idle:{d.quiet_since.isoformat()}") for d in deals]


def _close_date_passed(rule: Rule, now: dt.datetime) -> list[tuple[Deal, str]]:
    today = timezone.localdate(now)
    key = Concat(Value("close:"), Cast("expected_close_date", CharField()))
    deals = (_candidates(rule).filter(expected_close_date__lt=today).annotate(occurrence=key)
             .exclude(_runs(rule, occurrence=OuterRef("occurrence"))).order_by("id")[:CHUNK])
    return [(d, f"close:{d.expected_close_date.isoformat()}") for d in deals]


def _overdue_tasks(rule: Rule, now: dt.datetime) -> list[tuple[Deal, str]]:
    today = timezone.localdate(now)
    key = Concat(Value("task:"), Cast("pk", CharField()), Value(":"), Cast("due", CharField()))
    tasks = list(
        Task.objects.filter(deal__in=_candidates(rule).values("pk"), done=False, due__lt=today).annotate(occurrence=key)
        .exclude(Exists(RuleRun.objects.filter(rule=rule, deal_id=OuterRef("deal_id"), trigger=rule.trigger,
                                               occurrence=OuterRef("occurrence"))))
        .order_by("id")[:CHUNK])
    deals = _candidates(rule).in_bulk([t.deal_id for t in tasks])
    return [(deals[t.deal_id], f"task:{t.pk}:{t.due.isoformat()}") for t in tasks]
