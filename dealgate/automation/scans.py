"""Periodic scans: the triggers no write announces (a deal going idle, a close date passing, a
task falling overdue). `dealgate worker` runs them every few minutes; `worker --batch` once.

Exactly once per occurrence, as for events: each occurrence has a key the RuleRun claim makes
unique. An idle deal's occurrence is its quiet spell (the later of entering its stage and its last
activity): a move or an activity starts a new spell, so the rule fires again only after the deal
went stale again. A close date's occurrence is the date; an overdue task's, the task and its due
date. Each scan asks only for deals without a run for their current occurrence, so a second scan
over unchanged deals finds nothing to do. `now` is a parameter: the clock is the caller's.

Incremental: a rule remembers the clock of its last scan (`Rule.scanned_until`); the next scan asks
only for what crossed its threshold since (quiet since in [last - N days, now - N days), a close
date or task due date since the last scan's day), off partial indexes on open deals and open
tasks. A full scan (every open deal) runs when there is no mark: a new or edited rule, after an
import (its deals carry old dates), a clock that went back, and once a day (`FULL_SCAN_EVERY`) for
what a past-dated write (a backdated activity, a close date set in the past) placed behind the mark.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from dealgate.automation.engine import run_rule
from dealgate.automation.models import SCAN_TRIGGERS, Rule, RuleRun, Task, Trigger
from dealgate.automation.rules import conditions_filter
from dealgate.deals.models import Deal, quiet_since
from dealgate.pipelines.models import Stage, StageKind

CHUNK = 500
FULL_SCAN_EVERY = dt.timedelta(days=1)
# The window starts this much before the last scan's clock: two workers' clocks may differ a little.
OVERLAP = dt.timedelta(minutes=5)


def run_scans(now: dt.datetime | None = None) -> int:
    """Run every enabled scan rule over the deals that are due now; return how many rules acted."""
    now = now or timezone.now()
    acted = 0
    for rule in Rule.objects.filter(enabled=True, trigger__in=SCAN_TRIGGERS).order_by("id"):
        since = window_start(rule, now)
        for deal, occurrence in due_occurrences(rule, now, since):
            if run_rule(rule, deal, trigger=rule.trigger, occurrence=occurrence, now=now) is not None:
                acted += 1
        # Only forward: a slower worker finishing an older scan does not move the mark back.
        done = Rule.objects.filter(pk=rule.pk).filter(Q(scanned_until__isnull=True) | Q(scanned_until__lt=now))
        done.update(scanned_until=now, **({"swept_at": now} if since is None else {}))
    return acted


def window_start(rule: Rule, now: dt.datetime) -> dt.datetime | None:
    """Where this scan of the rule starts looking (None: a full scan of every open deal)."""
    if rule.scanned_until is None or rule.swept_at is None or rule.scanned_until > now:
        return None
    if rule.swept_at <= now - FULL_SCAN_EVERY:
        return None
    return rule.scanned_until - OVERLAP


def rescan_in_full() -> None:
    """The next scan of every rule looks at every open deal (e.g. after an import wrote deals with old dates)."""
    Rule.objects.filter(trigger__in=SCAN_TRIGGERS).update(scanned_until=None, swept_at=None)


def due_occurrences(rule: Rule, now: dt.datetime, since: dt.datetime | None = None) -> Iterator[tuple[Deal, str]]:
    """(deal, occurrence) pairs the rule has not acted on yet, a chunk at a time until none is left;
    with `since`, only those whose threshold was crossed after it."""
    finders = {Trigger.DEAL_IDLE: _idle, Trigger.CLOSE_DATE_PASSED: _close_date_passed,
               Trigger.TASK_OVERDUE: _overdue_tasks}
    seen: set[tuple[int, str]] = set()
    while True:
        batch = [pair for pair in finders[rule.trigger](rule, now, since) if (pair[0].pk, pair[1]) not in seen]
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


def _crossed(days: int, now: dt.datetime, since: dt.datetime | None) -> Q:
    """Quiet for more than `days` now (and, with `since`, not yet at `since`)."""
    crossed = Q(quiet_since__lt=now - dt.timedelta(days=days))
    return crossed & Q(quiet_since__gte=since - dt.timedelta(days=days)) if since is not None else crossed


def _idle(rule: Rule, now: dt.datetime, since: dt.datetime | None) -> list[tuple[Deal, str]]:
    # stage_entered_at is never empty: said to match the open deals' quiet-since index (dealgate.deals.models)
    deals = _candidates(rule).filter(stage_entered_at__isnull=False).annotate(quiet_since=quiet_since())
    if rule.idle_days:
        limit = _crossed(rule.idle_days, now, since)
    else:  # each stage's own idle limit: the stages with the same limit together
        stages = Stage.objects.filter(kind=StageKind.OPEN, rot_days__isnull=False)
        if rule.pipeline_id:
            stages = stages.filter(pipeline_id=rule.pipeline_id)
        by_days: dict[int, list[int]] = {}
        for stage_id, days in stages.values_list("pk", "rot_days"):
            by_days.setdefault(days, []).append(stage_id)
        if not by_days:
            return []
        limit = Q(pk__in=[])
        for days, stage_ids in sorted(by_days.items()):
            limit |= Q(stage_id__in=stage_ids) & _crossed(days, now, since)
        # One range over every stage's window as well, which the open deals' index answers.
        limit &= Q(quiet_since__lt=now - dt.timedelta(days=min(by_days)))
        if since is not None:
            limit &= Q(quiet_since__gte=since - dt.timedelta(days=max(by_days)))
    # A run since the quiet spell began means this spell was handled.
    deals = (deals.filter(limit).exclude(_runs(rule, at__gte=OuterRef("quiet_since")))
             .order_by("quiet_since", "id")[:CHUNK])
    return [(d, f"idle:{d.quiet_since.isoformat()}") for d in deals]


def _passed_since(field: str, since: dt.datetime | None) -> Q:
    """The date in `field` passed after the day before `since` (a day's overlap: dates have no time)."""
    return Q() if since is None else Q(**{f"{field}__gte": timezone.localdate(since) - dt.timedelta(days=1)})


def _close_date_passed(rule: Rule, now: dt.datetime, since: dt.datetime | None) -> list[tuple[Deal, str]]:
    today = timezone.localdate(now)
    key = Concat(Value("close:"), Cast("expected_close_date", CharField()))
    deals = (_candidates(rule).filter(expected_close_date__lt=today)
             .filter(_passed_since("expected_close_date", since)).annotate(occurrence=key)
             .exclude(_runs(rule, occurrence=OuterRef("occurrence"))).order_by("expected_close_date", "id")[:CHUNK])
    return [(d, f"close:{d.expected_close_date.isoformat()}") for d in deals]


def _overdue_tasks(rule: Rule, now: dt.datetime, since: dt.datetime | None) -> list[tuple[Deal, str]]:
    today = timezone.localdate(now)
    key = Concat(Value("task:"), Cast("pk", CharField()), Value(":"), Cast("due", CharField()))
    tasks = list(
        Task.objects.filter(done=False, due__lt=today).filter(_passed_since("due", since))
        .filter(deal__in=_candidates(rule).values("pk")).annotate(occurrence=key)
        .exclude(Exists(RuleRun.objects.filter(rule=rule, deal_id=OuterRef("deal_id"), trigger=rule.trigger,
                                               occurrence=OuterRef("occurrence"))))
        .order_by("due", "id")[:CHUNK])
    deals = _candidates(rule).in_bulk([t.deal_id for t in tasks])
    return [(deals[t.deal_id], f"task:{t.pk}:{t.due.isoformat()}") for t in tasks]


# ---------------------------------------------------------------------------------------------
# The weekly review digest


def send_weekly_reviews(now: dt.datetime | None = None) -> int:
    """Send each manager and admin the review of the last full ISO week (dealgate.analytics.review),
    once: on the first scan of a new week, and later that week for whoever has not had it yet (a
    manager named on Wednesday). Returns how many were sent.

    The claim is a ReviewDigest row per user and week, committed with the notification; a second
    scan or worker that loses the race for it sends nothing. Its email (the "review" kind, when the
    user chose it) goes after the commit, so it too is sent once."""
    from django.contrib.auth import get_user_model
    from django.db import IntegrityError, transaction

    from dealgate.analytics.review import week_containing
    from dealgate.automation.models import ReviewDigest
    from dealgate.people.models import Role

    now = now or timezone.now()
    week = week_containing(now).shifted(-1)
    users = (get_user_model().objects.filter(is_active=True)
             .filter(Q(is_superuser=True) | Q(profile__role__in=[Role.MANAGER, Role.ADMIN]))
             .exclude(Exists(ReviewDigest.objects.filter(user_id=OuterRef("pk"), week=week.label)))
             .select_related("profile").order_by("id"))
    sent = 0
    for user in users:
        try:
            with transaction.atomic():
                ReviewDigest.objects.create(user=user, week=week.label, sent_at=now)
                _send_review(user, week)
        except IntegrityError:  # another scan claimed this user's week first
            continue
        sent += 1
    return sent


def _send_review(user: Any, week: Any) -> None:
    from django.urls import reverse

    from dealgate.analytics.review import currency_words, pipeline_review, review_scope
    from dealgate.automation.models import NotificationKind
    from dealgate.automation.services import notify

    scope, whose = review_scope(user)
    before = week.shifted(-1)
    total = pipeline_review(scope, week.start, week.end, previous=(before.start, week.start))["total"]
    money_words = currency_words(scope)
    body = (f"{week.title}, {whose}: {total['created']} new, {total['forward']} advanced, "
            f"{total['won']} won ({total['won_amount']:,.0f} {scope.currency}), {total['lost']} lost, "
            f"{total['close_date_slipped']} close dates pushed, {total['went_stale']} went stale "
            f"(the week before: {total['previous']['won']} won, {total['previous']['went_stale']} went stale). "
            f"{money_words[0].upper()}{money_words[1:]}.")
    notify(user, kind=NotificationKind.REVIEW, title=f"Pipeline review for week {week.number}", body=body,
           link=f"{reverse('analytics:review')}?week={week.label}")
