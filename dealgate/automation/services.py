"""Every write to tasks, notifications and rules.

Views, API, CLI and the rule engine call these and nothing else that writes. `by=None` means the
system itself (the rule engine). Side effects outside the database (email) wait for the commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dealgate.audit.services import record, record_changes
from dealgate.automation.models import Notification, NotificationKind, NotificationSettings, Rule, Task
from dealgate.deals.models import Account, Deal
from dealgate.deals.services import parse_date
from dealgate.errors import NotAllowed, NotFound, ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.access import can_edit_deal, can_view_deal, role_of, team_id_of, visible_deals
from dealgate.people.models import Role

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Tasks


def visible_tasks(user: Any, queryset: QuerySet | None = None) -> QuerySet:
    """Tasks on deals the user can see, plus account tasks of theirs (a manager: of their team)."""
    qs = queryset if queryset is not None else Task.objects.all()
    if not user or not user.is_authenticated:
        return qs.none()
    role = role_of(user)
    if role == Role.ADMIN:
        return qs
    mine = Q(deal__isnull=True, assignee_id=user.pk)
    team = team_id_of(user)
    if role == Role.MANAGER and team is not None:
        mine |= Q(deal__isnull=True, assignee__profile__team_id=team)
    return qs.filter(Q(deal__in=visible_deals(user).values("id")) | mine)


def _title(value: Any) -> str:
    title = str(value or "").strip()
    if not title:
        raise ValidationFailed.for_field("title", "is required")
    if len(title) > 200:
        raise ValidationFailed.for_field("title", "is longer than 200 characters")
    return title


def create_task(*, by: Any, title: Any, due: Any, deal: Deal | None = None, account: Account | None = None,
                assignee: Any = None, source_rule: Rule | None = None) -> Task:
    """A task on a deal (whoever may change the deal) or an account; assigned to `by` unless named.

    The assignee must be able to see the deal, or they could not act on it.
    """
    if deal is None and account is None:
        raise ValidationFailed.for_field("deal", "a task belongs to a deal or an account")
    due_date = parse_date(due, "due")
    if due_date is None:
        raise ValidationFailed.for_field("due", "a task needs a due date")
    title = _title(title)
    if deal is not None and by is not None and not can_edit_deal(by, deal):
        raise NotAllowed(f"{by} may not add tasks to deal {deal.pk} ({deal.title}).", details={"deal": deal.pk})
    assignee = assignee or by or (deal.owner if deal is not None else None)
    if assignee is None:
        raise ValidationFailed.for_field("assignee", "a task needs an assignee")
    if deal is not None and not can_view_deal(assignee, deal):
        raise ValidationFailed.for_field("assignee", f"{assignee} cannot see deal {deal.pk}")
    if by is not None and role_of(by) == Role.REP and assignee.pk != by.pk and (deal is None or deal.owner_id != assignee.pk):
        raise NotAllowed("A sales rep can assign tasks only to themselves or the deal's owner.")
    with transaction.atomic():
        task = Task.objects.create(
            title=title, deal=deal, account=account if deal is None else deal.account, assignee=assignee,
            due=due_date, created_at=timezone.now(), created_by=by, source_rule=source_rule,
        )
        if by is None or assignee.pk != by.pk:
            notify(assignee, kind=NotificationKind.TASK, title=f"New task: {title} (due {due_date:%b %-d})",
                   deal=deal)
    return task


def _may_change_task(by: Any, task: Task) -> bool:
    if by is None or task.assignee_id == by.pk or role_of(by) == Role.ADMIN:
        return True
    return task.deal is not None and can_edit_deal(by, task.deal)


def _set_done(task: Task, *, by: Any, done: bool) -> Task:
    with transaction.atomic():
        locked = Task.objects.select_for_update().filter(pk=task.pk).first()
        if locked is None:
            raise NotFound(f"No task {task.pk}.", details={"task": task.pk})
        if not _may_change_task(by, locked):
            raise NotAllowed(f"{by} may not change task {task.pk}.", details={"task": task.pk})
        if locked.done != done:
            locked.done, locked.done_at = done, timezone.now() if done else None
            locked.save(update_fields=["done", "done_at"])
    task.done, task.done_at = locked.done, locked.done_at
    return task


def complete_task(task: Task, *, by: Any) -> Task:
    """Tick a task off (the assignee, whoever may change its deal, or an admin); ticking twice is harmless."""
    return _set_done(task, by=by, done=True)


def reopen_task(task: Task, *, by: Any) -> Task:
    return _set_done(task, by=by, done=False)


def update_task(task: Task, *, by: Any, title: Any = None, due: Any = None) -> Task:
    """Rename or reschedule a task."""
    values: dict[str, Any] = {}
    if title is not None:
        values["title"] = _title(title)
    if due is not None:
        values["due"] = parse_date(due, "due")
        if values["due"] is None:
            raise ValidationFailed.for_field("due", "a task needs a due date")
    with transaction.atomic():
        locked = Task.objects.select_for_update().filter(pk=task.pk).first()
        if locked is None:
            raise NotFound(f"No task {task.pk}.", details={"task": task.pk})
        if not _may_change_task(by, locked):
            raise NotAllowed(f"{by} may not change task {task.pk}.", details={"task": task.pk})
        for name, value in values.items():
            setattr(locked, name, value)
            setattr(task, name, value)
        if values:
            locked.save(update_fields=list(values))
    return task


def add_business_days(start: dt.date, days: int) -> dt.date:
    """`days` working days after `start` (Saturday and Sunday do not count)."""
    day, left = start, days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


# ---------------------------------------------------------------------------------------------
# Notifications


def email_kinds_of(user: Any) -> list[str]:
    found = NotificationSettings.objects.filter(user=user).values_list("email_kinds", flat=True).first()
    return list(found or [])


def notify(user: Any, *, kind: str, title: str, body: str = "", deal: Deal | None = None,
           link: str = "") -> Notification:
    """An in-app notification; also an email after commit when the user chose this kind by email.

    `link`: a path on this site the notification opens (when it is not about one deal)."""
    if kind not in NotificationKind.values:
        raise ValidationFailed.for_field("kind", f"{kind!r} is not one of {', '.join(NotificationKind.values)}")
    wants_email = bool(user.email) and kind in email_kinds_of(user)
    if link and not (link.startswith("/") and not link.startswith("//")):
        raise ValidationFailed.for_field("link", "must be a path on this site, starting with /")
    if len(link) > 200:
        raise ValidationFailed.for_field("link", "is longer than 200 characters")
    note = Notification.objects.create(user=user, kind=kind, title=title[:300], body=body, deal=deal, link=link,
                                       created_at=timezone.now(), emailed=wants_email)
    if wants_email:
        transaction.on_commit(lambda: _send_email(user.email, title, body, deal, link))
    return note


DEVELOPMENT_BASE_URL = "http://127.0.0.1:8000"  # where `python3 run.py` serves


def site_url(path: str) -> str:
    """The absolute address of a path on this site, for links that leave it (emails): DEALGATE_BASE_URL,
    else the development server's address; "" in production without DEALGATE_BASE_URL (`dealgate check`
    warns), so an email names what it is about instead of carrying a link that leads nowhere."""
    base = settings.DEALGATE_BASE_URL or ("" if settings.PRODUCTION else DEVELOPMENT_BASE_URL)
    return f"{base}{path}" if base else ""


def _send_email(address: str, title: str, body: str, deal: Deal | None, link: str = "") -> None:
    where = ""
    if deal is not None:
        url = site_url(f"/deals/{deal.pk}/")
        where += f"\n\nDeal: {deal.title}" + (f"\n{url}" if url else "")
    if link and site_url(link):
        where += f"\n\nOpen: {site_url(link)}"
    try:
        send_mail(f"[Dealgate] {title}", f"{body}{where}".strip() or title, settings.DEFAULT_FROM_EMAIL, [address])
    except OSError:  # the in-app notification stands; a mail server outage must not fail the write
        logger.exception("Could not email %s", address)


def _own_notification(notification: Notification, by: Any) -> None:
    if by is None or notification.user_id != by.pk:
        raise NotFound(f"No notification {notification.pk}.")


def mark_read(notification: Notification, *, by: Any) -> Notification:
    _own_notification(notification, by)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def mark_all_read(*, by: Any) -> int:
    return Notification.objects.filter(user=by, read_at__isnull=True).update(read_at=timezone.now())


def set_email_kinds(*, by: Any, kinds: list[str]) -> list[str]:
    """Choose which kinds of notification also arrive by email (for oneself)."""
    unknown = sorted(set(kinds) - set(NotificationKind.values))
    if unknown:
        raise ValidationFailed.for_field("email_kinds", f"unknown kind(s): {', '.join(unknown)}")
    chosen = [k for k in NotificationKind.values if k in kinds]
    NotificationSettings.objects.update_or_create(user=by, defaults={"email_kinds": chosen})
    return chosen


# ---------------------------------------------------------------------------------------------
# Rules (admins only; `by=None` is the system, e.g. a pipeline template shipping its rules)


def _require_admin(by: Any) -> None:
    if by is not None and role_of(by) != Role.ADMIN:
        raise NotAllowed("Only an administrator may change automation rules.")


def _rule_name(value: Any) -> str:
    name = storable_text(value, "name").strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if len(name) > 200:
        raise ValidationFailed.for_field("name", "is longer than 200 characters")
    return name


RULE_PARTS = ("name", "trigger", "trigger_stage", "pipeline", "conditions", "actions", "enabled", "idle_days")


def _rule_as_logged(rule: Rule) -> dict[str, Any]:
    """The parts of a rule as the audit log shows them (conditions and actions as JSON, webhook secrets masked)."""
    from dealgate.automation.webhooks import public_actions

    shown = {"conditions": rule.conditions, "actions": public_actions(rule.actions)}
    return {name: json.dumps(shown[name], sort_keys=True) if name in shown else getattr(rule, name)
            for name in RULE_PARTS}


@transaction.atomic
def create_rule(*, by: Any, name: Any, trigger: str, actions: Any, conditions: Any = None, trigger_stage: str = "",
                pipeline: Any = None, enabled: bool = True, idle_days: int | None = None) -> Rule:
    """A new rule, refused with a message when it names a stage, field, user or team that does not exist."""
    from dealgate.automation.rules import check_rule, describe

    _require_admin(by)
    name = _rule_name(name)
    stored_conditions, stored_actions = check_rule(trigger=trigger, trigger_stage=trigger_stage or "",
                                                   pipeline=pipeline, conditions=conditions, actions=actions,
                                                   idle_days=idle_days)
    rule = Rule.objects.create(name=name, trigger=trigger, trigger_stage=trigger_stage or "", pipeline=pipeline,
                               conditions=stored_conditions, actions=stored_actions, enabled=bool(enabled),
                               idle_days=idle_days)
    record(rule, "created", by=by, field="rule", after=describe(rule))
    return rule


@transaction.atomic
def update_rule(rule: Rule, *, by: Any, **changes: Any) -> Rule:
    """Change any of a rule's parts; the whole rule is checked again."""
    from dealgate.automation.rules import check_rule, named_stages
    from dealgate.automation.webhooks import keep_secrets

    _require_admin(by)
    unknown = sorted(set(changes) - set(RULE_PARTS))
    if unknown:
        raise ValidationFailed(f"A rule has no field(s) {', '.join(unknown)}.",
                               details={name: ["is not a rule field"] for name in unknown})
    merged = {name: changes.get(name, getattr(rule, name)) for name in RULE_PARTS}
    merged["actions"] = keep_secrets(merged["actions"], rule.actions)  # a webhook's secret is never sent back
    merged["name"] = _rule_name(merged["name"])
    merged["conditions"], merged["actions"] = check_rule(
        trigger=merged["trigger"], trigger_stage=merged["trigger_stage"] or "", pipeline=merged["pipeline"],
        conditions=merged["conditions"], actions=merged["actions"], idle_days=merged["idle_days"],
        keep=named_stages(rule.trigger_stage, rule.conditions, rule.actions))
    locked = Rule.objects.select_for_update().filter(pk=rule.pk).first()
    if locked is None:
        raise NotFound(f"No rule {rule.pk}.", details={"rule": rule.pk})
    before = _rule_as_logged(locked)
    for name, value in merged.items():
        setattr(rule, name, value)
    rule.enabled = bool(rule.enabled)
    rule.scanned_until = rule.swept_at = None  # its next scan looks at every open deal again
    rule.save()
    after = _rule_as_logged(rule)
    record_changes(rule, [(name, before[name], after[name]) for name in RULE_PARTS], by=by)
    return rule


@transaction.atomic
def set_rule_enabled(rule: Rule, *, by: Any, enabled: bool) -> Rule:
    _require_admin(by)
    was = Rule.objects.filter(pk=rule.pk).values_list("enabled", flat=True).first()
    rule.enabled = bool(enabled)
    Rule.objects.filter(pk=rule.pk).update(enabled=rule.enabled, updated_at=timezone.now(), scanned_until=None,
                                           swept_at=None)  # switched back on: a full scan first
    record_changes(rule, [("enabled", was, rule.enabled)], by=by)
    return rule


@transaction.atomic
def delete_rule(rule: Rule, *, by: Any) -> None:
    """Remove a rule; its run log goes with it, the tasks it made stay (they no longer name it)."""
    from dealgate.automation.rules import describe

    _require_admin(by)
    record(rule, "deleted", by=by, field="rule", before=describe(rule))
    rule.delete()
